"""Admitting a batch of submitted items: each routed by its scores and its content's history, and given its item
record, its review task if it needs one, and its audit entry, all added to one `Changes` that the engine writes
before it touches its indexes, so a batch is stored whole or not at all.

A copy of content seen before carries that content's decision or rides on its review, which its harm rate makes more
urgent; an appeal or escalation asks what every review of its content asked; content seen again widens its open
reviews (`Widening.open_reviews`). Nothing here writes to the store or to the engine's indexes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter

from queueopt.domain import Action, Item, ItemStatus, Task
from queueopt.engine.content import ContentHistory
from queueopt.engine.records import evolved, item_payload, review_task, verdict_json
from queueopt.engine.widening import Widening
from queueopt.enqueue import Router, Routing
from queueopt.enqueue.router import HUMAN_ONLY, unlinked
from queueopt.errors import InvalidInput
from queueopt.store import Changes, ItemRecord, Store, TaskWrite
from queueopt.store.records import AuditEntry

# Members read on every submit, as module names: reading one off its enum class costs about four times a global.
_ACTION_REVIEW, _ACTION_DUPLICATE, _ITEM_QUEUED = Action.REVIEW, Action.DUPLICATE, ItemStatus.QUEUED
_ITEM_DUPLICATE, _ITEM_AUTO_ACTIONED = ItemStatus.DUPLICATE, ItemStatus.AUTO_ACTIONED
_CONTENT_HASH = attrgetter("content_hash")


@dataclass(slots=True)
class Admitted:
    """A routed batch. The engine writes `changes`, then moves its indexes from `replaced` (open tasks the batch
    rewrote: raised by copies riding on them, or widened) to `tasks` (every task written); `counted` is each new
    item's modality and action, for the submit counter; `widened` says open reviews were widened, whose leases taken
    back are charged once written."""

    ids: list[str]
    records: dict[str, ItemRecord]
    changes: Changes
    replaced: list[Task]
    tasks: list[Task]
    counted: list[tuple[str, str]]
    widened: bool


class Intake:
    """Routes submitted batches for one engine: its store (items already stored), router, content histories,
    widening of open reviews, and open tasks by id (shared, not copied)."""

    def __init__(
        self, store: Store, router: Router, content: ContentHistory, widening: Widening, open_tasks: Mapping[str, Task]
    ) -> None:
        self._store = store
        self._router = router
        # One bound method for every record to make its explanation with (see `_record`), not one per record.
        self._explain = router.explain
        self._content = content
        self._widening = widening
        self._open = open_tasks

    def admit(self, items: Sequence[Item], actor: str, now: float) -> Admitted:
        """The batch routed, for the engine to commit; an id already stored keeps its stored record, one id twice
        in the batch must be the same item twice, and an appeal or escalation must name its content (`unlinked`)."""
        # Each id read once: reading a pydantic model's attribute costs several times a local's.
        ids = [item.id for item in items]
        existing = self._store.items(ids)
        sent: dict[str, Item] = {}
        fresh: dict[str, Item] = {}
        for index, (item_id, item) in enumerate(zip(ids, items, strict=True)):
            first = sent.setdefault(item_id, item)
            if first is not item and first != item:
                # A resent copy is harmless; two different items under one id would store one (or neither, when
                # the id is stored) and drop the other while acknowledging both.
                raise InvalidInput(
                    f"the batch already has a different item with this id (items.{ids.index(item_id)})",
                    field=f"items.{index}.id",
                )
            if item_id in existing:
                continue
            fresh[item_id] = item
            problem = unlinked(item)
            if problem is not None:
                raise InvalidInput(problem, field=f"items.{index}.content_hash")
        seen, rulings = self._content.seen(map(_CONTENT_HASH, fresh.values()))
        current = {
            value: handling
            for value, entries in seen.items()
            if (handling := self._content.current_handling(entries, rulings.get(value)))
        }
        # The batch's last item with each content handled on its own, as admitted: a later copy in the batch is
        # compared with it. Its `DuplicateOf` is made only for such a copy, and few items have one.
        firsts: dict[str, tuple[ItemRecord, Task | None]] = {}
        changes = Changes()
        tasks: list[Task] = []
        records: dict[str, ItemRecord] = dict(existing)
        counted: list[tuple[str, str]] = []
        riding: dict[str, float] = {}  # pending tasks this batch's copies attach to, and the harm rate they add
        asking: set[str] = set()  # content seen before that this batch reviews: its open reviews ask as much
        # Content seen before that this batch actions without a review, with those copies: what their reviews would
        # ask is worked out only for content with an open review (`Widening.open_reviews`), which few copies have.
        unreviewed: dict[str, list[Item]] = {}
        route = self._router.route
        arrivals = list(fresh.items())
        if len(arrivals) > 1 and any(item.source in HUMAN_ONLY for item in fresh.values()):
            # Appeals and escalations last: one asks what every review of its content asked, and the original
            # may come later in the same batch (a pipeline flushing two streams at once); routed first, the
            # appeal of child-abuse material asked no clearance.
            arrivals.sort(key=_asked_by_a_person)
        for item_id, item in arrivals:
            content_hash = item.content_hash
            duplicate = None
            if content_hash:
                if item.source in HUMAN_ONLY:
                    duplicate = self._content.earlier_reviews(seen.get(content_hash, []))
                elif content_hash in firsts:
                    duplicate = self._content.owner_of(*firsts[content_hash])
                else:
                    duplicate = current.get(content_hash)
            try:
                routing = route(item, duplicate)
            except InvalidInput as error:
                raise InvalidInput(error.message, field=f"items.{ids.index(item_id)}.{error.field}") from None
            record, task = self._record(item_id, item, routing, now, actor, changes)
            records[item_id] = record
            if task is not None:
                tasks.append(task)
                if content_hash in seen:
                    asking.add(content_hash)
            elif content_hash in seen and _shown_to_nobody(routing):
                unreviewed.setdefault(content_hash, []).append(item)
            if routing.action is _ACTION_DUPLICATE:
                if routing.verdict is None:  # rides on a review still to decide, so on its task
                    owner = record.task_id
                    assert owner is not None
                    riding[owner] = riding.get(owner, 0.0) + routing.priority
            elif content_hash and item.source not in HUMAN_ONLY:
                # Handled on its own (new content, or more than its owner covered): the copy later ones are
                # compared with. An appeal is about a decision, not the content's first handling.
                firsts[content_hash] = record, task
                changes.owners.append((content_hash, item_id))
                seen.setdefault(content_hash, []).append((item_id, True, record, task))
            elif content_hash:
                changes.appeals.append((content_hash, item_id))
                seen.setdefault(content_hash, []).append((item_id, False, record, task))
            # A member's `_value_` is its value as stored on it, read at a fraction of the `.value` property's
            # cost; `str()` would copy it, a new string to hash in the count.
            counted.append((item.modality._value_, routing.action._value_))
        replaced = self._raise_for_copies(riding, tasks, changes) if riding else []
        widening = asking or unreviewed
        if widening:
            self._widening.open_reviews(asking, unreviewed, seen, tasks, changes, replaced, actor, now)
        return Admitted(ids, records, changes, replaced, tasks, counted, bool(widening))

    def _raise_for_copies(self, riding: dict[str, float], tasks: list[Task], changes: Changes) -> list[Task]:
        """Add to each waiting task the harm rate of the copies that now ride on it, and return the tasks replaced.

        A task's priority is the `c` of the cμ rule: the harm that accrues while it waits. Every copy accrues its
        own views until the one decision removes them all, so the copies' rates add up: a viral re-upload makes
        its first copy's review urgent, as its own review would have been. A task made in this batch is raised in
        place, before it is written; a task under review is raised too, so that it comes back to its queue as urgent
        as its copies make it if its lease is released or runs out. `cancel` takes a withdrawn copy's rate off.
        """
        made = {task.id: index for index, task in enumerate(tasks)}
        inserts = {write.task.id: write for write in changes.tasks if write.expect is None}
        replaced: list[Task] = []
        for task_id, extra in riding.items():
            index = made.get(task_id)
            if index is not None:
                tasks[index] = inserts[task_id].task = evolved(tasks[index], priority=tasks[index].priority + extra)
                continue
            task = self._open.get(task_id)  # open tasks only: queued or leased
            if task is None:
                continue
            raised = evolved(task, priority=task.priority + extra)
            changes.tasks.append(TaskWrite(raised, (task.state, task.attempt)))
            replaced.append(task)
            tasks.append(raised)
        return replaced

    def _record(
        self, item_id: str, item: Item, routing: Routing, now: float, actor: str, changes: Changes
    ) -> tuple[ItemRecord, Task | None]:
        """The item's record, its task if it needs a review, and one audit entry, all added to `changes`.

        The audit note is the routing's one-line reason (for a review, the rule and queue), so the full
        explanation is stored only on the item, where `Engine.item` reads it. The record makes the item's JSON
        and a review's explanation from the (frozen) item when they are first read (see `ItemRecord`): a review
        was routed without a duplicate, and routing is pure, so they read the same then as now. The functions
        are shared by every record, which keeps only the item (a closure per record would add objects for the
        garbage collector to walk, a million of them in a simulated day).
        """
        action, queue, priority, _, _, _, _, _, reason, earlier, _ = routing  # one read for all
        record = ItemRecord(
            item_id,
            item_payload,
            _ITEM_QUEUED,
            None,
            queue,
            priority,
            action,
            self._explain if action is _ACTION_REVIEW and earlier is None else routing.explanation,
            item.__dict__["content_hash"],  # a pydantic model's field value: a subscript, not an attribute lookup
            now,
            item=item,
        )
        task = None
        if action is _ACTION_REVIEW:
            assert queue is not None
            record.task_id = item_id
            task = review_task(item_id, item, routing, now)
            changes.tasks.append(TaskWrite(task))
            transition = "queued"
        elif action is _ACTION_DUPLICATE:
            owner = routing.duplicate_of
            assert owner is not None
            record.status = _ITEM_DUPLICATE
            record.task_id = owner.task_id
            record.duplicate_of = owner.item_id
            record.queue = None
            if owner.verdict is not None:
                record.verdict = owner.verdict
                # The decision as made (an enforcement action such as a legal report applies to every copy).
                record.decision = owner.decision or verdict_json(owner.verdict, owner.policy)
                record.decided_at = now
            transition = "duplicate"
        else:
            assert routing.verdict is not None
            record.status = _ITEM_AUTO_ACTIONED
            record.verdict = routing.verdict
            record.decision = verdict_json(routing.verdict, routing.policy)
            record.decided_at = now
            transition = str(action)
        changes.items.append(record)
        changes.audit.append(AuditEntry(now, record.task_id, item_id, actor, transition, reason))
        return record, task


def _shown_to_nobody(routing: Routing) -> bool:
    """Whether a routing that makes no task acts without anyone reviewing the content: removed or approved
    automatically, or a copy inheriting such an action. A copy riding on a review, or inheriting its decision, asks no
    more than that review did (`Router.covers`)."""
    earlier = routing.duplicate_of
    return routing.action is not _ACTION_DUPLICATE or (earlier is not None and earlier.action is not _ACTION_REVIEW)


def _asked_by_a_person(arrival: tuple[str, Item]) -> bool:
    return arrival[1].source in HUMAN_ONLY
