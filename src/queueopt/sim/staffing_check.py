"""Checking a staffing plan in simulation: the plan's one group rostered hour by hour at the planned headcount, and
again at one fewer, each hour judged on the items that arrive in it with a 95% interval over replications.

Erlang C and A assume what production does not give (exponential handling, a stationary hour, no breaks); the check
runs the real engine on the scenario's own arrivals and handling times, so a plan shown met is met by the model the
simulator trusts, and one moderator fewer is advised only where its interval says so (`IntervalCheck`), held to a
stricter standard than the plan (`PlanCheck.one_fewer_hours`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from queueopt.errors import InvalidInput
from queueopt.sim.experiment import Experiment, run_experiment
from queueopt.sim.kpis import item_sla_s, sla_outcomes
from queueopt.sim.scenario import HOURS, Breaks, Scenario, Shift
from queueopt.sim.simulator import RunRecord
from queueopt.sim.stats import Estimate

LEVEL = 0.95
CUT_MIN_REPLICATIONS = 10
"""Replications below which `PlanCheck.one_fewer_hours` advises no cut."""
_GOLDEN_STEP = (5.0**0.5 - 1.0) / 2.0
"""The golden ratio's fractional part: the step whose multiples spread most evenly over a cycle, for any count."""


@dataclass(frozen=True, slots=True)
class IntervalCheck:
    """One queue in one hour of day of a simulated plan: the share of the items arriving in that hour decided within
    the SLA, an abandoned item counting as a miss (what the plan sized for), mean and 95% interval over the
    replications, at the planned headcount and at one fewer.

    Judged on the interval, not the mean: `met` when its lower bound is at or above the target, `missed` when its
    upper bound is below it, neither ("unsure") when it straddles the target. A planner rosters people on this
    answer, and an hour's share varies widely between replications near saturation (the reviewer's peak hour at 6
    moderators: 0.632, 95% interval [0.23, 1] over 4 replications), so a mean over the target from a few of them
    shows little; the lower bound is a share the plan reaches with 97.5% confidence (one-sided). The same bound
    decides whether one fewer would do, the claim that would cut a moderator, on an interval that is simultaneous
    over every queue-hour run at one fewer (`check`). An unsure hour is not met: more replications narrow its
    interval until it is met or missed."""

    queue: str
    hour: int
    servers: int
    target: float
    at_plan: Estimate
    one_fewer: Estimate | None
    """`None` when the hour's plan is one moderator (at none nothing is decided, so there is no run to show it);
    else an interval at `PlanCheck.one_fewer_level`."""

    def met(self) -> bool:
        return self.at_plan.low >= self.target

    def missed(self) -> bool:
        return self.at_plan.high < self.target

    def met_one_fewer(self) -> bool:
        return self.one_fewer is not None and self.one_fewer.low >= self.target


@dataclass(frozen=True, slots=True)
class PlanCheck:
    """The plan simulated hour by hour (`check`): each queue-hour with items, and the hours planned for whose items
    all arrived in the warm-up, which no replication could judge."""

    staffing: list[int]
    """Moderators rostered in each hour of day, as simulated."""
    intervals: list[IntervalCheck]
    unmeasured: list[int]
    replications: int
    one_fewer_level: float = LEVEL
    """The confidence level of each interval at one fewer: 95% shared among the queue-hours run at one fewer."""

    def met(self) -> bool:
        """Every queue-hour met its target with 95% confidence and none went unjudged: only then is the plan (or the
        pool's saving) shown."""
        return bool(self.intervals) and not self.unmeasured and all(interval.met() for interval in self.intervals)

    def missed(self) -> list[IntervalCheck]:
        """Queue-hours whose whole interval lies below the target: the plan fails there."""
        return [interval for interval in self.intervals if interval.missed()]

    def unsure(self) -> list[IntervalCheck]:
        """Queue-hours whose interval straddles the target: more replications would tell."""
        return [interval for interval in self.intervals if not interval.met() and not interval.missed()]

    def one_fewer_hours(self) -> list[int]:
        """Hours where one moderator fewer met every queue's target too: the plan may be one too many there.

        The claim cuts a moderator where the sizing says one fewer misses, in as many hours as it finds, so it is
        held to more than the plan's check (found by a probe: 3 replications advised a cut at 4 of 24 hours, where
        Erlang C and 10 replications said those headcounts miss). Each interval at one fewer is simultaneous: the
        95% is shared among the queue-hours (Bonferroni), so all the hours named meet their targets at once with
        that confidence; with 95% each, 24 hours just short of their targets would be named in 0.6 of them per
        check on average. And no cut is judged from fewer than `CUT_MIN_REPLICATIONS`: an hour's share is skewed
        (one hour at one fewer read 0.88, 0.89 and 0.88 in the probe's first 3 replications and fell to 0.26 in the
        next 7), and a t interval over a few of them can sit above the share the hour averages."""
        if self.replications < CUT_MIN_REPLICATIONS:
            return []
        hours = sorted({interval.hour for interval in self.intervals})
        return [
            hour
            for hour in hours
            if all(interval.met_one_fewer() for interval in self.intervals if interval.hour == hour)
        ]


def ensure_checkable(scenario: Scenario) -> None:
    """The check resizes one group against one queue's SLA, or against one pool's: queues sharing one SLA; a whole
    roster is what `simulate` is for."""
    slas = {(queue.sla_s, queue.sla_target) for queue in scenario.ops.queues}
    if len(scenario.roster) != 1 or len(slas) != 1:
        raise InvalidInput(
            "a simulation check needs one roster group and one queue, or queues sharing one SLA (a pool); use "
            "simulate for a whole roster",
            field="roster",
        )


def check(scenario: Scenario, staffing: Sequence[int], replications: int | None = None, workers: int = 1) -> PlanCheck:
    """Simulate a one-group scenario rostered at `staffing[h]` moderators in each hour of day `h`, and at one fewer
    wherever that leaves someone, and judge each hour on the items that arrive in it (`PlanCheck`).

    `staffing` comes from `StaffingPlan.check_staffing`: the pool's plan, which for one queue is its dedicated plan;
    with several queues the one group takes all of them (FCFS under `fifo`), which is the pool the plan sized, so the
    check confirms or refutes the pooled saving. The group keeps its skills, speed and breaks (the plan grosses up
    for them) but not its shifts or headcount: those are what the plan decides (`rostered_at`).

    Why each hour within the day's run and not the day's average: one headcount for the whole day, judged on every
    item of it, let quiet hours, overstaffed at the peak's size, hide a peak hour that fails (40 items an hour all day
    and 400 at 12h, 60 s handling, 180 s at 80%: 6 moderators decided 0.862 of the day's items within the SLA and
    0.649 of the peak hour's). Why within the day's run and not a stationary run at each hour's rate: an hour starts
    with what the hour before left waiting, under the headcount the plan gave it, as it will in production; the
    scenario's `warmup_s` keeps the empty start of the run out of the measure.
    """
    ensure_checkable(scenario)
    if not any(staffing):
        raise InvalidInput("a check needs at least one moderator in some hour", field="servers")
    targets = {queue.name: queue.sla_target for queue in scenario.ops.queues}
    at_plan = _hourly_experiment(rostered_at(scenario, staffing), replications, workers).estimates(LEVEL)
    fewer = [servers - 1 if servers > 1 else servers for servers in staffing]
    one_fewer: dict[str, Estimate] = {}
    level = LEVEL
    if fewer != list(staffing):
        at_fewer = _hourly_experiment(rostered_at(scenario, fewer), replications, workers)
        cut = {_hour_key(name, hour) for hour, servers in enumerate(staffing) if servers > 1 for name in targets}
        level = 1.0 - (1.0 - LEVEL) / max(1, len(cut.intersection(at_fewer.estimates())))
        one_fewer = at_fewer.estimates(level)
    intervals = [
        IntervalCheck(name, hour, servers, target, at_plan[key], one_fewer.get(key) if servers > 1 else None)
        for hour, servers in enumerate(staffing)
        for name, target in targets.items()
        if (key := _hour_key(name, hour)) in at_plan
    ]
    judged = {interval.hour for interval in intervals}
    unmeasured = [hour for hour, servers in enumerate(staffing) if servers and hour not in judged]
    return PlanCheck(list(staffing), intervals, unmeasured, replications or scenario.replications, level)


def rostered_at(scenario: Scenario, staffing: Sequence[int]) -> Scenario:
    """The scenario with its one group rostered at `staffing[h]` moderators in hour of day `h`: one layer of one
    moderator for each of the plan's headcount, the `n`th on shift in the hours that need `n`, so the plan's 2 at
    night and 8 at noon are 2 moderators on all day and 6 more at noon. Resizing the group and keeping its shifts
    checked a 9-17 group's plan with nobody on duty at night and the peak's headcount all day.

    Each layer's breaks keep the group's cycle but not its phase (`_break_phase`). Layers of several moderators with
    the group's phase sent every layer's first moderator on break `every_s` after its start, so the layers a steep
    morning ramp starts in one hour left at once: a plan rising to 15 had 5 away at 11h, against the 2.5 of 15 its
    breaks take on average, which is what the plan grossed up for (now 4). A moderator's break cycle restarts with
    each of their shifts; it is set on the clock for the longest, where most of their breaks fall."""
    group = scenario.roster[0]
    layers = []
    for layer in range(max(staffing, default=0)):
        spans = _spans([hour for hour, servers in enumerate(staffing) if servers > layer])
        shifts = [Shift(start_h=float(start), end_h=float(end)) for start, end in spans]
        update: dict[str, object] = {"name": f"{group.name}_{layer + 1}", "count": 1, "shifts": shifts}
        if group.breaks is not None:
            longest = max(spans, key=lambda span: span[1] - span[0])
            phase = _break_phase(group.breaks, longest[0] * 3600.0, layer)
            update["breaks"] = group.breaks.model_copy(update={"phase": phase})
        layers.append(group.model_copy(update=update))
    return scenario.model_copy(update={"roster": layers})


def _break_phase(breaks: Breaks, start_s: float, layer: int) -> float:
    """The phase that puts the first break of the `layer`th moderator (from 0), starting at `start_s`, `layer`
    golden-ratio steps into the cycle on the clock. The moderators on duty in an hour are always the first ones, and
    the first `n` golden-ratio steps split the cycle into gaps of at most three lengths (the three-gap theorem), so
    their breaks are spread over it whenever each starts. A moderator's first break begins at
    `start_s + every_s * (1 - phase) - length_s` (`roster._timeline`)."""
    offset = layer * _GOLDEN_STEP % 1.0
    return ((start_s - breaks.length_s) / breaks.every_s - offset) % 1.0 % 1.0  # the second % turns a rounded 1.0 to 0


def _spans(hours: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive hours as `[start, end)` spans (the roster joins one ending at 24 to one starting at 0)."""
    spans: list[tuple[int, int]] = []
    for hour in hours:
        if spans and spans[-1][1] == hour:
            spans[-1] = (spans[-1][0], hour + 1)
        else:
            spans.append((hour, hour + 1))
    return spans


def _hour_key(queue: str, hour: int) -> str:
    return f"queue.{queue}.{hour:02d}h.decided_within_sla_share"


def decided_within_sla_by_hour(run: RunRecord) -> dict[str, float]:
    """Per queue and hour of day, the share of the items arriving then (after the warm-up) decided within the
    queue's SLA, an abandoned item counting as a miss, as `kpis`' `decided_within_sla_share` counts it; only the
    hours that had such items."""
    hit, late, abandoned = sla_outcomes(run, item_sla_s(run))
    hour = (run.arrivals.at_s % 86400.0 // 3600.0).astype(np.int64)
    counted = run.arrivals.at_s >= run.scenario.warmup_s
    shares = {}
    for index, queue in enumerate(run.scenario.ops.queues):
        mine = counted & (run.queue == index)
        hits = np.bincount(hour[mine & hit], minlength=HOURS)
        judged = np.bincount(hour[mine & (hit | late | abandoned)], minlength=HOURS)
        for busy in np.flatnonzero(judged).tolist():
            shares[_hour_key(queue.name, busy)] = float(hits[busy] / judged[busy])
    return shares


def _hourly_experiment(scenario: Scenario, replications: int | None, workers: int) -> Experiment:
    """Each queue-hour's share decided within the SLA in each replication."""
    return run_experiment(scenario, None, replications, None, workers, decided_within_sla_by_hour)
