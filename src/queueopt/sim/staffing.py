"""Staffing: how many moderators each queue needs in each hour of day to meet its SLA, and what pooling saves.

Demand per queue and hour comes from the scenario itself: a thinned sample of its arrivals (about `SAMPLE_ITEMS`
items, the rates scaled down and the counts scaled back up) routed by the ops config's own router, so auto-actions,
duplicates and routing rules shrink and split demand exactly as in production; an item's handling time is that of
the roster groups that may take it (`takers.GroupTakers`), and items no group may take are counted apart
(`StaffingPlan.untaken`) rather than sized with someone else's speed. Each (queue, hour) is then an M/M/c
queue (Erlang C), or M/M/c+M (Erlang A) where its items can abandon, sized by `theory.servers_for_decision_sla` for
the queue's `sla_s` and `sla_target`. The SLA is on the time to decision (wait plus handling), as the engine's SLA
window and the simulator's `sla_attainment` count it, not on the wait alone: a plan on the wait alone looks met on
paper and misses in simulation. An item that abandons counts as a miss (the simulator's `decided_within_sla_share`),
or a plan could meet its target by letting items expire. Handling time bounds what any headcount can do, so a target
at or above `P(handling <= sla_s)` is reported unreachable (`servers is None`) instead of being sized.

Pooling: queues with the same SLA could share one pool of moderators skilled for all of them, sized as FCFS M/G/c so
that every queue meets the target (the mixture of handling times waits longer than one exponential, and a slow
queue's time to decision adds its own handling); the pool is never more than the sum of dedicated teams, often less
(the square-root staffing economy of scale). `check` runs the simulator on a one-group scenario (one queue, or one
pool) at the planned size and one below it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from queueopt.domain import Action
from queueopt.enqueue import Router
from queueopt.errors import InvalidInput
from queueopt.sim.arrivals import sample_arrivals
from queueopt.sim.experiment import run_experiment
from queueopt.sim.scenario import HOURS, Scenario
from queueopt.sim.takers import GroupTakers
from queueopt.sim.theory import decision_sla_ceiling, servers_for_decision_sla, servers_for_pooled_decision_sla
from queueopt.sim.variants import scaled

SAMPLE_ITEMS = 40_000


@dataclass(frozen=True, slots=True)
class QueueHour:
    queue: str
    hour: int
    arrivals_per_hour: float
    mean_handling_s: float
    patience_s: float | None
    servers: int | None
    """Moderators needed; `None` when no headcount meets the target (`best_attainment <= sla_target`)."""
    best_attainment: float
    """The share decided within `sla_s` with no wait at all, `P(handling <= sla_s)`: the ceiling of any plan."""


@dataclass(frozen=True, slots=True)
class PoolHour:
    sla: tuple[float, float]
    queues: tuple[str, ...]
    hour: int
    dedicated: int
    pooled: int


@dataclass(frozen=True, slots=True)
class StaffingPlan:
    rows: list[QueueHour]
    pools: list[PoolHour]
    untaken: dict[str, float]
    """Items per hour (in the busiest hour) routed to each queue that no roster group may take, for the queues that
    have any: no headcount of this roster decides them, so they are left out of the sizing and must be reported."""

    def dedicated_by_hour(self) -> list[int]:
        """Moderators per hour over the queues that can be sized; `unreachable` lists the ones left out, so the
        totals stay comparable with `pooled_by_hour`, which pools the same queues."""
        totals = [0] * HOURS
        for row in self.rows:
            totals[row.hour] += row.servers or 0
        return totals

    def pooled_by_hour(self) -> list[int]:
        totals = [0] * HOURS
        for pool in self.pools:
            totals[pool.hour] += pool.pooled
        return totals

    def unreachable(self) -> list[QueueHour]:
        """Queue-hours with demand whose target no headcount meets: handling alone takes too long."""
        return [row for row in self.rows if row.servers is None]

    def check_size(self) -> int | None:
        """The headcount `check` simulates, the busiest hour's pool (for one queue, its dedicated size); `None` when
        there is nothing to check: no demand at all, or a target out of reach (simulating some arbitrary size would
        only show it missed)."""
        if self.unreachable():
            return None
        return max(self.pooled_by_hour(), default=0) or None


@dataclass(frozen=True, slots=True)
class PlanCheck:
    """Per queue, the share of its items decided within its SLA, an abandoned item counting as a miss (what the plan
    sized for), at the checked size and at one fewer; with several queues the size is the pool's."""

    servers: int
    decided_within_sla: dict[str, float]
    decided_within_sla_one_fewer: dict[str, float] | None
    """`None` when the plan is one moderator: with none nothing is decided, so there is no run to show it."""
    targets: dict[str, float]

    def met(self) -> bool:
        """Every queue meets its target at the checked size: only then is the plan (or the pool's saving) shown."""
        return all(self.decided_within_sla[name] >= target for name, target in self.targets.items())


def _thinned(scenario: Scenario) -> tuple[Scenario, float]:
    """The scenario with every arrival rate scaled so about `SAMPLE_ITEMS` arrive, and the scale factor."""
    expected = sum(
        rate * (end - start)
        for arrival in scenario.arrivals
        for start, end, rate in scenario.rate_segments(arrival, scenario.horizon_s)
    )
    factor = min(1.0, SAMPLE_ITEMS / expected) if expected > 0 else 1.0
    return scaled(scenario.model_copy(update={"trace": None}), factor, roster=1.0), factor


def _expected_handling_s(scenario: Scenario, groups: tuple[int, ...], modality: Any, duration_s: float) -> float:
    """Mean handling time of an item over the roster groups that may take it, weighted by headcount: the fast
    English team's speed says nothing of how long the French team takes over the French queue."""
    total, weight = 0.0, 0.0
    for index in groups:
        group = scenario.roster[index]
        speed = group.speed[modality]
        scale = math.exp(group.speed_spread**2 / 2.0)
        total += group.count * (speed.base_mean_s + speed.duration_factor * duration_s) * scale
        weight += group.count
    return total / weight


def _hourly_rates(scenario: Scenario) -> np.ndarray:
    """Mean arrivals per hour of each stream (rows) in each hour of day (columns) over the horizon, bursts included."""
    rates = np.zeros((len(scenario.arrivals), HOURS))
    covered = np.zeros(HOURS)
    for start in np.arange(0.0, scenario.horizon_s, 3600.0):
        covered[int(start % 86400.0 // 3600.0)] += min(3600.0, scenario.horizon_s - start)
    for row, arrival in enumerate(scenario.arrivals):
        for start, end, rate in scenario.rate_segments(arrival, scenario.horizon_s):
            rates[row, int(start % 86400.0 // 3600.0)] += rate * (end - start)
    return rates * 3600.0 / np.maximum(covered, 1e-9)


def plan(scenario: Scenario) -> StaffingPlan:
    """Servers per queue and hour of day for each queue's SLA, and the pooled alternative per SLA class.

    Routing shares come from the sample (which queue each stream's items land in, after auto-actions and
    duplicates); the hourly shape comes from the stream rates themselves, so a rare queue is not left at zero in
    an hour the sample happened to miss.
    """
    if not scenario.arrivals:
        raise InvalidInput("staffing needs [[arrivals]] streams, not only a trace", field="arrivals")
    thinned, _ = _thinned(scenario)
    arrivals = sample_arrivals(thinned, 0)
    router = Router(scenario.ops)
    streams = len(scenario.arrivals)
    names = [queue.name for queue in scenario.ops.queues]
    column = {name: index for index, name in enumerate(names)}
    routed = np.zeros((streams, len(names)))
    untaken = np.zeros((streams, len(names)))
    sampled = np.bincount(arrivals.stream, minlength=streams).astype(float)
    work = np.zeros(len(names))
    takers = GroupTakers(scenario)
    seen: set[str] = set()
    for row, item in enumerate(arrivals.items):
        if item.content_hash is not None and item.content_hash in seen:
            continue  # a duplicate rides on its original's review
        if item.content_hash is not None:
            seen.add(item.content_hash)
        routing = router.route(item)
        if routing.action is not Action.REVIEW or routing.queue is None:
            continue
        groups = takers.groups(item, routing)
        if not groups:
            untaken[int(arrivals.stream[row]), column[routing.queue]] += 1.0
            continue
        routed[int(arrivals.stream[row]), column[routing.queue]] += 1.0
        work[column[routing.queue]] += _expected_handling_s(scenario, groups, item.modality, item.duration_s)
    hourly = _hourly_rates(scenario)
    per_hour = (routed / np.maximum(sampled, 1.0)[:, None]).T @ hourly
    untaken_per_hour = (untaken / np.maximum(sampled, 1.0)[:, None]).T @ hourly
    patience = np.asarray([arrival.patience_rate or 0.0 for arrival in scenario.arrivals])
    rows = []
    for index, queue in enumerate(scenario.ops.queues):
        if routed[:, index].sum() == 0:
            continue
        mean_s = float(work[index] / routed[:, index].sum())
        theta = float(patience @ routed[:, index] / routed[:, index].sum())
        ceiling = decision_sla_ceiling(1.0 / mean_s, queue.sla_s)
        for hour in range(HOURS):
            rate = float(per_hour[index, hour])
            servers = servers_for_decision_sla(
                rate / 3600.0, 1.0 / mean_s, queue.sla_s, queue.sla_target, theta if theta > 0 else None
            )
            patience_s = 1.0 / theta if theta > 0 else None
            rows.append(QueueHour(queue.name, hour, rate, mean_s, patience_s, servers, ceiling))
    untaken_by_queue = {
        queue.name: float(untaken_per_hour[index].max())
        for index, queue in enumerate(scenario.ops.queues)
        if untaken[:, index].sum() > 0
    }
    return StaffingPlan(rows, _pools(scenario, rows), untaken_by_queue)


def _pools(scenario: Scenario, rows: list[QueueHour]) -> list[PoolHour]:
    """Each SLA class's queues sized as one pool, hour by hour, over the queues that can be sized at all.

    The pool is FCFS M/G/c: one wait for all its queues, each queue's time to decision that wait plus its own
    handling, and the mixture of handling times more variable than an exponential
    (`theory.servers_for_pooled_decision_sla`); every queue must meet the target, as a dedicated team would make it.
    Queues whose items abandon are not pooled (no M/G/c+M approximation here): the pool counts as its dedicated
    teams, and so does a pool the approximation would size larger than them, which it can always mimic.
    """
    by_sla: dict[tuple[float, float], list[str]] = defaultdict(list)
    for queue in scenario.ops.queues:
        by_sla[(queue.sla_s, queue.sla_target)].append(queue.name)
    pools = []
    for sla, names in by_sla.items():
        members = [row for row in rows if row.queue in names]
        for hour in range(HOURS):
            here = [row for row in members if row.hour == hour and row.servers]  # demand, and a target in reach
            if not here:
                continue
            dedicated = sum(row.servers or 0 for row in here)
            pooled = None
            if not any(row.patience_s for row in here):
                rates = [row.arrivals_per_hour / 3600.0 for row in here]
                pooled = servers_for_pooled_decision_sla(rates, [row.mean_handling_s for row in here], *sla)
            size = dedicated if pooled is None else min(pooled, dedicated)
            pools.append(PoolHour(sla, tuple(row.queue for row in here), hour, dedicated, size))
    return pools


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


def check(scenario: Scenario, servers: int, replications: int | None = None, workers: int = 1) -> PlanCheck:
    """Simulated share decided within the SLA of each queue of a one-group scenario at `servers` moderators and at
    one fewer, unless one fewer is none.

    `servers` comes from `StaffingPlan.check_size`: the busiest hour's pool, which for one queue is its dedicated
    size; a plan of no moderators has nothing to simulate. With several queues the one group takes all of them (FCFS
    under `fifo`), which is the pool the plan sized, so the check confirms or refutes the pooled saving.
    """
    ensure_checkable(scenario)
    if servers < 1:
        raise InvalidInput(f"a check needs at least one moderator, got {servers}", field="servers")
    at_size = _decided_within_sla(scenario, servers, replications, workers)
    one_fewer = _decided_within_sla(scenario, servers - 1, replications, workers) if servers > 1 else None
    targets = {queue.name: queue.sla_target for queue in scenario.ops.queues}
    return PlanCheck(servers, at_size, one_fewer, targets)


def _decided_within_sla(scenario: Scenario, servers: int, replications: int | None, workers: int) -> dict[str, float]:
    """Each queue's simulated share decided within its SLA with the one group resized to `servers`."""
    group = scenario.roster[0].model_copy(update={"count": servers})
    sized = scenario.model_copy(update={"roster": [group]})
    estimates = run_experiment(sized, replications=replications, workers=workers).estimates()
    shares = {}
    for queue in scenario.ops.queues:
        estimate = estimates.get(f"queue.{queue.name}.decided_within_sla_share")
        shares[queue.name] = math.nan if estimate is None else estimate.mean
    return shares
