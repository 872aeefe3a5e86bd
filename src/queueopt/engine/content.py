"""What the engine knows of each content (an item's `content_hash`) from its history: what a re-upload is compared
with, what an appeal asks and whom it is kept from, and the reviews of the content that are closed.

A content's history (`Store.content_history`) lists its items in the order they arrived: each copy handled on its
own, and each appeal or escalation of it. Copies that ride on a review, or inherit an automatic action, join no
history: they are read through the item they depend on. Everything here reads; the engine writes, under its lock, and
calls `forget` when a purge may have deleted what was read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain

import orjson

from queueopt.domain import QA_SUFFIX, Action, Item, ItemStatus, Task, TaskState, Verdict
from queueopt.engine.retries import signers
from queueopt.enqueue import ASKED_NOTHING, DuplicateOf, Router
from queueopt.enqueue.router import Asked
from queueopt.store import ItemRecord, Store

_DECIDED = TaskState.DECIDED
_ACTION_REVIEW = Action.REVIEW
_ITEM_CANCELLED = ItemStatus.CANCELLED
_NOT_ROUTED = frozenset({"id", "views_per_hour", "created_at"})  # an item's fields that set its priority alone

Seen = tuple[str, bool, ItemRecord | None, Task | None]
"""One entry of a content's history: the item's id, whether it was handled on its own (else an appeal or escalation
of the content), and its record and task when at hand (the batch being submitted made them), else read when needed."""


class ContentHistory:
    """Reads of content histories for one engine. `open_tasks` is the engine's own index of open tasks, by id (shared,
    not copied): a review the engine still holds is open, whatever the store says, and has decided nothing yet."""

    def __init__(self, store: Store, router: Router, open_tasks: Mapping[str, Task]) -> None:
        self._store = store
        self._router = router
        self._open = open_tasks
        # Per closed review of a withdrawn copy, the copy riding on it that got its decision, with the review, or None
        # (`_decided_through`): every later copy of that content rides on the same task, so reading its items again
        # for each would grow with them.
        self._decided_riders: dict[str, tuple[ItemRecord, Task] | None] = {}
        # Per uphold that is its content's ruling, the enforcement it reaffirms, or None (`_upheld`): it is fixed once
        # the uphold is decided, and every later copy of that content would read the whole history again for it.
        self._upheld_by: dict[str, DuplicateOf | None] = {}

    def forget(self) -> None:
        """Forget what was read of decided reviews of withdrawn copies and of what upholds reaffirm: a purge may have
        deleted those items, and a purged content's ids may be submitted again (found by a review)."""
        self._decided_riders.clear()
        self._upheld_by.clear()

    def seen(self, content_hashes: Iterable[str | None]) -> tuple[dict[str, list[Seen]], dict[str, ItemRecord]]:
        """Each content hash's history in the store, oldest first (`Store.content_history`), with the record of its
        latest copy handled on its own read (what a plain copy is compared with); and the record of each one's ruling
        (`Store.rulings`), which a plain copy may carry instead. Other records are read only when needed: a viral
        content's history may hold thousands of appeals, and a copy needs none of them but one under review."""
        hashes = list(filter(None, content_hashes))
        return self._seen_in(self._store.content_history(hashes)) if hashes else ({}, {})

    def _seen_in(
        self, history: dict[str, list[tuple[str, bool]]]
    ) -> tuple[dict[str, list[Seen]], dict[str, ItemRecord]]:
        """`seen` of the contents whose histories (`Store.content_history`) have been read already."""
        if not history:
            return {}, {}
        latest = {value: _last_owner_id(entries) for value, entries in history.items()}
        # A ruling is an appeal's or escalation's: content whose history holds none has none to read.
        appealed = [value for value, entries in history.items() if not all(owner for _, owner in entries)]
        ruled = self._store.rulings(appealed) if appealed else {}
        records = self._store.items(chain(filter(None, latest.values()), ruled.values()))
        seen: dict[str, list[Seen]] = {
            value: [
                (item_id, owner, records.get(item_id) if item_id == latest[value] else None, None)
                for item_id, owner in entries
            ]
            for value, entries in history.items()
        }
        return seen, {value: records[item_id] for value, item_id in ruled.items() if item_id in records}

    def current_handling(self, entries: list[Seen], ruling: ItemRecord | None) -> DuplicateOf | None:
        """What a plain copy of some content is compared with, so whose decision it carries or whose review it rides
        on: the latest copy handled on its own, unless the content's ruling (`decisions.record_ruling`: its appeal or
        escalation decided last, an uphold as the violation it reaffirms) was decided since (`_ruled_since`). Found by
        a probe: an escalation removed content a first review had approved, and every later re-upload was approved;
        and by a review: an escalation that found child-abuse material in content removed as hate left re-uploads with
        the hate removal.

        An appeal still under review changes nothing: a copy takes the decision in force at once, as a removal must
        reach a re-upload now, not after the appeals queue's SLA (found by a review: a copy that scored past
        auto-removal rode on an open appeal and stayed up)."""
        owner = self._latest_owner(entries)
        if ruling is not None and _ruled_since(ruling, owner):
            upheld = self._upheld(ruling, entries) if _upholds(ruling) else None
            return upheld or self.owner_of(ruling, self.open_or_stored(ruling.id), appeal=True)
        return None if owner is None else self.owner_of(*owner)

    def _upheld(self, uphold: ItemRecord, entries: list[Seen]) -> DuplicateOf | None:
        """The enforcement an uphold (an appeal's violation under no policy of its own) reaffirms, which copies carry
        while it is the content's ruling: the content's violation decided last before it, not itself an uphold (a
        removal's policy and action, an escalation's `report_ncmec`), with its review; None when there is none (an
        appeal of an approval found a violation, which copies carry as it was made). Found by a review: after a copy
        reviewed on its own was approved while the appeal of the removal waited, every later copy carried `uphold`,
        a violation under no policy, rather than the removal. A withdrawn copy's decision is the one a copy riding on
        its review got (`_decided_through`)."""
        if uphold.id not in self._upheld_by:
            assert uphold.decided_at is not None
            self._upheld_by[uphold.id] = self._last_enforcement(entries, uphold.decided_at)
        return self._upheld_by[uphold.id]

    def _last_enforcement(self, entries: list[Seen], until: float) -> DuplicateOf | None:
        """The content's violation decided last at or before `until`, of any item in its history (`entries`) but an
        uphold, as a copy would carry it (`owner_of`); of two decided at once, the later in the history."""
        stored = self._store.items(item_id for item_id, _, record, _ in entries if record is None)
        latest: tuple[tuple[float, int], ItemRecord, Task | None, bool] | None = None
        for index, (item_id, owner, record, task) in enumerate(entries):
            record = record or stored.get(item_id)
            if record is not None and record.status is _ITEM_CANCELLED:
                record, task = self._decided_through(record) or (None, None)
            if record is None or record.verdict is not Verdict.VIOLATING or record.decided_at is None:
                continue
            if record.decided_at <= until and (owner or not _upholds(record)):
                if latest is None or (record.decided_at, index) >= latest[0]:
                    latest = (record.decided_at, index), record, task, not owner
        if latest is None:
            return None
        _, record, task, appeal = latest
        return self.owner_of(record, self._review_of(record, task), appeal=appeal)

    def _latest_owner(self, entries: list[Seen]) -> tuple[ItemRecord, Task | None] | None:
        """The copy later copies of some content are compared with, and its review: the latest handled on its own
        and not withdrawn (a withdrawn one leaves the one before it), unless a copy riding on the withdrawn one's
        review kept it open and got its decision: that decision is the content's latest (`_decided_through`)."""
        for item_id, owner, record, task in reversed(entries):
            if not owner:
                continue
            if record is None:
                record = self._store.items([item_id]).get(item_id)
            if record is None:
                continue
            if record.status is _ITEM_CANCELLED and (record.task_id is None or record.task_id not in self._open):
                through = self._decided_through(record)
                if through is None:
                    continue  # withdrawn, and no copy riding on it got its review's decision
                return through
            return record, self._review_of(record, task)
        return None

    def _decided_through(self, withdrawn: ItemRecord) -> tuple[ItemRecord, Task] | None:
        """The decision a withdrawn copy's review made for the copies riding on it, with that review, if it was
        decided. Found by a review: a copy reviewed on its own was withdrawn while another rode on it, the review
        found a violation, and later re-uploads carried the approval before it. A review the engine still holds has
        decided nothing yet, and is not kept as undecided: only one it no longer holds is final."""
        if withdrawn.task_id is None or withdrawn.task_id in self._open:
            return None
        if withdrawn.task_id not in self._decided_riders:
            self._decided_riders[withdrawn.task_id] = self._rider_decision(withdrawn.task_id)
        return self._decided_riders[withdrawn.task_id]

    def _rider_decision(self, task_id: str) -> tuple[ItemRecord, Task] | None:
        task = self._store.task(task_id)
        if task is None or task.state is not _DECIDED:
            return None
        record = next((record for record in self._store.items_of_task(task_id) if record.decision is not None), None)
        return None if record is None else (record, task)

    def earlier_reviews(self, entries: list[Seen]) -> DuplicateOf | None:
        """What an appeal or escalation of some content asks and whom it is kept from: all that every earlier review
        of it asked of its reviewer (every copy handled on its own, withdrawn ones too: the content is what it was;
        for an automatic action, what its review would have asked; and every earlier appeal), and everyone who
        decided one of those reviews (read off the decided items of each: a withdrawn copy's own record holds no
        decision when a copy riding on its task got it). A copy that inherited an automatic action joined no history
        and is read through the item it inherited from (`Store.inherited`): found by a review, a re-upload scored for
        child safety inheriting a nudity removal left the appeal of that photo to moderators without `csam`."""
        if not entries:
            return None
        stored = self._store.items(item_id for item_id, _, record, _ in entries if record is None)
        asks: list[Asked] = []
        automatic: list[str] = []
        reviewers: set[str] = set()
        policy: str | None = None
        about = entries[-1][0]  # the decision appealed: the latest made, else the latest copy
        for item_id, _, record, task in entries:
            record = record or stored.get(item_id)
            if record is None:
                continue
            task = self._review_of(record, task)
            if task is not None:
                asked = self._router.asked(task.queue, task.policy, task.severe, task.clearance, task.areas)
                policy = policy or task.policy
                decided = self._store.items_of_task(task.id) if task.state is TaskState.DECIDED else [record]
            else:  # actioned automatically: nobody was shown it, but whoever reviews its appeal is
                asked = self._router.review_asks(item_of(record))
                decided = [record]
                automatic.append(item_id)
            for copy in decided:
                if copy.decision is not None:
                    about = item_id
                    decision = orjson.loads(copy.decision)
                    policy = policy or decision.get("policy")
                    if decision.get("moderator_id"):
                        reviewers.add(decision["moderator_id"])
            asks.append(asked)
        if automatic:
            asks += (self._router.review_asks(item_of(copy)) for copy in self.inherited(automatic))
        reviewers |= self._qa_deciders(item_id for item_id, *_ in entries)
        return DuplicateOf(None, about, None, policy, asked=asked_by_all(asks), reviewers=frozenset(reviewers))

    def _qa_deciders(self, item_ids: Iterable[str]) -> set[str]:
        """Whoever decided a QA review of the review of one of these items (a review's task has its item's id): kept,
        as the reviews' own deciders are, from the appeals and escalations of their content (found by a probe: a
        moderator who had found a decision wrong in QA was then given the user's appeal of it)."""
        reviews = self._store.tasks([item_id + QA_SUFFIX for item_id in item_ids])
        return signers(task.decision for task in reviews.values() if task.state is _DECIDED and task.decision)

    def appeal_deciders(self, history: list[tuple[str, bool]]) -> set[str]:
        """Whoever decided an appeal or escalation of a content (`history`, as `Store.content_history` gives it): a
        QA review of its decisions is kept from them (found by a probe: the moderator who overturned a decision on
        appeal was given the QA review that scores the moderator they overturned)."""
        appeals = [item_id for item_id, owner in history if not owner]
        if not appeals:
            return set()
        return signers(record.decision for record in self._store.items(appeals).values() if record.decision is not None)

    def inherited(self, owners: list[str]) -> list[ItemRecord]:
        """The copies that inherited the automatic action of one of `owners` (`Store.inherited`), one of each kind
        routing tells apart (`_routed_as`): a viral re-upload's copies number thousands, and routing each of 10,000
        for an appeal held the engine 0.6 s on SQLite (0.19 s in memory), where reading them takes a third of it."""
        kinds: set[bytes] = set()
        distinct = []
        for record in self._store.inherited(owners):
            kind = _routed_as(item_of(record))
            if kind not in kinds:
                kinds.add(kind)
                distinct.append(record)
        return distinct

    def owner_of(self, record: ItemRecord, task: Task | None, *, appeal: bool = False) -> DuplicateOf:
        """The item of some content later copies are compared with (a copy, or with `appeal` an appeal or escalation
        of it), for the router to judge whether one may ride on it: its decision once made, and what its review
        (`task`) asked of the reviewer."""
        policy = _policy_of(record)
        verdict: Verdict | None = record.verdict if record.decided_at is not None else None
        asked = ASKED_NOTHING
        if task is not None:
            asked = self._router.asked(task.queue, task.policy, task.severe, task.clearance, task.areas)
        decision = record.decision if verdict is not None else None
        return DuplicateOf(record.task_id, record.id, verdict, policy, record.action, asked, decision, appeal=appeal)

    def closed_reviews(self, appeals: list[str], copies: list[str]) -> list[Task]:
        """The closed reviews of some content whose asks reach no open review through the line of copies: its
        appeals' and escalations', and its withdrawn copies' (`_withdrawn_reviews`), each set in one read: a viral
        content's history may hold thousands of appeals."""
        closed = list(self._store.tasks(appeals).values()) if appeals else []
        return closed + self._withdrawn_reviews(copies)

    def _withdrawn_reviews(self, copies: list[str]) -> list[Task]:
        """The reviews of those of `copies` that were withdrawn: a later copy is compared with the copy before a
        withdrawn one (`_latest_owner`), so what the withdrawn one's review asked would reach no later review through
        the line of copies (found by a probe: a child-safety copy cancelled while it waited, and the next copy of the
        content went to a moderator without the clearance)."""
        if not copies:
            return []
        withdrawn = [
            record.id
            for record in self._store.items(copies).values()
            if record.status is _ITEM_CANCELLED and record.task_id == record.id
        ]
        return list(self._store.tasks(withdrawn).values()) if withdrawn else []

    def _review_of(self, record: ItemRecord, task: Task | None) -> Task | None:
        """The review an item handled on its own (or appealed) went to: `task` when the caller holds it, else read;
        None for an item actioned automatically."""
        if task is None and record.action is _ACTION_REVIEW and record.task_id is not None:
            return self.open_or_stored(record.task_id)
        return task

    def open_or_stored(self, task_id: str) -> Task | None:
        """The task as the engine holds it while open, else as stored (decided, cancelled), else None."""
        return self._open.get(task_id) or self._store.task(task_id)


def asked_by_all(asks: Iterable[Asked]) -> Asked:
    """What reviews asking each of `asks` ask together: severe if any is, and every clearance tier and policy-area
    certification of any."""
    severe, tiers, areas = False, frozenset[str](), frozenset[str]()
    for asked in asks:
        severe |= asked.severe
        tiers |= asked.clearance
        areas |= asked.areas
    return Asked(severe, tiers, areas)


def item_of(record: ItemRecord) -> Item:
    """The item a record was made for: the one submitted, when the record was made in this process, else read back
    from its stored payload."""
    return record.item or Item.model_validate_json(record.payload)


def _ruled_since(ruling: ItemRecord, owner: tuple[ItemRecord, Task | None] | None) -> bool:
    """Whether the content's ruling (`ruling`, its appeal or escalation decided last) stands over the latest copy
    handled on its own (`owner` and its review): decided at or after that copy's decision, or there is no such copy.
    A copy still under review decides the content again, later than any ruling: a copy rides on it."""
    if owner is None:
        return True
    decided_at = owner[0].decided_at
    return decided_at is not None and ruling.decided_at is not None and ruling.decided_at >= decided_at


def _upholds(record: ItemRecord) -> bool:
    """Whether an appeal's or escalation's decision finds a violation under no policy of its own (an appeal's
    `uphold`): no enforcement of its own, it reaffirms the one before it (`ContentHistory._upheld`)."""
    return record.verdict is Verdict.VIOLATING and _policy_of(record) is None


def _policy_of(record: ItemRecord) -> str | None:
    """The policy a decided record's decision names, if any."""
    if record.decision is None:
        return None
    policy = orjson.loads(record.decision).get("policy")
    return None if policy is None else str(policy)


def _routed_as(item: Item) -> bytes:
    """What routing may read of an item (its fields but its id, exposure and creation time, which set its priority
    alone), as JSON: two items alike in it ask the same of a review."""
    routed = {name: value for name, value in item.__dict__.items() if name not in _NOT_ROUTED}
    return orjson.dumps(routed, option=orjson.OPT_SORT_KEYS)


def _last_owner_id(entries: list[tuple[str, bool]]) -> str | None:
    return next((item_id for item_id, owner in reversed(entries) if owner), None)
