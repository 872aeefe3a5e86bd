"""The discrete-event loop: one replication of a scenario, driving the real engine on a virtual clock.

Arrivals and shift changes are pre-drawn and sorted, so they are merged into the loop by pointer (a batch run
takes its arrivals by time at each tick instead); everything else (a review finishing, an item abandoned, a batch
tick, a backlog sample) goes on one heap. The engine decides routing, priority, eligibility and assignment exactly
as in production; the simulator only plays the moderators (how long each review takes, whether the verdict is
right) and the outside world (arrivals, abandonment, shifts), and writes down what happened to every item so the
KPIs can be measured afterwards.

Strategies: `fifo` and `priority` are pull strategies: a free moderator asks `next_for` and gets the first
eligible task in the engine's queue order; `optimal` assigns in batches (`assign_batch`) every `tick_s`, and
arrivals in between are submitted together at the tick (their waits still count from their true arrival; one
that gave up before the tick is routed and leaves when it gave up, so it counts in its queue).
A pull run also calls `assign_batch` on its tick while moderators sit idle next to waiting work, so a task
that becomes eligible later (an escalation relaxing its language, a wellbeing budget refilling) is not
stranded. `config` runs the ops config's own default, `optimal`.
"""

from __future__ import annotations

import gc
import heapq
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from queueopt.capability import ModeratorProfile
from queueopt.clock import VirtualClock
from queueopt.config import MAX_EXTEND_S
from queueopt.domain import QA_SUFFIX, Action, Decision, ModeratorStatus, Task, TaskState, Verdict
from queueopt.engine import Engine
from queueopt.errors import Conflict
from queueopt.sim.arrivals import Arrivals, item_index, sample_arrivals
from queueopt.sim.roster import Moderators, build_moderators
from queueopt.sim.scenario import Scenario
from queueopt.store import MemoryStore

PULL_STRATEGIES = ("fifo", "priority")
ENGINE_STRATEGY = {"fifo": "fifo", "priority": "priority", "optimal": "optimal", "config": "optimal"}
BACKLOG_SAMPLES = 2000
BACKLOG_EVERY_S = 300.0  # at least
BACKLOG_SAMPLES_AT_LEAST = 100  # however short the run: one sample at 0 s is no mean (found by a probe)
AUDIT_KEPT = 10_000  # the KPIs come from the simulator's own records; a day's full audit would not fit in memory
# Allocations between young-generation collections while the items are drawn and during a run (CPython's default is
# 700). A run keeps millions of long-lived objects and creates a few dozen per customer; at the default the collector
# spends 5-9% of a run rescanning them, at this setting about 1%, and drawing a day's items takes a quarter less.
GC_YOUNG_EVERY = 100_000

# Event kinds; at equal times a finished review frees its moderator before work that arrives is handed out.
_DONE, _ABANDON, _TICK, _SAMPLE, _EXTEND = 0, 1, 2, 3, 4
FRUITLESS_POLLS = 10
"""Polls in a row that leased nothing before a pull run first asks whether anyone on the roster may take what
waits."""
LEASE_MARGIN_S = 60.0
"""How long before its lease runs out a review tool asks for more time, and how far past the review's end it asks."""
TOO_LONG = "cannot finish the review within the longest lease"
"""Why a moderator skips a review longer than any lease may run: the engine then never offers it to them again."""

ACTION_CODE = {Action.REVIEW: 0, Action.AUTO_REMOVE: 1, Action.AUTO_APPROVE: 2, Action.DUPLICATE: 3}
# Read for every item submitted; module names, not members read through their enum class's `__getattr__` hook.
_REVIEW, _DUPLICATE, _AUTO_REMOVE = Action.REVIEW, Action.DUPLICATE, Action.AUTO_REMOVE
_DECISIONS = {True: Decision(verdict=Verdict.VIOLATING), False: Decision(verdict=Verdict.NOT_VIOLATING)}


@dataclass(slots=True)
class RunRecord:
    """What happened in one replication, as flat columns; times are seconds, NaN where it never happened."""

    scenario: Scenario
    strategy: str
    replication: int
    arrivals: Arrivals
    moderators: Moderators
    queue_names: list[str]
    queue: np.ndarray
    action: np.ndarray
    severe: np.ndarray
    leased_at: np.ndarray
    decided_at: np.ndarray
    verdict: np.ndarray
    decided_by: np.ndarray
    abandoned_at: np.ndarray
    busy_s: np.ndarray
    overtime_s: np.ndarray  # per moderator: past a shift's end, finishing the reviews begun on it (paid, on duty)
    severe_reviews: np.ndarray
    decisions: np.ndarray  # per moderator: decisions written in [warmup_s, horizon_s), QA reviews included
    budget_breaches: np.ndarray
    cooldown_breaches: np.ndarray
    backlog_at: np.ndarray
    backlog: np.ndarray
    queued_s: float  # the engine's waiting tasks (QA included) integrated over [warmup_s, horizon_s): task-seconds
    wall_s: float


class Simulation:
    """One replication. `run()` returns its `RunRecord`; `progress` is called with the simulated time now and then."""

    def __init__(
        self,
        scenario: Scenario,
        replication: int = 0,
        strategy: str | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.replication = replication
        self.strategy = strategy or scenario.strategy
        if self.strategy not in ENGINE_STRATEGY:
            raise ValueError(f"strategy: expected one of {', '.join(ENGINE_STRATEGY)}, got {self.strategy!r}")
        self._pull = self.strategy in PULL_STRATEGIES
        self._progress = progress
        self.clock = VirtualClock()
        # Kept to read a submitted item's task back (its severity, as routed) instead of scoring the item again.
        self._store = MemoryStore(audit_capacity=AUDIT_KEPT)
        # QA samples the same tasks under every strategy of one replication (common random numbers).
        qa_secret = f"{scenario.seed}/{replication}"
        self.engine = Engine(
            self._store, self.clock, scenario.ops, strategy=ENGINE_STRATEGY[self.strategy], qa_secret=qa_secret
        )
        with _fewer_collections():  # a day's draws are a million items, all kept: collecting finds nothing
            self.arrivals = sample_arrivals(scenario, replication)
            self.moderators = build_moderators(scenario, replication)
        self._queue_index = {queue.name: index for index, queue in enumerate(scenario.ops.queues)}
        size, staff = len(self.arrivals), len(self.moderators)
        self.queue = np.full(size, -1, dtype=np.int16)
        self.action = np.full(size, -1, dtype=np.int8)
        self.severe = np.zeros(size, dtype=bool)
        self.leased_at = np.full(size, np.nan)
        self.decided_at = np.full(size, np.nan)
        self.verdict = np.full(size, -1, dtype=np.int8)
        self.decided_by = np.full(size, -1, dtype=np.int32)
        self.abandoned_at = np.full(size, np.nan)
        # Per-moderator tallies as Python lists: each customer updates them, and a list cell is read and written
        # at a fraction of the cost of a numpy one. `busy_s` becomes an array in the run's record.
        self.busy_s: list[float] = [0.0] * staff
        self.overtime_s: list[float] = [0.0] * staff
        # When each moderator's reviews begun so far end, the latest: past a shift's end, that is their overtime
        # (a review begins only on shift, so one that ends after a shift's end was under way at it).
        self._works_until: list[float] = [0.0] * staff
        self.severe_reviews = np.zeros(staff, dtype=np.int64)
        # The work the window's on-duty time paid for, whenever its items arrived: what `cost_per_moderator_decision`
        # divides by.
        self.decisions = np.zeros(staff, dtype=np.int64)
        self.budget_breaches = np.zeros(staff, dtype=np.int64)
        self.cooldown_breaches = np.zeros(staff, dtype=np.int64)
        self._severe_ended: list[float] = [-math.inf] * staff  # when each moderator's last severe review ended
        self._severe_times: list[deque[float]] = [deque() for _ in range(staff)]
        # When each item runs out of patience, as plain floats (inf: never).
        self._gives_up: list[float] = (self.arrivals.at_s + self.arrivals.patience_s).tolist()
        self._row = {moderator_id: row for row, moderator_id in enumerate(self.moderators.ids)}
        # The rows a task decides, for tasks with duplicates only (the owner's row first); any other task decides
        # just the row its id names. A list per task would be a million more objects for the collector to walk.
        self._items_of_task: dict[str, list[int]] = {}
        # Each review's decision, by the row of the item it was made for (its task's id names that row): what a copy
        # that reaches the engine later is decided by, though that item may have left unreviewed.
        self._review_verdict = np.full(size, -1, dtype=np.int8)
        self._review_decided_at = np.full(size, np.nan)
        self._review_decided_by = np.full(size, -1, dtype=np.int32)
        self._available: list[bool] = [False] * staff
        self._busy: list[int] = [0] * staff
        self._idle: dict[int, None] = {}
        # Tasks waiting in the engine's queues, QA reviews included (its queue depths count them too): a pull run
        # polls while any waits beside an idle moderator. Item KPIs come from the item columns, not from this.
        self._waiting = 0
        self._submitted = 0
        self._poll_pending = False
        self._fruitless_polls = 0  # polls in a row that leased nothing
        self._ask_unstaffed_after = FRUITLESS_POLLS
        self._heap: list[tuple[float, int, int, object]] = []
        self._sequence = 0
        self._backlog_at: list[float] = []
        self._backlog: list[list[int]] = []
        # The engine's queued count, read after every event, and its exact integral over the window: Little's `L`
        # from the engine's state, not from the item columns it is checked against (see `kpis`).
        self._queued = 0
        self._queued_since = 0.0
        self._queued_s = 0.0

    # ---- the loop -------------------------------------------------------------------------------------------

    def run(self) -> RunRecord:
        with _fewer_collections():
            return self._run()

    def _run(self) -> RunRecord:
        started = time.perf_counter()
        for profile in self.moderators.profiles:
            self.engine.upsert_moderator(self._engine_profile(profile))
        horizon = self.scenario.horizon_s
        if not self._pull:
            self._push(0.0, _TICK, None)
        sample_every = min(max(horizon / BACKLOG_SAMPLES, BACKLOG_EVERY_S), horizon / BACKLOG_SAMPLES_AT_LEAST)
        self._push(0.0, _SAMPLE, None)
        # Plain floats with an infinite sentinel: the loop compares them once per event. A batch run takes its
        # arrivals by time at each tick, so they are no events of their own.
        arrival_at = [*self.arrivals.at_s.tolist(), math.inf] if self._pull else [math.inf]
        changes = self.moderators.changes
        change_at = [*(change.at_s for change in changes), math.inf]
        heap, clock, progress, queued = self._heap, self.clock, self._progress, self.engine.queued
        next_arrival, next_change = 0, 0
        report_every, next_report = horizon / 100.0, 0.0
        while True:
            t_arrival, t_change = arrival_at[next_arrival], change_at[next_change]
            t_event = heap[0][0] if heap else math.inf
            now = min(t_arrival, t_change, t_event)
            if now >= horizon:
                break
            clock.set(now)
            if progress is not None and now >= next_report:
                progress(now)
                next_report = now + report_every
            if t_change == now:
                change = changes[next_change]
                if change.shift_end:
                    self._overtime(change.moderator, now, change.next_shift_s)
                self._status(change.moderator, change.status)
                next_change += 1
            elif t_event == now and heap[0][1] == _DONE:
                self._finish(*heapq.heappop(heap)[3])  # type: ignore[misc]
            elif t_arrival == now:
                self._submit([next_arrival])
                next_arrival += 1
            else:
                _, kind, _, payload = heapq.heappop(heap)
                if kind == _ABANDON:
                    self._abandon(payload)  # type: ignore[arg-type]
                elif kind == _EXTEND:
                    self._extend(*payload)  # type: ignore[misc]
                elif kind == _TICK:
                    self._tick()
                else:
                    self._sample()
                    self._push(now + sample_every, _SAMPLE, None)
            depth = queued()
            if depth != self._queued:
                self._queued_changed(now, depth)
        if not self._pull:  # what arrived after the last tick was routed on arrival too, and waits at the horizon
            clock.set(horizon)
            self._submit_arrived()
        self._queued_changed(horizon, queued())
        if self._progress is not None:
            self._progress(horizon)
        return RunRecord(
            scenario=self.scenario,
            strategy=self.strategy,
            replication=self.replication,
            arrivals=self.arrivals,
            moderators=self.moderators,
            queue_names=list(self._queue_index),
            queue=self.queue,
            action=self.action,
            severe=self.severe,
            leased_at=self.leased_at,
            decided_at=self.decided_at,
            verdict=self.verdict,
            decided_by=self.decided_by,
            abandoned_at=self.abandoned_at,
            busy_s=np.array(self.busy_s),
            overtime_s=np.array(self.overtime_s),
            severe_reviews=self.severe_reviews,
            decisions=self.decisions,
            budget_breaches=self.budget_breaches,
            cooldown_breaches=self.cooldown_breaches,
            backlog_at=np.asarray(self._backlog_at),
            backlog=np.asarray(self._backlog, dtype=np.int64).reshape(len(self._backlog_at), len(self._queue_index)),
            queued_s=self._queued_s,
            wall_s=time.perf_counter() - started,
        )

    def _engine_profile(self, profile: ModeratorProfile) -> ModeratorProfile:
        """A pull run's moderator reviews one task at a time, so the engine holds one slot for them: with more, the
        poll's batch leased work to a moderator mid-review that they began only later, and the engine counted a
        severe item against their hourly budget at that lease, not when it was in front of them (budget breaches)."""
        return profile.model_copy(update={"capacity": 1}) if self._pull else profile

    def _push(self, at: float, kind: int, payload: object) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (at, kind, self._sequence, payload))

    # ---- arrivals -------------------------------------------------------------------------------------------

    def _submit(self, rows: list[int]) -> None:
        """Route arrived items. A batch run submits at its tick what arrived since the last one, each item routed
        as on arrival; one whose patience ran out before the tick leaves at once, when it gave up, so it still
        counts in its queue (an auto-action, or a copy of decided content, was decided on arrival and never waits;
        a copy whose review was under way when it arrived waits no more than that review does)."""
        now = self.clock.now()
        arrivals, gives_up = self.arrivals, self._gives_up
        results = self.engine.submit([arrivals.items[row] for row in rows])
        arrived = arrivals.at_s
        fresh: Task | None = None  # the last task these arrivals queued
        gone: list[int] = []  # rows whose patience ran out before they were submitted
        for row, result in zip(rows, results, strict=True):
            action = result.action
            self.action[row] = ACTION_CODE[action]
            if action is _REVIEW:
                assert result.task_id is not None and result.queue is not None
                self.queue[row] = self._queue_index[result.queue]
                fresh = self._store.task(result.task_id)
                assert fresh is not None
                self.severe[row] = fresh.severe
                self._waiting += 1
            elif action is _DUPLICATE:
                if self._copy_settled(row, result.task_id, result.duplicate_of):
                    continue
            else:
                self.decided_at[row] = arrived.item(row)  # routing acts on arrival, whenever a batch run submits
                self.verdict[row] = action is _AUTO_REMOVE
                continue
            if gives_up[row] <= now:
                gone.append(row)
            elif math.isfinite(gives_up[row]):
                self._push(gives_up[row], _ABANDON, row)
        for row in gone:
            self._abandon(row)
        if fresh is not None and self._pull and self._idle:
            self._offer(fresh)

    def _copy_settled(self, row: int, task_id: str | None, duplicate_of: str | None) -> bool:
        """Whether the copy at `row` was decided by the time it reaches the engine; else it rides on the open review
        `task_id`. A batch run submits at its tick, after the copy arrived, so the review may have ended in between:
        a copy that arrived before the decision rode on that review all the same, as in a pull run, and is decided
        with it, by its moderator (found by a probe: such copies read as decided by no one, so the time to decision
        and the moderators' accuracy left them out). Only content decided before the copy arrived, or actioned
        automatically, decides it on arrival, by routing. A copy whose review is under way when it arrives is under
        review from then on, as its original is (and no longer gives up): a batch run leases only at its ticks,
        after submitting, so a review leased when the copy reaches the engine, or decided after the copy arrived,
        was under way when it arrived."""
        arrived = self.arrivals.at_s.item(row)
        if task_id is None:  # a copy of an automatic action: decided with it, on arrival
            assert duplicate_of is not None
            self.decided_at[row] = arrived
            self.verdict[row] = self.verdict.item(item_index(duplicate_of))
            return True
        review = item_index(task_id)
        decided_at = self._review_decided_at.item(review)
        if decided_at <= arrived:
            self.decided_at[row] = arrived
        elif not math.isnan(decided_at):
            self.leased_at[row] = arrived
            self.decided_at[row] = decided_at
            self.decided_by[row] = self._review_decided_by.item(review)
        else:
            self._items_of_task.setdefault(task_id, [review]).append(row)
            task = self._store.task(task_id)
            if task is not None and task.state is TaskState.LEASED:
                self.leased_at[row] = arrived
            return False
        self.verdict[row] = self._review_verdict.item(review)
        return True

    def _offer(self, task: Task) -> None:
        """New work and idle moderators: the longest idle asks first; if the item is not for them, only those
        eligible for it ask (one vectorised eligibility check instead of a `next_for` per idle moderator)."""
        first = next(iter(self._idle))
        if self._pull_for(first):
            return
        idle = list(self._idle)
        if not idle:
            return
        eligible = self.engine.model.value([task], [self.moderators.ids[m] for m in idle], self.clock.now())
        for column in eligible.indices.tolist():
            if self._pull_for(idle[column]):
                return

    # ---- moderators -----------------------------------------------------------------------------------------

    def _pull_for(self, moderator: int) -> bool:
        view = self.engine.next_for(self.moderators.ids[moderator])
        if view is None:
            self._idle[moderator] = None
            if self._waiting > 0 and not self._poll_pending:
                self._poll_pending = True
                self._push(self.clock.now() + self.scenario.tick_s, _TICK, None)
            return False
        assert view.lease_token is not None
        self._start(view.id, moderator, view.lease_token)
        return True

    def _start(self, task_id: str, moderator: int, token: str) -> None:
        now = self.clock.now()
        self._idle.pop(moderator, None)
        self._busy[moderator] += 1
        row = item_index(task_id)
        qa = task_id.endswith(QA_SUFFIX)
        if not qa:
            for waiting in self._items_of_task.get(task_id, [row]):
                if math.isnan(self.leased_at.item(waiting)) and math.isnan(self.abandoned_at.item(waiting)):
                    self.leased_at[waiting] = now
        self._waiting -= 1
        arrivals = self.arrivals
        item = arrivals.items[row]
        # `item` reads a draw as a Python float, not a numpy scalar: the same double, cheaper to read and use.
        normal = (arrivals.qa_normal if qa else arrivals.normal).item(row)
        unit = (arrivals.qa_exponential if qa else arrivals.exponential).item(row)
        handling = self.moderators.handling_s(moderator, item.modality, item.duration_s, normal, unit)
        lease_s = self.scenario.ops.lease_s + item.duration_s
        decides = True
        if handling >= lease_s - 1.0:
            # The longest the engine lets a lease run, in all (see `Engine.extend`): a review that needs longer
            # is handed back unfinished `LEASE_MARGIN_S` before then, as a review tool about to lose its lease
            # would, for someone else (handed back at the lease's last instant, it had expired already).
            longest = lease_s + MAX_EXTEND_S - 1.0
            if handling > longest - LEASE_MARGIN_S:
                handling, decides = longest - LEASE_MARGIN_S, False
            self._extend(task_id, moderator, token, now + min(handling + LEASE_MARGIN_S, longest))
        if self.severe.item(row):
            self._count_severe(moderator, now)
        self.busy_s[moderator] += _overlap(now, now + handling, self.scenario.warmup_s, self.scenario.horizon_s)
        if now + handling > self._works_until[moderator]:
            self._works_until[moderator] = now + handling
        # The review's end carries who holds it under which lease: all `_finish` needs, with no index to keep.
        self._push(now + handling, _DONE, (task_id, row, qa, moderator, token, decides))

    def _extend(self, task_id: str, moderator: int, token: str, until: float) -> None:
        """Keep the lease until `until`, asking for at most `MAX_EXTEND_S` at a time as a review tool would, and
        again `LEASE_MARGIN_S` before each extension runs out: a review of a long video may need several."""
        now = self.clock.now()
        step = min(until - now, MAX_EXTEND_S)
        try:
            self.engine.extend(task_id, token, self.moderators.ids[moderator], step)
        except Conflict:
            return  # handed back meanwhile (the moderator went off shift): nothing left to keep
        if now + step < until:
            self._push(now + step - LEASE_MARGIN_S, _EXTEND, (task_id, moderator, token, until))

    def _overtime(self, moderator: int, shift_end: float, next_shift: float) -> None:
        """Count the time past `shift_end` the moderator works on, finishing what they began on shift, until their
        next shift begins: a review that runs into it is on shift from then on, and on-shift time is paid already
        (counting it again paid a review of 5 h begun in one shift and ended in the next for 1.1 h too many)."""
        until = min(self._works_until[moderator], next_shift)
        if until > shift_end:
            self.overtime_s[moderator] += _overlap(shift_end, until, self.scenario.warmup_s, self.scenario.horizon_s)

    def _count_severe(self, moderator: int, now: float) -> None:
        """Severe reviews per moderator, and a breach whenever one exceeds the group's rolling-hour budget or starts
        within the group's cool-down of the end of the moderator's last severe review."""
        if now >= self.scenario.warmup_s:
            self.severe_reviews[moderator] += 1
        seen = self._severe_times[moderator]
        seen.append(now)
        while seen[0] <= now - 3600.0:
            seen.popleft()
        group = self.moderators.groups[int(self.moderators.group[moderator])]
        limit = group.severe_per_hour
        if now >= self.scenario.warmup_s:
            if limit is not None and len(seen) > limit:
                self.budget_breaches[moderator] += 1
            if now - self._severe_ended[moderator] < group.cooldown_s:
                self.cooldown_breaches[moderator] += 1

    def _finish(self, task_id: str, row: int, qa: bool, moderator: int, token: str, decides: bool) -> None:
        now = self.clock.now()
        self._busy[moderator] -= 1
        if self.severe.item(row):
            self._severe_ended[moderator] = now
        accuracy = self.moderators.accuracy.item(moderator)
        draw = (self.arrivals.qa_mistake if qa else self.arrivals.mistake).item(row)
        truth = self.arrivals.violating.item(row)
        verdict = truth if draw < accuracy else not truth
        moderator_id = self.moderators.ids[moderator]
        try:
            if decides:
                self.engine.decide(task_id, token, moderator_id, _DECISIONS[verdict])
            else:
                # Skipped, not released: a release let the next pull or batch give it straight back to them, to be
                # handed back unfinished again, forever, while a colleague idled.
                self.engine.skip(task_id, token, moderator_id, TOO_LONG)
        except Conflict:
            decides = False  # the lease was handed back meanwhile (the moderator went off shift)
        waits = None  # a task this review's end left waiting: itself, handed back, or the QA review its decision made
        if not decides:
            waits = task_id
        else:
            if now >= self.scenario.warmup_s:
                self.decisions[moderator] += 1
            if not qa:
                self._review_verdict[row] = verdict
                self._review_decided_at[row] = now
                self._review_decided_by[row] = moderator
                for decided in self._items_of_task.pop(task_id, [row]):
                    if math.isnan(self.abandoned_at.item(decided)):
                        self.decided_at[decided] = now
                        self.verdict[decided] = verdict
                        self.decided_by[decided] = moderator
                if self._store.task(task_id + QA_SUFFIX) is not None:  # sampled for QA
                    waits = task_id + QA_SUFFIX
        if waits is not None:
            self._waiting += 1
        if self._pull:
            if self._available[moderator]:
                self._pull_for(moderator)
            if waits is not None and self._idle:
                self._offer_waiting(waits)

    def _offer_waiting(self, task_id: str) -> None:
        """A task handed back unfinished, or a QA review a decision made, is waiting work for the idle, as a new
        one is, not only when someone next finishes a review or at the next poll (found by a probe: a QA review
        made while colleagues sat idle waited for one of them to end an unrelated review)."""
        task = self._store.task(task_id)
        if task is not None and task.state is TaskState.QUEUED:
            self._offer(task)

    def _status(self, moderator: int, status: ModeratorStatus) -> None:
        self.engine.set_status(self.moderators.ids[moderator], status)
        available = status is ModeratorStatus.AVAILABLE
        self._available[moderator] = available
        if not available:
            self._idle.pop(moderator, None)
        elif self._pull and self._busy[moderator] == 0:
            self._pull_for(moderator)

    # ---- the outside world and the clock --------------------------------------------------------------------

    def _abandon(self, row: int) -> None:
        """The item leaves if it still waits, at the time its patience ran out (now, or before a batch run's tick)."""
        if not (math.isnan(self.decided_at[row]) and math.isnan(self.leased_at[row])):
            return
        item_id = self.arrivals.items[row].id
        task_id = self._store.items([item_id])[item_id].task_id
        try:
            self.engine.cancel(item_id, actor="simulator")
        except Conflict:
            return  # under review: patience only runs out while waiting
        self.abandoned_at[row] = self._gives_up[row]
        # A task waits on while any copy of its item does (the original or a duplicate riding on it), and counts
        # as waiting until it is leased or its last copy leaves.
        task = None if task_id is None else self._store.task(task_id)
        if task is not None and task.state is TaskState.CANCELLED:
            self._waiting -= 1
            self._items_of_task.pop(task.id, None)  # nothing rides on a review withdrawn with its last copy

    def _tick(self) -> None:
        """Optimal: submit what arrived since the last tick (up to and including now), match, and tick again. Pull:
        a poll, scheduled only while a moderator sits idle next to waiting work, repeated until that stops or, once
        polls have leased nothing for a while, all that waits is work nobody on the roster may take: a QA review
        whose decider is the only one who could kept a one-moderator run polling every tick to the horizon (80,000 s:
        64,707 polls, 15.2 s of CPU). The engine's count walks the queues' lanes, a tenth of a pull run's time if
        asked after every poll that leased nothing, so it is asked after 10 such polls in a row, then 20, 40, ...
        while work someone may take waits (on a busy day, idle moderators wait long beside work they may not take)."""
        now = self.clock.now()
        if self._pull:
            self._poll_pending = False
            if not (self._idle and self._waiting > 0):
                return
            if self._fruitless_polls >= self._ask_unstaffed_after:
                if self._waiting <= self.engine.unstaffed():
                    self._fruitless_polls, self._ask_unstaffed_after = 0, FRUITLESS_POLLS
                    return
                self._ask_unstaffed_after *= 2
            self._poll_pending = True
            self._push(now + self.scenario.tick_s, _TICK, None)
        else:
            self._submit_arrived()
            self._push(now + self.scenario.tick_s, _TICK, None)
        leases = self.engine.assign_batch()
        if leases:
            self._fruitless_polls, self._ask_unstaffed_after = 0, FRUITLESS_POLLS
        else:
            self._fruitless_polls += 1
        for lease in leases:
            self._start(lease.task_id, self._row[lease.moderator_id], lease.lease_token)

    def _submit_arrived(self) -> None:
        """A batch run: submit what arrived since the last submission, up to and including now."""
        first, arrived = self._submitted, int(np.searchsorted(self.arrivals.at_s, self.clock.now(), side="right"))
        if arrived > first:
            self._submit(list(range(first, arrived)))
            self._submitted = arrived

    def _queued_changed(self, now: float, queued: int) -> None:
        """The engine's queue held `self._queued` tasks since the last change; from `now` it holds `queued`."""
        self._queued_s += self._queued * _overlap(
            self._queued_since, now, self.scenario.warmup_s, self.scenario.horizon_s
        )
        self._queued, self._queued_since = queued, now

    def _sample(self) -> None:
        self._backlog_at.append(self.clock.now())
        self._backlog.append(self.engine.depths())


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect the young generation less often for the duration of a run, then restore the process's setting."""
    before = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_EVERY, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _overlap(start: float, end: float, low: float, high: float) -> float:
    return max(0.0, min(end, high) - max(start, low))


def simulate(
    scenario: Scenario,
    replication: int = 0,
    strategy: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> RunRecord:
    """Run one replication of `scenario` (optionally under another strategy) and return what happened."""
    return Simulation(scenario, replication, strategy, progress).run()
