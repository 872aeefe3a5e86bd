"""The engine: the task lifecycle, driven by a clock it is handed, persisted through a store it is handed.

queued -> leased -> decided; leased -> queued on release, skip or expiry; queued -> cancelled
(docs/lifecycle.md draws it). Every transition is one `Changes` written atomically with its audit entries
and conditioned on the task's state and lease attempt, and only after the store accepted it does the engine
update its in-memory indexes. So a crash between the two loses nothing: on restart the indexes are rebuilt
from the store.

One lock serialises the engine: HTTP handlers in a thread pool, the assigner loop and the sweeper may call
it at once, and each call is short.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Sequence
from operator import attrgetter

import numpy as np
import orjson
from pydantic import ValidationError

from queueopt.assign import load_solvers, solve
from queueopt.capability import Model, ModeratorProfile
from queueopt.clock import Clock
from queueopt.config import MAX_EXTEND_S, OpsConfig, QueueConfig
from queueopt.domain import (
    OPEN_STATES,
    QA_SUFFIX,
    Decision,
    Item,
    ItemStatus,
    ModeratorStatus,
    Task,
    TaskKind,
    TaskState,
)
from queueopt.engine.audit_notes import LEASE_OF, LEASED_TO, SEVERE_NOTE, charge_taken_back, present_entry
from queueopt.engine.batch import batch_candidates, batch_value, still_open
from queueopt.engine.content import ContentHistory, item_of
from queueopt.engine.decisions import check_decider, check_decision, keep_checks_from, record_decision, record_ruling
from queueopt.engine.intake import Intake
from queueopt.engine.leases import LeaseBook
from queueopt.engine.pulls import most_urgent_eligible, most_valuable_eligible
from queueopt.engine.quality import qa_outcome, qa_task
from queueopt.engine.records import decision_json, evolved, requeued
from queueopt.engine.recovery import CHECKED_AGAINST, asked_by_item, asks_of_content, recall_recent
from queueopt.engine.retries import ended_otherwise, own_record, signed_record
from queueopt.engine.roster import Roster
from queueopt.engine.sla_window import SlaWindow, within_sla
from queueopt.engine.stranded import stranded_work
from queueopt.engine.strategy import Strategy
from queueopt.engine.views import (
    EngineStats,
    ItemResult,
    ItemView,
    Lease,
    ModeratorView,
    QueueView,
    TaskView,
    item_result,
    item_view,
    moderator_view,
    queue_views,
    task_view,
)
from queueopt.engine.waiting import WaitingTasks
from queueopt.engine.widening import Widening
from queueopt.enqueue import Router
from queueopt.errors import Conflict, Forbidden, InvalidInput, NotEligible, NotFound, StaleLease
from queueopt.store import Changes, ItemRecord, Store, TaskWrite
from queueopt.store.base import RECOVERY_PAGE
from queueopt.store.records import AuditEntry, moderator_actor
from queueopt.store.retention import Purged

log = logging.getLogger("queueopt.engine")


# The members every lease, decision and expiry reads, as module names: reading a member off its enum class goes
# through the class's `__getattr__` hook, about four times a global's cost, and these run a million times a day.
_QUEUED, _LEASED, _DECIDED = TaskState.QUEUED, TaskState.LEASED, TaskState.DECIDED
_REVIEW = TaskKind.REVIEW
_CONFIG_ASKS_MORE = "the config now asks more of its reviewer"  # why a restart took a widened task back
# The statuses that hand every lease back, with the audit note saying so.
_OFF_WORK = {ModeratorStatus.OFFLINE: "moderator went offline", ModeratorStatus.SUSPENDED: "moderator suspended"}
_NOT_KEPT = " (never submitted, or settled and purged after the retention period)"
_SEVERE = attrgetter("severe")


class Engine:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: OpsConfig,
        model: Model | None = None,
        *,
        strategy: str = "optimal",
        qa_secret: str | None = None,
    ) -> None:
        """`qa_secret` keys the QA sampling draw (`qa_draw`); by default the store's, which every replica shares. A
        simulation passes its own, so that its runs are reproducible."""
        self._store = store
        self.qa_secret = store.secret("qa_sampling") if qa_secret is None else qa_secret
        self._clock = clock
        self._config = config
        self._model = model if model is not None else Model(config)
        self._strategy = Strategy.named(strategy)
        self._router = Router(config)
        self._lock = threading.RLock()
        self._tasks: dict[str, Task] = {}
        self._waiting = WaitingTasks(config, self._model, self._strategy, self._tasks)
        self._leases = LeaseBook()
        self._sla = {queue.name: SlaWindow() for queue in config.queues}
        self.stats = EngineStats()
        self._roster = Roster(self._model, self._leases)
        self._content = ContentHistory(store, self._router, self._tasks)
        self._widening = Widening(self._router, self._model, self._content, self._tasks)
        self._intake = Intake(store, self._router, self._content, self._widening, self._tasks)
        load_solvers()
        self._recover()
        self._roster.restore_learning(store.learning())

    @property
    def config(self) -> OpsConfig:
        return self._config

    @property
    def model(self) -> Model:
        return self._model

    # ---- recovery -------------------------------------------------------------------------------------------

    def _recover(self) -> None:
        """Rebuild every index from the store; leases that ran out while we were down go back to their queues.

        Each step ends with a beat (`Store.beat_serving`), and so does each `RECOVERY_PAGE` of open tasks read and
        indexed, and each page of the audit read back: on a large backlog recovery takes seconds (300,000 open tasks
        on PostgreSQL: 10 s, and more when a new config widens them), and a standby waiting for the lock judges a
        holder whose last beat is older than its bound (10 s by default, 3 s at least) hung, so without them it
        would unseat an engine still starting, and its own start could be unseated the same way. Beats only between
        steps left 7 s of silence at 300,000 tasks, and with two standbys each unseated the other's new engine in
        turn: 30 take-overs and 267 s to serve 600,000 tasks again at a bound of 3 s (found by a probe)."""
        beat = self._store.beat_serving
        for moderator_id, profile in self._store.moderators().items():
            try:
                self._roster.put(ModeratorProfile.model_validate_json(profile))
            except (ValidationError, InvalidInput) as error:
                # A profile the current config no longer accepts stays stored, unassignable, until fixed.
                log.warning("moderator %s not loaded, so not assignable until put again: %s", moderator_id, error)
        beat()
        open_tasks = self._store.open_tasks(each_page=beat)
        beat()
        stranded = stranded_work(self._config, open_tasks)
        if stranded is not None:
            raise Conflict(stranded[1], field=stranded[0])
        # The past first, then what is held now: the audit's ended severe reviews set when cool-downs began, and
        # indexing the leases held counts the severe reviews still under way, which no ended one may take back.
        for moderator_id in recall_recent(self._store, self._model, self._config, self._sla, self._clock.now()):
            self._hold_back(moderator_id)
        beat()
        for start in range(0, len(open_tasks), RECOVERY_PAGE):
            self._index(open_tasks[start : start + RECOVERY_PAGE])
            beat()
        self.expire()
        beat()
        self._hand_back_unallowed()
        beat()
        self._widen_to_config()
        beat()

    def _hand_back_unallowed(self) -> None:
        """Leases the engine was stopped with, checked against the config and profiles it starts with: the config
        may now require more of a task (a clearance added to its area), a holder's profile may have changed, or
        no longer load (a clearance tier renamed), while the lease was out. What `upsert_moderator` takes away
        when a profile changes is handed back here too, and every lease of a holder not on the roster."""
        for moderator_id, held in self._leases.holders().items():
            tasks = [self._tasks[task_id] for task_id in held]
            changes = Changes()
            if self._model.knows(moderator_id):
                old, new = self._hand_back(moderator_id, tasks, "recovery", changes)
            else:
                old, new = tasks, self._released(tasks, "recovery", "moderator not on the roster", changes)
            self._commit(changes, old, new)

    def _widen_to_config(self) -> None:
        """Each open task as severe and as cleared as its content asks under the config the engine starts with
        (`Router.content_asks`), never less than it was. A task keeps the severity and clearance tiers it was routed
        with, which the model and `_hand_back_unallowed` read, so a config that made an area severe or cleared left
        the backlog as it was (found by two probes: gore made severe, and a moderator with a budget of one an hour
        reviewed five gore items in two and a half minutes; gore given a tier, and a moderator without it kept
        their lease through the restart). A config asking less relaxes nothing on open work: a protection is never
        taken off a task while it is open. The wider tasks are written; a lease the wider task no longer allows, or
        that turned severe, goes back as one of content seen again does (`Widening.widened`), audited by `recovery`, and
        is charged to its holder. The config they were last checked against is kept in the store (its policy areas
        are all that decide what content asks): a restart with the same one reads no item, as re-reading each open
        task's item doubled the start of an engine with 100,000 open tasks on SQLite."""
        checked = asks_of_content(self._config)
        if self._store.setting(CHECKED_AGAINST) == checked:
            return
        asked_of = asked_by_item(self._store, self._router, self._content, self._tasks.values())
        now = self._clock.now()
        changes = Changes()
        old: list[Task] = []
        new: list[Task] = []
        for task in list(self._tasks.values()):
            asked = asked_of.get(task.item_id)
            if asked is None:
                continue
            wider = self._widening.widened(
                task, asked.severe, asked.clearance, _CONFIG_ASKS_MORE, "recovery", now, changes
            )
            if wider is not task:
                changes.tasks.append(TaskWrite(wider, (task.state, task.attempt)))
                old.append(task)
                new.append(wider)
        if old:
            self._commit(changes, old, new)
            charge_taken_back(self._model, changes.audit)
        self._store.keep_setting(CHECKED_AGAINST, checked)

    def save_learning(self) -> None:
        """Keep what QA outcomes and handling times taught the model in the store, for the next engine to start
        from (`Roster.restore_learning`). The service calls this every minute and when it stops: a crash forgets at
        most that minute's observations, never a decision (those are in the store as they are made). What was learned
        about a moderator whose profile did not load is saved again as it was, not lost."""
        with self._lock:  # held to read the model only: serialising and writing need no lock of the engine's
            learned = self._roster.learned()
            now = self._clock.now()
        self._store.save_learning(learned.model_dump_json(), now)

    def _index(self, tasks: Iterable[Task]) -> None:
        """Put the open ones of `tasks` in the indexes: a queued task in its queue, in its lane as of now; a held one
        in the lease book. The clock is read and due escalations are passed once for all of them, when the first is
        queued: a submit queues its whole batch at one instant, and another pass at that instant would move none."""
        now = None
        for task in tasks:
            state = task.state
            if state not in OPEN_STATES:
                continue
            self._tasks[task.id] = task
            if state is _QUEUED:
                if now is None:
                    now = self._clock.now()
                    self._waiting.escalate(now)
                self._waiting.push(task, now)
            elif task.holder is not None and task.lease_expires_at is not None:
                self._leases.add(task.holder, task.id, task.attempt, task.lease_expires_at)
                if task.severe:  # in front of them until `_unindex`: no cool-down runs meanwhile
                    self._model.severe_review_started(task.holder)

    def _unindex(self, task: Task) -> None:
        # Only a queued task waits in a queue, only a held one in the lease book: every lease and decision passes
        # here, and asking the other index is a wasted call.
        if task.state is _QUEUED:
            self._waiting.remove(task)
        elif task.holder is not None:
            self._leases.drop(task.holder, task.id)
            if task.severe:  # the lease ends or changes: the cool-down runs from the end of the exposure
                self._model.severe_review_ended(task.holder, self._clock.now())
        self._tasks.pop(task.id, None)

    def _commit(self, changes: Changes, old: Sequence[Task], new: Sequence[Task]) -> None:
        """Write, then (only then) move the in-memory indexes from `old` to `new`."""
        self._store.apply(changes)
        for task in old:
            self._unindex(task)
        self._index(new)

    # ---- submit ---------------------------------------------------------------------------------------------

    def submit(self, items: Sequence[Item], actor: str = "ingest") -> list[ItemResult]:
        """Route and store a batch, all or nothing (`Intake.admit`); an id already stored returns its stored
        result."""
        now = self._clock.now()
        with self._lock:
            batch = self._intake.admit(items, actor, now)
            self._commit(batch.changes, batch.replaced, batch.tasks)
            if batch.widened:
                charge_taken_back(self._model, batch.changes.audit)
            submitted = self.stats.submitted
            for key in batch.counted:  # Counter.update's generality (a Mapping check per call) costs more for few keys
                submitted[key] += 1
            records = batch.records
        return [item_result(records[item_id]) for item_id in batch.ids]

    # ---- assignment -----------------------------------------------------------------------------------------

    def _free_moderators(self) -> tuple[list[str], np.ndarray]:
        """Available moderators with a free slot and how many, in roster order, from the lease book's index."""
        moderators, slots = self._leases.free_slots()
        return moderators, np.array(slots, dtype=np.int64)

    def assign_batch(self) -> list[Lease]:
        """One batch: the top candidates of every queue against every moderator with a free slot.

        The engine's lock is held to pick and value the candidates and again to lease, but not for the solve in
        between, the largest part of a big batch (scipy's solver also lets go of the GIL): moderators' requests go
        on meanwhile instead of queueing behind it. So a pair the solve chose is leased only if it still holds
        then (`batch.still_open`), and a task is never leased twice: the lease is written under the lock, against the
        task the engine holds at that moment."""
        with self._lock:
            now = self._clock.now()
            self._expire(now)
            if not any(self._waiting.queues.depth(queue.name) for queue in self._config.queues):
                return []  # before the free moderators are listed: on a quiet day, hundreds of them every tick
            moderators, slots = self._free_moderators()
            if not moderators:
                return []
            # Only tasks one of them may take: a task nobody free may take would hold a place in the window.
            candidates = batch_candidates(self._config.queues, self._waiting, self._model.takers(moderators, now))
            if not candidates:
                return []
            severe = np.fromiter(map(_SEVERE, candidates), dtype=bool, count=len(candidates))
            # solve drops the caps itself when none can bind in this batch
            caps = self._model.severe_caps(moderators, now) if severe.any() else None
            value = batch_value(self._strategy, self._model, candidates, moderators, now, caps)
        started = time.perf_counter()
        matching = solve(
            value, slots, method=self._strategy.method, severe=None if caps is None else severe, severe_cap=caps
        )
        solved_s = time.perf_counter() - started
        with self._lock:
            now = self._clock.now()
            # Plain ints: indexing a list with numpy integers costs several times more.
            chosen = [
                (candidates[row], moderators[column])
                for row, column in zip(matching.task.tolist(), matching.moderator.tolist(), strict=True)
            ]
            leased = self._lease_pairs(still_open(chosen, self._tasks, self._leases, self._model, now), now, "assigner")
            self.stats.solver_seconds.append(solved_s)  # with the batch it timed: a refused one counts in neither
            self.stats.batches += 1
            self.stats.last_batch_size = len(leased)
        return [
            Lease(task.id, task.holder or "", task.lease_token or "", task.lease_expires_at or now) for task in leased
        ]

    def _lease_pairs(self, pairs: Sequence[tuple[Task, str]], now: float, actor: str) -> list[Task]:
        if not pairs:
            return []
        changes = Changes()
        leased = []
        for task, moderator_id in pairs:
            lease = evolved(
                task,
                state=_LEASED,
                attempt=task.attempt + 1,
                holder=moderator_id,
                leased_at=now,
                lease_expires_at=now + self._lease_length(task),
            )
            changes.tasks.append(TaskWrite(lease, (_QUEUED, task.attempt)))
            note = f"{LEASED_TO}{moderator_id}{SEVERE_NOTE}" if task.severe else f"{LEASED_TO}{moderator_id}"
            changes.audit.append(AuditEntry(now, task.id, task.item_id, actor, "leased", note))
            leased.append(lease)
        self._commit(changes, [task for task, _ in pairs], leased)
        self.stats.leased += len(leased)
        # A severe task counts against the moderator's wellbeing budget, and starts their cool-down, when it is leased
        # to them: from then on it is in front of them. Counting it only once decided let the next batch, half a
        # second later, lease another severe task past the budget and through the cool-down. The cool-down runs
        # again from when the review ends (`_unindex`): it is a rest after the content, not after its start.
        for task, moderator_id in pairs:
            if task.severe:
                self._model.record_severe(moderator_id, now)
        return leased

    def _lease_length(self, task: Task) -> float:
        """Long media needs time to watch: the configured lease plus the media's own duration."""
        return self._config.lease_s + task.duration_s

    def next_for(self, moderator_id: str) -> TaskView | None:
        """The moderator's current lease, or a fresh one chosen for them alone; None when nothing fits."""
        with self._lock:
            profile = self._model.profile(moderator_id)
            now = self._clock.now()
            self._expire(now)  # before the held lease is read: a lease past its expiry is no longer theirs
            self._present(moderator_id, moderator_actor(moderator_id))
            held = self._leases.held_by(moderator_id)
            if held:
                current = self._tasks[held[0]]
                return task_view(current, self._item_record(current.item_id))
            if profile.status is not ModeratorStatus.AVAILABLE:
                return None
            if self._strategy.ignores_moderator:
                task = most_urgent_eligible(
                    self._config.queues,
                    self._waiting,
                    self._tasks,
                    self._model,
                    self._strategy.urgency,
                    moderator_id,
                    now,
                )
            else:
                task = most_valuable_eligible(self._config.queues, self._waiting, self._model, moderator_id, now)
            if task is None:
                return None
            (lease,) = self._lease_pairs([(task, moderator_id)], now, moderator_actor(moderator_id))
            return task_view(lease, self._item_record(lease.item_id))

    def assign_to(self, task_id: str, moderator_id: str, actor: str = "admin") -> TaskView:
        """An admin's manual assignment, refused unless the moderator is eligible and has a free slot."""
        with self._lock:
            profile = self._model.profile(moderator_id)
            task = self._open_task(task_id)
            if task.state is not TaskState.QUEUED:
                raise Conflict(f"task {task_id!r} is {task.state.value}, not queued", field="task_id")
            now = self._clock.now()
            if profile.status is not ModeratorStatus.AVAILABLE:
                raise NotEligible(f"moderator {moderator_id!r} is {profile.status.value}", field="moderator_id")
            if self._leases.count(moderator_id) >= profile.capacity:
                raise NotEligible(f"moderator {moderator_id!r} has no free slot", field="moderator_id")
            if moderator_id in task.skipped_by:
                raise NotEligible(
                    f"moderator {moderator_id!r} is kept from task {task_id!r}: they skipped it, decided the content "
                    "it appeals, or made the decision it checks",
                    field="moderator_id",
                )
            if not self._model.eligible(task, moderator_id, now):
                raise NotEligible(
                    f"moderator {moderator_id!r} is not eligible for task {task_id!r}", field="moderator_id"
                )
            (lease,) = self._lease_pairs([(task, moderator_id)], now, actor)
            return task_view(lease, self._item_record(lease.item_id))

    # ---- lease holders --------------------------------------------------------------------------------------

    def _open_task(self, task_id: str) -> Task:
        task = self._tasks.get(task_id)
        if task is not None:
            return task
        stored = self._store.task(task_id)
        if stored is None:
            raise NotFound(f"no task {task_id!r}{_NOT_KEPT}", field="task_id")
        raise Conflict(f"task {task_id!r} is {stored.state.value}", field="task_id")

    def _hold_back(self, moderator_id: str) -> None:
        """A lease of the moderator's ran out: they walked away or closed the tool without handing it back, and
        pushing them more work would only see each lease run out in turn (found by a probe: an absent moderator
        collected 24 leases in 4 hours, each of which waited out its lease). Their own next action brings them back
        (`_present`). Not a holder off the roster (a lease that ran out while the engine was down, of a profile that
        no longer loads): they cannot act to come back, so they would stay counted idle for good (found by a
        reviewer); put on the roster again, they are pushed work as anyone new."""
        if self._model.knows(moderator_id):
            self._leases.mark_idle(moderator_id)

    def _returning(self, moderator_id: str) -> bool:
        """Whether the moderator, showing they are here, was idle after an expiry. A lease of theirs that ran out
        before they acted, not swept yet, is swept first: swept after, it would mark a moderator idle who had just
        acted (found by a reviewer: one who worked on one lease while another ran out)."""
        self._expire(self._clock.now())
        return self._leases.idle(moderator_id)

    def _present(self, moderator_id: str, actor: str) -> None:
        """The moderator showed they are here (asked for work, acted on a lease, refused or not): if they were idle
        after an expiry, batches may push them work again. Audited (`present`, by `actor`), as a restart reads the
        idle back from the audit (`recovery.recall_recent`); only a moderator who was idle costs a write. A status set
        writes the entry with its profile instead (`upsert_moderator`)."""
        if not self._returning(moderator_id):
            return
        self._store.apply(Changes(audit=[present_entry(self._clock.now(), moderator_id, actor)]))
        self._leases.mark_present(moderator_id)

    def _held(self, task_id: str, lease_token: str, moderator_id: str, now: float) -> Task:
        """The task, if `moderator_id` holds it under `lease_token` right now. A task they do not hold gets one
        answer, whether it exists, waits, is someone else's or is decided: a moderator may learn nothing of tasks
        that are not theirs (found by a probe: 404 against 409 told which decisions were sampled for QA, and the
        state of child-safety tasks they may not see). A moderator the engine does not know (a profile that no
        longer loads) holds nothing: their leases were handed back when the engine started."""
        if not self._model.knows(moderator_id):
            raise NotFound(f"no moderator {moderator_id!r}", field="moderator_id")
        try:
            return self._lease_held(task_id, lease_token, moderator_id, now)
        finally:
            # Any lease action shows the moderator present, one refused as well: after the expiry it may cause.
            self._present(moderator_id, moderator_actor(moderator_id))

    def _lease_held(self, task_id: str, lease_token: str, moderator_id: str, now: float) -> Task:
        """`_held` for a moderator the engine knows."""
        task = self._tasks.get(task_id)
        if task is None or task.holder != moderator_id:
            raise StaleLease(
                f"you hold no lease on task {task_id!r}: it expired, was handed back or decided, or was never yours",
                field="lease_token",
            )
        if task.lease_token != lease_token:
            raise StaleLease("not your current lease of this task (an earlier one)", field="lease_token")
        assert task.lease_expires_at is not None
        if task.lease_expires_at <= now:
            self._expire(now)
            raise StaleLease("the lease expired", field="lease_token")
        return task

    def decide(self, task_id: str, lease_token: str, moderator_id: str, decision: Decision) -> TaskView:
        """Record the decision; the same decision sent again under the same lease by its maker (a review tool retrying
        after a timeout) is answered as the first time and changes nothing (`_decided_before`)."""
        with self._lock:
            now = self._clock.now()
            try:
                task = self._held(task_id, lease_token, moderator_id, now)
            except StaleLease as refused:
                return self._decided_before(task_id, lease_token, moderator_id, decision, refused)
            queue = check_decision(self._config, task, decision)
            check_decider(self._config, task, decision, self._model.profile(moderator_id))
            note = decision_json(decision)
            signed = signed_record(note, moderator_id)
            decided = evolved(task, state=_DECIDED, holder=None, lease_expires_at=None, decision=signed)
            changes = Changes(tasks=[TaskWrite(decided, (_LEASED, task.attempt))])
            changes.audit.append(AuditEntry(now, task.id, task.item_id, moderator_actor(moderator_id), "decided", note))
            created: list[Task] = [decided]
            replaced: list[Task] = [task]
            record = scored = None
            if task.kind is _REVIEW:
                shown = record = record_decision(self._store, task, signed, decision.verdict, now, changes)
            else:
                scored = qa_outcome(self._store, self._model, task, decision)
                shown = self._item_record(task.item_id)  # a QA decision writes no item: read once, for both
            content_hash = shown.content_hash if shown is not None else None
            history = self._store.content_history([content_hash]).get(content_hash, []) if content_hash else []
            if task.kind is _REVIEW:
                qa = qa_task(self.qa_secret, task, queue, moderator_id, now)
                if qa is not None:
                    if history:
                        qa = evolved(qa, skipped_by=qa.skipped_by | self._content.appeal_deciders(history))
                    changes.tasks.append(TaskWrite(qa))
                    changes.audit.append(AuditEntry(now, qa.id, qa.item_id, "sampler", "queued", "QA sample"))
                    created.append(qa)
            keep_checks_from(self._tasks, task, history, moderator_id, now, changes, replaced, created)
            if record is not None:
                record_ruling(record, history, changes)
            # Learned and counted only once written: a decision refused with a 503 is retried, and would count twice
            # (found by a probe: one QA disagreement moved the decider's accuracy twice).
            self._commit(changes, replaced, created)
            self._learn(task, moderator_id, now)
            if task.kind is _REVIEW:
                self._count_within_sla(task, queue, now)
                self.stats.decided[str(decision.verdict)] += 1
            elif scored is not None:
                self._model.observe_accuracy(*scored)
                self.stats.qa_reviews[task.queue, scored[2]] += 1
            return task_view(decided, self._item_record(decided.item_id) if shown is None else shown)

    def _decided_before(
        self, task_id: str, lease_token: str, moderator_id: str, decision: Decision, refused: StaleLease
    ) -> TaskView:
        """A decision `_held` refused: the task as its decision left it, if this moderator decided it under this very
        lease and this is that decision again (a retry whose first answer was lost); `refused` for anyone else, or
        for a task decided before its decision was kept (schema version 10). The stored task's decision is read for
        every refusal, by one narrow read (`Store.decided`), so a refusal takes as long whether the task exists, is
        decided or waits: its timing tells a moderator no more about tasks not theirs than its answer does (measured
        on SQLite: reading the whole task took 17 us more for a task that exists than for one that does not; this
        read, about 1 us more for a decided task, against 9 us in all)."""
        token, signed = self._store.decided(task_id) or ("", "")
        recorded = own_record(lease_token, moderator_id, token, signed, refused)
        if Decision.model_validate(recorded) != decision:
            raise ended_otherwise(task_id, "decided", "decision", recorded)
        stored = self._store.task(task_id)
        assert stored is not None  # a decided task stays
        return task_view(stored, self._item_record(stored.item_id))

    def _count_within_sla(self, task: Task, queue: QueueConfig, now: float) -> None:
        """A written decision in its queue's SLA window (counted after the write: a refused one is not)."""
        within = within_sla(task, queue, now)
        self._sla[task.queue].add(now, within)
        if not within:
            self.stats.sla_breaches[task.queue] += 1

    def _learn(self, task: Task, moderator_id: str, now: float) -> None:
        if task.leased_at is not None:
            self._model.observe_handling(moderator_id, task.modality, max(now - task.leased_at, 1e-3), task.duration_s)

    def release(self, task_id: str, lease_token: str, moderator_id: str) -> TaskView:
        """Back to the queue (`_give_back`)."""
        return self._give_back(task_id, lease_token, moderator_id, {"transition": "released"})

    def skip(self, task_id: str, lease_token: str, moderator_id: str, reason: str) -> TaskView:
        """Back to the queue, never offered to this moderator again; a severe item stays counted as seen (from its
        lease)."""
        return self._give_back(task_id, lease_token, moderator_id, {"transition": "skipped", "reason": reason})

    def refer(self, task_id: str, lease_token: str, moderator_id: str, policy: str, reason: str) -> TaskView:
        """Back to the queue asking what the policy area `policy` asks of a reviewer (its certification, its clearance
        tier, severe if the area is), never offered to this moderator again: for content of an area its holder may
        not decide (`decisions.check_decider`), which a moderator meets in a task routed elsewhere (found by a probe:
        a spam-only moderator, with no clearance, could only decide child-abuse material as spam or as child safety
        themselves). A referral that makes the task severe charges the holder's wellbeing budget, as any take-back of
        a task that turned severe under its holder does (`Widening.widened`). Audited as the hand-back that ends the
        lease (`released`, `lease of <holder>: referred to <area>`) and a `referred` entry with the reason."""
        if policy not in self._config.areas_by_name:
            raise InvalidInput(f"unknown policy area {policy!r}", field="policy")
        return self._give_back(
            task_id, lease_token, moderator_id, {"transition": "referred", "policy": policy, "reason": reason}
        )

    def _give_back(self, task_id: str, lease_token: str, moderator_id: str, outcome: dict[str, str]) -> TaskView:
        """The holder hands the lease back: `outcome` is the audit transition (`released`, `skipped`, `referred`),
        a skip's or referral's reason and a referral's policy area. Kept, signed, with the task as the answer shows it
        (`Changes.handed_back`): the same hand-back sent again under that lease by its holder (a review tool retrying
        after a timeout) is answered as the first time and changes nothing (`_given_back_before`)."""
        with self._lock:
            now = self._clock.now()
            try:
                task = self._held(task_id, lease_token, moderator_id, now)
            except StaleLease as refused:
                return self._given_back_before(task_id, lease_token, moderator_id, outcome, refused)
            transition = outcome["transition"]
            actor = moderator_actor(moderator_id)
            changes = Changes()
            if transition == "referred":
                back = self._referred(task, outcome["policy"], actor, now, changes)
            else:
                back = requeued(task, skipped_by=task.skipped_by | {moderator_id} if transition == "skipped" else None)
            changes.audit.append(AuditEntry(now, task.id, task.item_id, actor, transition, outcome.get("reason", "")))
            shown = {"queue": back.queue, "priority": back.priority, "policy": back.policy, "severe": back.severe}
            signed = signed_record(orjson.dumps(outcome).decode(), moderator_id)
            changes.tasks.append(TaskWrite(back, (_LEASED, task.attempt)))
            changes.handed_back.append((task.id, lease_token, moderator_id, signed, orjson.dumps(shown).decode()))
            self._commit(changes, [task], [back])
            charge_taken_back(self._model, changes.audit)
            return task_view(back, self._item_record(back.item_id))

    def _referred(self, task: Task, policy: str, actor: str, now: float, changes: Changes) -> Task:
        """`task`, held, back to the queue its item's review goes to when scored certain in `policy` (`refer`), asking
        that area of its reviewer in place of the area it asked (found by a probe: a referral that only added the area
        left a child-abuse report in a 6 h spam queue at spam's priority, asking spam certification beside child
        safety, which the child-safety specialists lacked), kept from its holder. Moved to another queue it is queued
        there anew, from now: that queue's SLA and escalation steps start with the referral. A QA review keeps its
        queue and its priority of 0, and asks what the area asks."""
        assert task.holder is not None
        area = self._config.areas_by_name[policy]
        areas = tuple(other for other in task.areas if other != policy)
        asking = evolved(task, policy=policy, areas=areas)
        if task.kind is _REVIEW:
            item = item_of(self._item_record(task.item_id))
            review = self._router.review(item.model_copy(update={"signals": {**item.signals, policy: 1.0}}))
            assert review.queue is not None
            if review.queue != task.queue:
                asking = evolved(asking, queue=review.queue, aging_rate=review.aging_rate, enqueued_at=now)
            asking = evolved(asking, priority=max(task.priority, review.priority))
        tiers = frozenset(() if area.clearance is None else (area.clearance,))
        why = f"referred to {policy}"
        wider = self._widening.widened(asking, area.severe, tiers, why, actor, now, changes)
        if wider.state is _LEASED:  # still one its holder may take: handed back all the same
            note = f"{LEASE_OF}{task.holder}: {why}"
            changes.audit.append(AuditEntry(now, task.id, task.item_id, actor, "released", note))
            wider = requeued(wider)
        return evolved(wider, skipped_by=task.skipped_by | {task.holder})

    def _given_back_before(
        self, task_id: str, lease_token: str, moderator_id: str, outcome: dict[str, str], refused: StaleLease
    ) -> TaskView:
        """A release or skip `_held` refused: the task as that answer showed it (queued, no holder, whatever became of
        it since: never a later holder's lease), if this moderator handed it back under this very lease and this is
        that hand-back again (a retry whose first answer was lost); `refused` for anyone else, another token, or a
        lease handed back before schema version 12. Every refusal makes the one narrow read `Store.handed_back`, as
        a refused decision does `Store.decided` (`_decided_before`), so its timing tells nothing of tasks not theirs.
        """
        found = self._store.handed_back(task_id, lease_token, moderator_id)
        signed, shown = found or ("", "")
        recorded = own_record(lease_token, moderator_id, lease_token if found else "", signed, refused)
        if recorded != outcome:
            raise ended_otherwise(task_id, recorded["transition"], "hand-back", recorded)
        stored = self._store.task(task_id)
        assert stored is not None  # a task handed back stays
        back = evolved(stored, state=_QUEUED, holder=None, leased_at=None, lease_expires_at=None, **orjson.loads(shown))
        return task_view(back, self._item_record(back.item_id))

    def extend(self, task_id: str, lease_token: str, moderator_id: str, seconds: float) -> TaskView:
        if not 0.0 < seconds <= MAX_EXTEND_S:
            raise InvalidInput(f"must be in (0, {MAX_EXTEND_S:.0f}] seconds", field="seconds")
        with self._lock:
            now = self._clock.now()
            task = self._held(task_id, lease_token, moderator_id, now)
            assert task.lease_expires_at is not None and task.leased_at is not None
            length = self._lease_length(task)
            until = task.leased_at + length + MAX_EXTEND_S
            if now + seconds > until:
                raise Conflict(
                    f"a lease may be extended at most {MAX_EXTEND_S:.0f} s past its own {length:g} s, in all: this "
                    f"one until {until:.3f}, at most {max(until - now, 0.0):.3f} seconds from now",
                    field="seconds",
                )
            if now + seconds <= task.lease_expires_at:
                # The lease already runs that long: nothing to write, nor to audit as an extension it is not (found
                # by a fresh reader: a shorter extension after a longer one read as an extension in the audit).
                return task_view(task, self._item_record(task.item_id))
            longer = evolved(task, lease_expires_at=now + seconds)
            note = f"{seconds:g} s, until {now + seconds:.3f}"
            changes = Changes(
                tasks=[TaskWrite(longer, (TaskState.LEASED, task.attempt))],
                audit=[AuditEntry(now, task.id, task.item_id, moderator_actor(moderator_id), "extended", note)],
            )
            self._store.apply(changes)
            self._tasks[task.id] = longer
            assert longer.lease_expires_at is not None
            self._leases.reschedule(task.id, task.attempt, longer.lease_expires_at)
            return task_view(longer, self._item_record(longer.item_id))

    # ---- maintenance ----------------------------------------------------------------------------------------

    def expire(self) -> int:
        """Return every lease that has run out to its queue; the service's sweeper calls this periodically."""
        with self._lock:
            return self._expire(self._clock.now())

    def _expire(self, now: float) -> int:
        """Requeue the leases due by `now`. Every engine path calls this first and almost always nothing is due,
        so that case returns on one comparison."""
        if now < self._leases.next_expiry:
            return 0
        due = self._leases.due(now)
        old, new = [], []
        changes = Changes()
        seen: set[str] = set()
        for task_id, attempt in due:
            task = self._tasks.get(task_id)
            if task is None or task.state is not _LEASED or task.attempt != attempt or task_id in seen:
                continue
            seen.add(task_id)
            assert task.lease_expires_at is not None
            if task.lease_expires_at > now:
                continue  # extended since this expiry was scheduled
            back = requeued(task)
            changes.tasks.append(TaskWrite(back, (_LEASED, task.attempt)))
            changes.audit.append(
                AuditEntry(now, task.id, task.item_id, "sweeper", "expired", f"{LEASE_OF}{task.holder}")
            )
            old.append(task)
            new.append(back)
        if old:
            try:
                self._commit(changes, old, new)
            except BaseException:
                # The expiries taken off the heap go back on it: a refused write must leave the leases to run out
                # at the next call, not held for good (found by a probe: a lease stuck until the engine restarted).
                for task in old:
                    assert task.lease_expires_at is not None
                    self._leases.reschedule(task.id, task.attempt, task.lease_expires_at)
                raise
            for task in old:
                assert task.holder is not None
                self._hold_back(task.holder)
            self.stats.expired += len(old)
        return len(old)

    def cancel(self, item_id: str, actor: str = "ingest") -> ItemView:
        """Withdraw an item (the content is gone upstream). Its task is cancelled once no other copy needs it."""
        with self._lock:
            now = self._clock.now()
            record = self._item_record(item_id)
            if record.status not in (ItemStatus.QUEUED, ItemStatus.DUPLICATE) or record.decided_at is not None:
                raise Conflict(f"item {item_id!r} is {record.status.value}; nothing to cancel", field="item_id")
            changes = Changes(items=[evolved(record, status=ItemStatus.CANCELLED)])
            task = self._tasks.get(record.task_id or "")
            old, new = [], []
            if task is not None:
                # Only those the task's decision would still reach (`decisions.record_decision`): a copy carrying a
                # decision already rides on nothing, yet one an earlier purge left behind may name this task (found by
                # a hand-run mutation review: it kept a withdrawn item's review open).
                others = [
                    other
                    for other in self._store.items_of_task(task.id)
                    if other.id != item_id
                    and other.status in (ItemStatus.QUEUED, ItemStatus.DUPLICATE)
                    and other.decided_at is None
                ]
                if not others:
                    if task.state is TaskState.LEASED:
                        raise Conflict(
                            f"task {task.id!r} is under review by its holder; it can be cancelled once released",
                            field="item_id",
                        )
                    cancelled = evolved(task, state=TaskState.CANCELLED)
                    changes.tasks.append(TaskWrite(cancelled, (TaskState.QUEUED, task.attempt)))
                    old, new = [task], [cancelled]
                else:
                    # The copies left accrue views; the withdrawn one no longer does (`Intake._raise_for_copies`).
                    lowered = evolved(task, priority=math.fsum(other.priority for other in others))
                    changes.tasks.append(TaskWrite(lowered, (task.state, task.attempt)))
                    old, new = [task], [lowered]
            # The entry names the task only when the task is cancelled with the item: a copy withdrawn from a task
            # that stays open (under review, say) ends nothing of the task's (found by a probe: a task's audit read
            # leased, cancelled, then decided by its holder).
            ended = record.task_id if not new or new[0].state is TaskState.CANCELLED else None
            changes.audit.append(AuditEntry(now, ended, item_id, actor, "cancelled"))
            self._commit(changes, old, new)
            return self.item(item_id)

    def cancel_qa(self, task_id: str, actor: str, reason: str) -> TaskView:
        """Drop a QA review while it waits: an admin's way out for one nobody on the roster may take. A QA review is
        kept from the decision's maker, from whoever its task was kept from and from its content's appeal deciders,
        so in a small team one may wait for ever, counted `unstaffed`, and keep its content from the purge (found
        by a probe: three moderators, an original, its appeal and their QA reviews). The decision it would have
        checked stands; only a QA review may go this way, a review going with its item (`cancel`)."""
        with self._lock:
            now = self._clock.now()
            task = self._content.open_or_stored(task_id)
            if task is None:
                raise NotFound(f"no task {task_id!r}{_NOT_KEPT}", field="task_id")
            if task.kind is _REVIEW:
                raise Conflict(f"task {task_id!r} is a review: withdraw its item instead", field="task_id")
            if task.state is not _QUEUED:
                raise Conflict(f"task {task_id!r} is {task.state.value}; only a waiting QA review", field="task_id")
            cancelled = evolved(task, state=TaskState.CANCELLED)
            changes = Changes(
                tasks=[TaskWrite(cancelled, (_QUEUED, task.attempt))],
                audit=[AuditEntry(now, task.id, task.item_id, actor, "cancelled", reason)],
            )
            self._commit(changes, [task], [cancelled])
            return task_view(cancelled, self._item_record(task.item_id))

    # ---- moderators -----------------------------------------------------------------------------------------

    def upsert_moderator(
        self, profile: ModeratorProfile, actor: str | None = None, *, status_set: bool = False
    ) -> ModeratorView:
        """Create or update a profile; leases it no longer allows go back to their queues, audited as released by
        `actor` (an admin, say), else by the moderator. `status_set`: a status set through `set_status`, which shows
        a moderator idle after an expiry present even when it leaves their status as it was."""
        with self._lock:
            back = False  # a moderator idle after an expiry, shown present by this status set
            if "status" in profile.model_fields_set:
                # A profile whose status changes: an admin's read-modify-write of a profile sends back the status
                # it read, which says nothing of the moderator being back (found by a reviewer: that pushed an
                # absent moderator work again, audited as back). Written with the profile, so that a profile
                # refused (a 422, a 503) leaves them idle and audits nothing (found by the same reviewer).
                if (
                    status_set
                    or actor is None
                    or not self._model.knows(profile.id)
                    or self._model.profile(profile.id).status != profile.status
                ):
                    back = self._returning(profile.id)
            elif self._model.knows(profile.id):
                # A profile sent without a status (an admin changing a skill) keeps the moderator's: an offline
                # moderator is not made available by a change that never named their status.
                profile = profile.model_copy(update={"status": self._model.profile(profile.id).status})
            # The profile goes into the model first, as what it hands back is worked out against it; a refused
            # write (a busy or deposed store) puts the one before back, so a 503 changes nothing (found by a probe:
            # a suspension refused with a 503 stayed in memory while the moderator kept their lease).
            replaced = self._roster.put(profile)
            try:
                held = [self._tasks[task_id] for task_id in self._leases.held_by(profile.id)]
                changes = Changes(moderators=[(profile.id, profile.model_dump_json())])
                if back:
                    changes.audit.append(
                        present_entry(self._clock.now(), profile.id, actor or moderator_actor(profile.id))
                    )
                old, new = self._hand_back(profile.id, held, actor or moderator_actor(profile.id), changes)
                self._commit(changes, old, new)
            except BaseException:
                self._roster.undo(profile.id, replaced)
                raise
            if back:
                self._leases.mark_present(profile.id)
            return self.moderator(profile.id)

    def _hand_back(
        self, moderator_id: str, held: list[Task], actor: str, changes: Changes
    ) -> tuple[list[Task], list[Task]]:
        """The leases of `held` that the moderator's profile no longer allows, put back in their queues in `changes`
        (those tasks, and the tasks as they will be): all of them once offline or suspended, else each whose skills,
        language, region or clearance they no longer hold, and each severe one once they may see no severe items at
        all (`severe_per_hour` 0, a wellbeing intervention); audited as released by `actor` with the reason. A
        lowered budget that is not 0, or a cool-down, keeps the severe leases held: they were counted when leased."""
        if not held:
            return [], []
        profile = self._model.profile(moderator_id)
        off_work = _OFF_WORK.get(profile.status)
        if off_work is not None:
            return held, self._released(held, actor, off_work, changes)
        now = self._clock.now()
        lost = [task for task in held if not self._model.qualified(task, moderator_id, now)]
        new = self._released(lost, actor, "moderator no longer qualified for the task", changes)
        if profile.severe_per_hour == 0:
            severe = [task for task in held if task.severe and task not in lost]
            new += self._released(severe, actor, "moderator may see no severe items (severe_per_hour is 0)", changes)
            lost += severe
        return lost, new

    def seed_moderators(self, profiles: Iterable[ModeratorProfile]) -> list[str]:
        """Add the moderators the store does not hold yet, and return their ids. A stored profile is kept as it is:
        a roster file read at every start must not undo what the admin API changed since (a clearance revoked, a
        moderator set offline), nor a standby's take-over."""
        with self._lock:
            added = [profile for profile in profiles if not self._model.knows(profile.id)]
            for profile in added:
                self.upsert_moderator(profile)
            return [profile.id for profile in added]

    def set_status(
        self, moderator_id: str, status: ModeratorStatus, actor: str | None = None, *, by_admin: bool = True
    ) -> ModeratorView:
        """A moderator's own change (`by_admin` False) may neither suspend them nor lift a suspension: an admin
        suspends a moderator so that they get no work until the admin says so."""
        with self._lock:
            profile = self._model.profile(moderator_id)
            if not by_admin and ModeratorStatus.SUSPENDED in (status, profile.status):
                raise Forbidden(
                    f"moderator {moderator_id!r} is suspended; only an admin can lift it"
                    if profile.status is ModeratorStatus.SUSPENDED
                    else "only an admin can suspend a moderator",
                    field="status",
                )
            return self.upsert_moderator(profile.model_copy(update={"status": status}), actor, status_set=True)

    def _released(self, old: list[Task], actor: str, reason: str, changes: Changes) -> list[Task]:
        """The leases of `old` put back in their queues in `changes`, audited as released by `actor` for `reason`.
        The note names the holder, since the actor may be an admin or the engine: a restart reads it back to start
        the holder's cool-down after a severe review."""
        now = self._clock.now()
        new = [requeued(task) for task in old]
        changes.tasks += [TaskWrite(back, (_LEASED, task.attempt)) for task, back in zip(old, new, strict=True)]
        changes.audit += [
            AuditEntry(now, task.id, task.item_id, actor, "released", f"{LEASE_OF}{task.holder}: {reason}")
            for task in old
        ]
        return new

    # ---- read models ----------------------------------------------------------------------------------------

    def _item_record(self, item_id: str) -> ItemRecord:
        record = self._store.items([item_id]).get(item_id)
        if record is None:
            raise NotFound(f"no item {item_id!r}{_NOT_KEPT}", field="item_id")
        return record

    def item(self, item_id: str) -> ItemView:
        """The item, with the QA review of the decision it carries: only a decided item's is looked up (a review is
        sampled once decided), so a read of an item still waiting costs what it did."""
        record = self._item_record(item_id)
        qa = None
        if record.decision is not None and record.task_id is not None:
            with self._lock:
                qa = self._content.open_or_stored(record.task_id + QA_SUFFIX)
        return item_view(record, qa)

    def task(self, task_id: str) -> TaskView:
        with self._lock:
            task = self._content.open_or_stored(task_id)
        if task is None:
            raise NotFound(f"no task {task_id!r}{_NOT_KEPT}", field="task_id")
        return task_view(task, self._item_record(task.item_id))

    def depths(self) -> list[int]:
        """Each queue's waiting tasks, in config order: what a backlog sample needs of `queues`, at a fraction of
        its cost (no lease count, no roster check)."""
        with self._lock:
            return [self._waiting.queues.depth(queue.name) for queue in self._config.queues]

    def queued(self) -> int:
        """Tasks waiting in every queue, QA reviews included (the sum of `depths`), in O(1): the simulator reads
        it after every event to integrate the engine's own backlog exactly, the `L` its Little's law check needs
        independent of its records of each item. Read without the lock: the size of one dict is read atomically,
        and a count read under the lock is as stale once it is released; taking it made the call 1.3 us instead of
        0.35 us: times two events per item, 1-2% of a simulated M/M/50 run's CPU instead of 0.3-0.5%."""
        return len(self._waiting.queues)

    def idle_after_expiry(self) -> int:
        """Moderators batches push nothing to since a lease of theirs ran out: on a dashboard, people who walked
        away from a task, or a review tool that loses its leases."""
        with self._lock:
            return self._leases.idle_count()

    def unstaffed(self) -> int:
        """The waiting tasks nobody on the roster may take, whatever the time (see `WaitingTasks.unstaffed`): work no
        wait will hand anyone, so a simulator polling for work that time makes takeable stops when only this is left."""
        with self._lock:
            return sum(self._waiting.unstaffed(self._clock.now()).values())

    def queues(self) -> list[QueueView]:
        with self._lock:
            now = self._clock.now()
            return queue_views(
                self._config.queues,
                self._waiting.queues,
                self._leases.holders().values(),
                self._tasks,
                self._waiting.unstaffed(now),
                self._sla,
                now,
            )

    def moderator(self, moderator_id: str) -> ModeratorView:
        with self._lock:
            return moderator_view(self._model, self._leases, moderator_id)

    def purge(self, before: float, after_seq: int, limit: int) -> Purged:
        """One batch of `Store.purge`, under the engine's lock: a submit reads a content's history and writes the
        item that joins it under that lock, so a purge between the two could leave a copy riding on a deleted item.
        The engine keeps little of settled work in memory (open tasks, the hour's SLA window and what the model
        learned name no purged item); what it read of content histories is forgotten (`ContentHistory.forget`)."""
        with self._lock:
            purged = self._store.purge(before, after_seq, limit)
            if purged.items:
                self._content.forget()
            return purged

    def audit(self, since: float = 0.0, limit: int = 1000, after_seq: int = 0) -> list[AuditEntry]:
        return list(self._store.audit(since, limit, after_seq))

    def ready(self) -> bool:
        return self._store.ping()

    def close(self) -> None:
        with self._lock:
            self._store.close()
