"""Staffing: how many moderators each queue needs in each hour of day to meet its SLA, and what pooling saves.

Demand per queue and hour comes from the scenario itself: a sample of its arrivals (`SAMPLE_PER_STREAM` of each
stream, whatever the rates, each stream's counts scaled back by its own rate) routed by the ops config's own router,
so auto-actions, duplicates and routing rules shrink and split demand exactly as in production; an item's handling
time is that of the roster groups that may take it (`takers.GroupTakers`), and items no group may take are counted
apart (`StaffingPlan.untaken`) rather than sized with someone else's speed. Each (queue, hour) is then an M/M/c
queue (Erlang C), or M/M/c+M (Erlang A) where its items can abandon, sized by `theory.servers_for_decision_sla` for
the queue's `sla_s` and `sla_target`. The SLA is on the time to decision (wait plus handling), as the engine's SLA
window and the simulator's `sla_attainment` count it, not on the wait alone: a plan on the wait alone looks met on
paper and misses in simulation. An item that abandons counts as a miss (the simulator's `decided_within_sla_share`),
or a plan could meet its target by letting items expire. Handling time bounds what any headcount can do, so a target
at or above `P(handling <= sla_s)`, under the scenario's own handling-time laws (`handled_within`), is reported
unreachable (`servers is None`) instead of being sized; one the real handling times allow but the exponential of the
same mean does not is left unsized too (`StaffingPlan.beyond_model`), not called unreachable.

Pooling: queues with the same SLA could share one pool of moderators skilled for all of them, sized as FCFS M/G/c so
that every queue meets the target (the mixture of handling times waits longer than one exponential, and a slow
queue's time to decision adds its own handling); the pool is never more than the sum of dedicated teams, often less
(the square-root staffing economy of scale). `staffing_check.check` simulates the plan itself on a one-group
scenario (one queue, or one pool): the group rostered hour by hour at the plan's headcount, and again at one fewer,
each hour judged on the items that arrive in it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import ndtr

from queueopt.config import QueueConfig
from queueopt.domain import Action, Item
from queueopt.enqueue import Router
from queueopt.errors import InvalidInput
from queueopt.sim.arrivals import sample_arrivals
from queueopt.sim.scenario import HOURS, HandlingTime, RosterGroup, Scenario
from queueopt.sim.simulator import PULL_STRATEGIES
from queueopt.sim.takers import GroupTakers
from queueopt.sim.theory import (
    StateSpaceTooLarge,
    decision_sla_ceiling,
    mm_c_mean_wait,
    mm_c_sojourn_within,
    servers_for_decision_sla,
    servers_for_pooled_decision_sla,
)
from queueopt.sim.trace import load_trace
from queueopt.sim.variants import scaled

SAMPLE_PER_STREAM = 20_000
"""Items sampled from each stream (`_thinned`). A queue's share of a stream is a binomial estimate: a queue fed half
of a stream of 20,000 items an hour of 60 s (167 Erlangs) has a standard error of 71 items an hour, 1.2 moderators;
it shrinks as the square root of this, which the run time grows with."""
SAMPLE_ITEMS = 200_000
"""All streams' samples together at most, each stream keeping `SAMPLE_MIN_PER_STREAM`: the run time and memory grow
with the sample (the example day's 8 streams, 160,000 items, plan in about 8 s), and 20,000 of each of a hundred
streams would take minutes and gigabytes."""
SAMPLE_MIN_PER_STREAM = 2_000
_NORMAL_SPAN = 9.0
"""Standard deviations either side of a normal's mean that the handling-time quadrature covers: 1e-19 lies beyond."""
_LEGENDRE_NODES, _LEGENDRE_WEIGHTS = leggauss(128)


@dataclass(frozen=True, slots=True)
class QueueHour:
    queue: str
    hour: int
    arrivals_per_hour: float
    """Reviews an hour: the items routed here and the QA re-reviews sampled from their decisions (`_with_qa`)."""
    mean_handling_s: float
    patience_s: float | None
    sla_target: float
    servers: int | None
    """Moderators to roster, `slots` over the slots each works on shift net of breaks
    (`slots_per_rostered_moderator`); `None` when no headcount meets the target (`best_attainment <= sla_target`),
    or when the Erlang model cannot size it (`model_attainment <= sla_target`) though the real handling times
    could."""
    best_attainment: float
    """The share decided within `sla_s` with no wait at all, `P(handling <= sla_s)` under the scenario's own
    handling-time laws (`handled_within`): the ceiling of any plan."""
    abandonment_bound: float | None
    """Set when patience is so long that Erlang A cannot be solved and Erlang C, its limit, sized the row: at most
    this share of items abandons at `servers` (`theta E[W]` of Erlang C), so the plan holds under Erlang A too."""
    model_attainment: float
    """The same ceiling with handling exponential at `mean_handling_s`, as Erlang C and A take it: the most the
    sizing model can promise, above or below `best_attainment` (a fixed 30 s decides all within 60 s, the
    exponential 86%; 70 s decides none, the exponential 58%)."""
    slots: int | None
    """Reviews under way at once that Erlang C or A sized (its servers), `None` with `servers`."""
    slots_per_moderator: float
    """Reviews a moderator works at once (`_slots`; one for a severe item), averaged over the groups that may take
    the queue's items by headcount, and over its items weighted by their handling (a harmonic mean)."""
    shrinkage: float
    """The share of a moderator's shift spent on breaks (`_shrinkage`), averaged as `slots_per_moderator` is."""
    severe_floor: float
    """Moderators who would be busy full time just keeping up with the queue's severe items under the wellbeing
    budget and cool-downs (`_severe_floor`): `servers` at or below it cannot meet the SLA, which Erlang's handling
    alone does not see."""

    @property
    def slots_per_rostered_moderator(self) -> float:
        """Slots a moderator on the roster works on average: those of one on duty, less the share on break."""
        return self.slots_per_moderator * (1.0 - self.shrinkage)


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

    def behind_on_severe(self) -> list[QueueHour]:
        """Queue-hours whose plan is at or below `severe_floor`: its moderators cannot keep up with the severe items
        under the wellbeing budget and cool-downs, whatever Erlang says of their handling."""
        return [
            row for row in self.rows if row.severe_floor and row.servers is not None and row.servers <= row.severe_floor
        ]

    def unreachable(self) -> list[QueueHour]:
        """Queue-hours with demand whose target no headcount meets: handling alone takes too long."""
        return [row for row in self.rows if row.servers is None and row.sla_target >= row.best_attainment]

    def beyond_model(self) -> list[QueueHour]:
        """Queue-hours with demand whose target some headcount would meet but Erlang C or A cannot size: their
        exponential handling decides fewer within `sla_s` than the target, the real handling times more."""
        return [row for row in self.rows if row.servers is None and row.sla_target < row.best_attainment]

    def check_staffing(self) -> list[int] | None:
        """The moderators `staffing_check.check` rosters in each hour of day, the pool's (for one queue, its dedicated
        size); `None` when there is nothing to check: no demand at all, or a queue-hour left unsized (simulating some
        arbitrary size would only show it missed)."""
        if any(row.servers is None for row in self.rows):
            return None
        staffing = self.pooled_by_hour()
        return staffing if any(staffing) else None


def _thinned(scenario: Scenario) -> Scenario:
    """The scenario's streams, each with its rates scaled so that `SAMPLE_PER_STREAM` of its items arrive (fewer
    beyond ten streams, `SAMPLE_ITEMS`), whatever its rate and the other streams' (a rare stream is scaled up past
    its own rate). The sample only measures where each stream's items go and how long they take; each stream's own
    rates give its demand (`_hourly_rates`), so sampling one stream more densely than another biases nothing. One
    factor for all streams left a stream of 5 an hour beside one of 500,000 with no item at all, and let one
    stream's rate resize another's sample: a stream all auto-removed, grown from 0 to 100,000 an hour, took the plan
    of a queue it never reaches from 169 to 166."""
    expected = [scenario.expected_items(arrival) for arrival in scenario.arrivals]
    # How many streams there are sets each one's sample, never their rates.
    per_stream = max(SAMPLE_MIN_PER_STREAM, min(SAMPLE_PER_STREAM, SAMPLE_ITEMS // max(1, len(expected))))
    factors = [per_stream / count if count > 0 else 1.0 for count in expected]
    return scaled(scenario.model_copy(update={"trace": None}), factors, roster=1.0)


@dataclass(slots=True)
class _Tally:
    """Sums over the sampled items, per demand row (a stream, or an hour of day of the trace) and queue: the items
    routed there for review that some group may take, those no group may take, and over the first their mean
    handling times and shares handled within the queue's `sla_s`; `sampled` counts every sampled item of a row,
    auto-actions and duplicates too."""

    sampled: np.ndarray
    routed: np.ndarray
    untaken: np.ndarray
    work_s: np.ndarray
    handled: np.ndarray
    moderator_s: np.ndarray
    """Handling over the slots a moderator gives such an item (one for a severe item): a moderator's time it takes."""
    away: np.ndarray
    severe_s: np.ndarray


_Kind = tuple[tuple[int, ...], Any, int, bool]
"""What a routed item's terms in `_Tally` depend on besides its media length: the groups that may take it, its
modality, its queue's column and whether it is severe."""
_CHUNK = 4096
"""Items whose terms are computed at once: the quadrature holds `_CHUNK` by 128 nodes in memory."""


def _tally(scenario: Scenario, sample: Iterable[tuple[int, Item]], rows: int) -> _Tally:
    """Route each sampled `(row, item)` as production would and count it against its row and queue."""
    queues = len(scenario.ops.queues)
    tally = _Tally(np.zeros(rows), *(np.zeros((rows, queues)) for _ in range(7)))
    router = Router(scenario.ops)
    takers = GroupTakers(scenario)
    column = {queue.name: index for index, queue in enumerate(scenario.ops.queues)}
    seen: set[str] = set()
    routed: defaultdict[_Kind, list[tuple[int, float]]] = defaultdict(list)  # (row, duration_s) of each kind
    for row, item in sample:
        tally.sampled[row] += 1.0
        if item.content_hash is not None and item.content_hash in seen:
            continue  # a duplicate rides on its original's review
        if item.content_hash is not None:
            seen.add(item.content_hash)
        routing = router.route(item)
        if routing.action is not Action.REVIEW or routing.queue is None:
            continue
        landed = column[routing.queue]
        groups = takers.groups(item, routing)
        if not groups:
            tally.untaken[row, landed] += 1.0
            continue
        tally.routed[row, landed] += 1.0
        routed[(groups, item.modality, landed, routing.severe)].append((row, item.duration_s))
    for kind, items in routed.items():
        _add_terms(scenario, tally, kind, items)
    return tally


def _add_terms(scenario: Scenario, tally: _Tally, kind: _Kind, items: list[tuple[int, float]]) -> None:
    """Add the terms of routed items of one kind to their rows, once per media length and a chunk of them at a time:
    item by item, the quadrature of the share handled within the SLA cost more than routing, and kept the sample
    small."""
    groups, modality, landed, severe = kind
    rows = np.asarray([row for row, _ in items])
    durations, of_item = np.unique(
        np.asarray([duration_s for _, duration_s in items], dtype=float), return_inverse=True
    )
    sla_s = scenario.ops.queues[landed].sla_s
    chunks = [
        _item_terms(scenario, groups, modality, durations[start : start + _CHUNK], sla_s, severe)
        for start in range(0, durations.size, _CHUNK)
    ]
    sums = (tally.work_s, tally.handled, tally.moderator_s, tally.away, tally.severe_s)
    for total, column in zip(sums, zip(*chunks, strict=True), strict=True):
        np.add.at(total[:, landed], rows, np.concatenate(column)[of_item])  # a view: adds into `total`


def _item_terms(
    scenario: Scenario, groups: tuple[int, ...], modality: Any, duration_s: np.ndarray, sla_s: float, severe: bool
) -> tuple[np.ndarray, ...]:
    """Items' sums in `_Tally` for each media length, over the groups that may take them: mean handling, the share
    handled within `sla_s`, a moderator's time taken, the share of those groups away on break, and the severe turn
    (0 for an item not severe)."""
    handling_s = _expected_handling_s(scenario, groups, modality, duration_s)
    handled = _handled_within_share(scenario, groups, modality, duration_s, sla_s)
    per_moderator = 1.0 if severe else _over_takers(scenario, groups, lambda group: _slots(scenario, group))
    away = _over_takers(scenario, groups, _shrinkage)
    severe_s = _severe_turn_s(scenario, groups, modality, duration_s) if severe else np.zeros(())
    terms = (handling_s, handled, handling_s / per_moderator, away, severe_s)
    return tuple(np.broadcast_to(term, duration_s.shape) for term in terms)


def _slots(scenario: Scenario, group: RosterGroup) -> float:
    """Reviews a moderator of the group works at once: its `capacity` under batch assignment (`optimal`, `config`),
    whose slots work in parallel in the simulator, and one under `fifo` and `priority`, where a moderator pulls one
    task at a time whatever the capacity. A severe item takes a whole moderator (`_tally`): the engine gives no one
    a second severe item while one is under review (found by a probe: a severe queue at capacity 2 was planned at
    half the moderators it needs, and decided nothing within its SLA in simulation)."""
    return 1.0 if scenario.strategy in PULL_STRATEGIES else float(group.capacity)


def _shrinkage(group: RosterGroup) -> float:
    """The share of a shift a moderator of the group spends on breaks: one of `length_s` begins every `every_s` on
    shift (`roster._timeline`), staggered across the group, so about this share of it is away at any moment. A plan
    sizes the moderators on duty and grosses them up by it (`needed / (1 - shrinkage)`), the call centre's
    shrinkage."""
    return 0.0 if group.breaks is None else group.breaks.length_s / group.breaks.every_s


def _moderators(slots: int, per_moderator: float) -> int:
    """Moderators who between them work `slots` reviews at once, `per_moderator` each: rounded up, less a hair, so
    a whole quotient computed inexactly (6.000000000000001) is not one moderator too many."""
    return math.ceil(slots / per_moderator - 1e-9)


def _over_takers(
    scenario: Scenario, groups: tuple[int, ...], of: Callable[[RosterGroup], float | np.ndarray]
) -> np.ndarray:
    """`of` averaged over the roster groups that may take an item, weighted by headcount: the fast English team's
    speed says nothing of how long the French team takes over the French queue."""
    total, weight = np.zeros(()), 0.0
    for index in groups:
        group = scenario.roster[index]
        total = total + group.count * np.asarray(of(group))
        weight += group.count
    average: np.ndarray = total / weight
    return average


def _group_handling_s(group: RosterGroup, modality: Any, duration_s: np.ndarray) -> np.ndarray:
    """Mean handling time of items of each media length by a moderator of the group."""
    speed = group.speed[modality]
    mean_s: np.ndarray = (speed.base_mean_s + speed.duration_factor * duration_s) * math.exp(
        group.speed_spread**2 / 2.0
    )
    return mean_s


def _expected_handling_s(
    scenario: Scenario, groups: tuple[int, ...], modality: Any, duration_s: np.ndarray
) -> np.ndarray:
    """Mean handling time of items of each media length over the roster groups that may take them."""
    return _over_takers(scenario, groups, lambda group: _group_handling_s(group, modality, duration_s))


def _severe_turn_s(scenario: Scenario, groups: tuple[int, ...], modality: Any, duration_s: np.ndarray) -> np.ndarray:
    """How long a severe item keeps a moderator from the next severe one, over the groups that may take it: its
    handling and the cool-down after it, or the wellbeing budget's share of an hour when that is longer. The
    engine gives a moderator one severe item at a time, so a team decides at most its headcount over this many
    severe items a second, whatever Erlang says of the handling alone."""

    def turn_s(group: RosterGroup) -> np.ndarray:
        budget = group.severe_per_hour  # None: no budget; never 0 here (`GroupTakers` leaves such a group out)
        budget_s = 0.0 if not budget else 3600.0 / budget
        return np.maximum(_group_handling_s(group, modality, duration_s) + group.cooldown_s, budget_s)

    return _over_takers(scenario, groups, turn_s)


def _handled_within_share(
    scenario: Scenario, groups: tuple[int, ...], modality: Any, duration_s: np.ndarray, sla_s: float
) -> np.ndarray:
    """`P(handling <= sla_s)` of items over the roster groups that may take them: their shares of the queue's
    ceiling."""
    return _over_takers(
        scenario, groups, lambda group: _handled_within(group.speed[modality], group.speed_spread, duration_s, sla_s)
    )


def handled_within(speed: HandlingTime, speed_spread: float, duration_s: float, t: float) -> float:
    """`P(handling <= t)` of an item of media length `duration_s` by a moderator of a group, the simulator's law:
    `(base + duration_factor * duration_s) * F`, the base exponential or lognormal, `F` the moderator's speed factor
    (lognormal, median 1, sigma `speed_spread`). The ceiling of a plan must come from this law, not from an
    exponential of the same mean: 30 s every time decides all items within 60 s, an exponential 86%."""
    return float(_handled_within(speed, speed_spread, np.asarray([duration_s], dtype=float), t)[0])


def _handled_within(speed: HandlingTime, speed_spread: float, duration_s: np.ndarray, t: float) -> np.ndarray:
    """`handled_within` for each media length at once.

    Exact in closed form without a speed spread; with one, a Gauss-Legendre rule over one of the two normals: the
    one whose conditional law of the other is smooth (the spread's while the base's sigma is smaller), cut where the
    base would have to take less than nothing, so no kink or near-step falls inside the rule (within 1e-7 of adaptive
    quadrature over sigma, spread 0.01 to 3 and media up to twice the median).
    """
    extra = speed.duration_factor * duration_s
    if speed_spread == 0.0:
        return _base_within(speed, t - extra)
    if speed.median_s is not None and speed.sigma < speed_spread:
        median, sigma = speed.median_s, speed.sigma
        return _normal_expectation(
            lambda z: ndtr(np.log(t / (median * np.exp(sigma * z) + extra[:, None])) / speed_spread),
            np.full(extra.shape, _NORMAL_SPAN),
        )
    ratio = np.divide(t, extra, out=np.full(extra.shape, np.inf), where=extra > 0.0)
    upper = np.minimum(_NORMAL_SPAN, np.log(ratio) / speed_spread)
    return _normal_expectation(lambda z: _base_within(speed, t * np.exp(-speed_spread * z) - extra[:, None]), upper)


def _base_within(speed: HandlingTime, x: np.ndarray) -> np.ndarray:
    """`P(base <= x)`, the handling time before media length and speed factor, for each `x` (0 where `x <= 0`)."""
    positive = np.maximum(x, np.finfo(float).tiny)
    if speed.mean_s is not None:
        share: np.ndarray = np.where(x > 0.0, -np.expm1(-positive / speed.mean_s), 0.0)
        return share
    assert speed.median_s is not None
    if speed.sigma == 0.0:
        return np.where(x >= speed.median_s, 1.0, 0.0)
    return np.where(x > 0.0, ndtr(np.log(positive / speed.median_s) / speed.sigma), 0.0)


def _normal_expectation(of: Callable[[np.ndarray], np.ndarray], upper: np.ndarray) -> np.ndarray:
    """`E[of(Z) 1{Z < upper}]` for a standard normal `Z`, for each `upper`, by Gauss-Legendre over
    `[-_NORMAL_SPAN, upper]`; `of` is given the nodes of each `upper` as a row."""
    half = (upper + _NORMAL_SPAN) / 2.0
    z = half[:, None] * _LEGENDRE_NODES + ((upper - _NORMAL_SPAN) / 2.0)[:, None]
    density = np.exp(-z * z / 2.0) / math.sqrt(2.0 * math.pi)
    expectation: np.ndarray = np.where(upper > -_NORMAL_SPAN, half * ((density * of(z)) @ _LEGENDRE_WEIGHTS), 0.0)
    return expectation


def _covered_hours(scenario: Scenario) -> np.ndarray:
    """Hours of the horizon that fall in each hour of day: what a count in that hour of day is averaged over."""
    covered = np.zeros(HOURS)
    for start in np.arange(0.0, scenario.horizon_s, 3600.0):
        covered[_hour_of_day(start)] += min(3600.0, scenario.horizon_s - start) / 3600.0
    return covered


def _hour_of_day(t: float) -> int:
    return int(t % 86400.0 // 3600.0)


def _hourly_rates(scenario: Scenario) -> np.ndarray:
    """Mean arrivals per hour of each stream (rows) in each hour of day (columns) over the horizon, bursts included."""
    rates = np.zeros((len(scenario.arrivals), HOURS))
    for row, arrival in enumerate(scenario.arrivals):
        for start, end, rate in scenario.rate_segments(arrival, scenario.horizon_s):
            rates[row, _hour_of_day(start)] += rate * (end - start)
    per_hour: np.ndarray = rates / np.maximum(_covered_hours(scenario), 1e-9)
    return per_hour


def _streams_sample(scenario: Scenario) -> list[tuple[int, Item]]:
    """The thinned streams' items, each with its demand row: its stream."""
    if not scenario.arrivals:
        return []
    arrivals = sample_arrivals(_thinned(scenario), 0)
    return list(zip(arrivals.stream.tolist(), arrivals.items, strict=True))


def _trace_sample(scenario: Scenario) -> list[tuple[int, Item]]:
    """The trace's items before the horizon, each with its demand row: the hour of day it arrives in, after the
    streams' rows, so the trace's own mix of each hour is routed as recorded (a trace of French items at night and
    English ones by day). All of them, not a sample: reading the trace already costs more per item than routing."""
    if scenario.trace is None:
        return []
    first = len(scenario.arrivals)
    return [
        (first + _hour_of_day(arrival.at_s), arrival.item)
        for arrival in load_trace(scenario.trace)
        if arrival.at_s < scenario.horizon_s
    ]


def plan(scenario: Scenario) -> StaffingPlan:
    """Servers per queue and hour of day for each queue's SLA, and the pooled alternative per SLA class.

    Routing shares come from the sample (which queue each stream's items land in, after auto-actions and
    duplicates); the hourly shape comes from the stream rates themselves, so a rare queue is not left at zero in
    an hour the sample happened to miss. A trace's items are demand too, counted in the hour of day they arrive
    (`_trace_sample`). A queue's mean handling time, ceiling and patience are averaged over its items with each
    sampled item weighted by the arrivals it stands for (`_thinned` samples streams unevenly).
    """
    streams = len(scenario.arrivals)
    tally = _tally(scenario, [*_streams_sample(scenario), *_trace_sample(scenario)], streams + HOURS)
    replayed = np.diag(tally.sampled[streams:] / np.maximum(_covered_hours(scenario), 1e-9))
    hourly = np.vstack([_hourly_rates(scenario), replayed])
    share = 1.0 / np.maximum(tally.sampled, 1.0)  # of its row's arrivals, each sampled item
    per_hour = (tally.routed * share[:, None]).T @ hourly * _with_qa(scenario)[:, None]
    untaken_per_hour = (tally.untaken * share[:, None]).T @ hourly
    daily = hourly.sum(axis=1) * share  # arrivals a day each sampled item stands for
    # a replayed item waits as long as it takes: the simulator gives it no patience
    patience = np.asarray([arrival.patience_rate or 0.0 for arrival in scenario.arrivals] + [0.0] * HOURS)
    sums = (tally.routed, tally.work_s, tally.handled, tally.moderator_s, tally.away, tally.severe_s)
    items, work_s, handled, moderator_s, away, severe_s = (daily @ per_item for per_item in sums)
    impatience = (daily * patience) @ tally.routed / _with_qa(scenario)  # a QA review never abandons
    rows = []
    for index, queue in enumerate(scenario.ops.queues):
        if items[index] == 0:
            continue
        mean_s = float(work_s[index] / items[index])
        theta = float(impatience[index] / items[index])
        ceiling = float(handled[index] / items[index])
        model_ceiling = decision_sla_ceiling(1.0 / mean_s, queue.sla_s)
        patience_s = 1.0 / theta if theta > 0 else None
        # Slots per moderator weighted by work (a harmonic mean), as a pool weighs its queues: a moderator holds one
        # severe item at a time, so a queue of 40% severe items at capacity 5 is 1.9 slots each, not 3.4 (found by a
        # probe: planned at 4, it decided 0.695 within the SLA against 0.8).
        per_moderator, shrinkage = float(work_s[index] / moderator_s[index]), float(away[index] / items[index])
        severe_turn_s = float(severe_s[index] / items[index])  # per item of the queue, 0 for one not severe
        for hour in range(HOURS):
            rate = float(per_hour[index, hour])
            needed, bound = _servers(rate / 3600.0, mean_s, theta if theta > 0 else None, queue, ceiling)
            row = QueueHour(
                *(queue.name, hour, rate, mean_s, patience_s, queue.sla_target, None, ceiling, bound),
                *(model_ceiling, needed, per_moderator, shrinkage, _severe_floor(rate, severe_turn_s, shrinkage)),
            )
            if needed is not None:
                row = replace(row, servers=_moderators(needed, row.slots_per_rostered_moderator))
            rows.append(row)
    untaken_by_queue = {
        queue.name: float(untaken_per_hour[index].max())
        for index, queue in enumerate(scenario.ops.queues)
        if tally.untaken[:, index].sum() > 0
    }
    return StaffingPlan(rows, _pools(scenario, rows), untaken_by_queue)


def _severe_floor(rate_per_hour: float, severe_turn_s: float, shrinkage: float) -> float:
    """Moderators on the roster who just keep up with the queue's severe items under the wellbeing rules, each
    taking one every `_severe_turn_s`: a plan below it falls behind whatever the SLA (on the example day,
    photo_high's 170 severe items an hour at 19h, for vendors who may see 10 an hour, were planned at 2)."""
    busy = rate_per_hour * severe_turn_s / 3600.0
    return busy / (1.0 - shrinkage) if busy else 0.0


def _with_qa(scenario: Scenario) -> np.ndarray:
    """Reviews per item routed to each queue, its QA re-reviews included: the engine samples `qa_sample_rate` of
    the queue's decided reviews for a second review in the same queue, by a moderator who may take the first but
    did not make it, and the simulator times it by the same handling-time law, so each queue's demand grows by that
    share at the same mean. They are counted in the hour their item arrives, not when it is decided (most are
    decided well inside the hour). A QA review never abandons.
    Under `fifo` a QA review waits in line like any task, so sizing all of them for the SLA is exact; under
    `priority` and `optimal` it waits behind live work, and the plan errs on the safe side."""
    return 1.0 + np.asarray([queue.qa_sample_rate for queue in scenario.ops.queues])


def _servers(
    lam: float, mean_s: float, patience_rate: float | None, queue: QueueConfig, ceiling: float
) -> tuple[int | None, float | None]:
    """Erlang C or A's size for the queue, and the abandonment bound when Erlang C stood in for A
    (`_erlang_c_for_long_patience`); never a size for a target the real handling times put out of reach (`ceiling`):
    the exponential of the same mean can promise more than a slow fixed handling time delivers."""
    if lam > 0.0 and queue.sla_target >= ceiling:
        return None, None
    try:
        return servers_for_decision_sla(lam, 1.0 / mean_s, queue.sla_s, queue.sla_target, patience_rate), None
    except StateSpaceTooLarge:
        assert patience_rate is not None  # only Erlang A has a state space
        return _erlang_c_for_long_patience(lam, 1.0 / mean_s, queue, patience_rate)


def _erlang_c_for_long_patience(
    lam: float, mu: float, queue: QueueConfig, patience_rate: float
) -> tuple[int | None, float | None]:
    """Erlang C's size where Erlang A's chain is too large to solve: patience so long that the queue would hold tens
    of millions at the sizes searched. Erlang A tends to Erlang C as patience grows, and the size holds under Erlang A
    whenever Erlang C meets the target with `theta E[W]` to spare: abandoning only removes items from the queue, so
    no one else waits longer, and at most `P(patience < W) <= theta E[W]` of items abandon. Otherwise the patience is
    neither negligible nor solvable, which is said in one line naming the field."""
    servers = servers_for_decision_sla(lam, mu, queue.sla_s, queue.sla_target)
    if servers is None:
        return None, None
    bound = patience_rate * mm_c_mean_wait(servers, lam, mu)
    if mm_c_sojourn_within(servers, lam, mu, queue.sla_s) - bound < queue.sla_target:
        raise InvalidInput(
            f"queue {queue.name}: the streams' patience (mean {1.0 / patience_rate:.4g} s) is too long for Erlang A "
            "to solve at this load and too short to neglect; size this queue with simulate",
            field="patience_s",
        )
    return servers, bound


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
                slots = servers_for_pooled_decision_sla(rates, [row.mean_handling_s for row in here], *sla)
                pooled = None if slots is None else _moderators(slots, _pooled_slots_per_moderator(here))
            size = dedicated if pooled is None else min(pooled, dedicated)
            pools.append(PoolHour(sla, tuple(row.queue for row in here), hour, dedicated, size))
    return pools


def _pooled_slots_per_moderator(rows: list[QueueHour]) -> float:
    """Slots a pooled moderator on the roster works at once, net of breaks: each queue's own, averaged so that
    each queue's share of the pool's work takes as many moderators as it would in its own team (a harmonic mean
    weighted by work)."""
    work = [row.arrivals_per_hour * row.mean_handling_s for row in rows]
    return sum(work) / sum(share / row.slots_per_rostered_moderator for share, row in zip(work, rows, strict=True))
