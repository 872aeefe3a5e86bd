"""Open tasks made as severe and as cleared as their content asks, never less than they were: a protection of open
work is never relaxed while it is open.

A submit widens the open reviews of content it sees again (`Widening.open_reviews`); a restart under a config that
asks more of some content widens each open task of it (`Engine._widen_to_config`, through `Widening.widened`). A
lease the wider task no longer allows its holder, or that turned severe, goes back to its queue, audited so that the
exposure is charged once written (`audit_notes.charge_taken_back`). The engine writes and commits what this adds to
its `Changes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import chain

from queueopt.capability import Model
from queueopt.domain import QA_SUFFIX, Item, Task, TaskState
from queueopt.engine.audit_notes import LEASE_OF, SEVERE_NOTE
from queueopt.engine.content import ContentHistory, Seen, asked_by_all
from queueopt.engine.records import evolved, requeued
from queueopt.enqueue import Router
from queueopt.store import Changes, TaskWrite
from queueopt.store.records import AuditEntry

_LEASED = TaskState.LEASED
SAME_CONTENT = "the same content now asks more of its reviewer"  # why a widened review was taken back


class Widening:
    """Widens open tasks for one engine: its router (what a review asks), model (whether a holder still qualifies),
    content histories (closed reviews of a content) and open tasks by id (shared, not copied)."""

    def __init__(self, router: Router, model: Model, content: ContentHistory, open_tasks: Mapping[str, Task]) -> None:
        self._router = router
        self._model = model
        self._content = content
        self._open = open_tasks

    def open_reviews(
        self,
        asking: set[str],
        unreviewed: dict[str, list[Item]],
        seen: dict[str, list[Seen]],
        tasks: list[Task],
        changes: Changes,
        replaced: list[Task],
        actor: str,
        now: float,
    ) -> None:
        """Every open review of content this batch handles again (its copies', appeals' and QA's, this batch's own
        included) is as severe and as restricted as any review of it, open or closed, but for closed copies not
        withdrawn: those pass what they asked down the line of copies (`Router.route`), while a closed appeal or
        escalation, or a withdrawn copy, need not be what a later copy is compared with. It is the same content.
        Found by two probes: a copy scored for nudity alone of content a later copy scored for child safety stayed
        open to moderators without the clearance, and a copy arriving after an escalation scored for child safety
        went to them. A copy actioned without a review (`unreviewed`: removed or approved automatically, or riding
        on such an action) asks what its review would have: found by a probe, a re-upload scored for child safety
        and removed automatically left the nudity review of the same photo with a moderator without `csam`. That
        is worked out only once an open review of its content is found: most such copies are of content removed
        automatically, with none open, and working it out for each made their submit 20 to 30% slower. Such a
        copy alone needs no closed review read: the open ones already ask what those asked, as each was widened
        when it was made. Certifications are each review's own question. A widened review held by someone it no
        longer allows, or newly severe, goes back to its queue (`widened`), its exposure charged once written."""
        position = {task.id: index for index, task in enumerate(tasks)}
        pending = {write.task.id: write for write in changes.tasks}  # made, or raised for copies, in this batch
        asked_of = self._router.asked
        for content_hash in asking.union(unreviewed):
            open_reviews: list[tuple[Task, TaskWrite | None]] = []
            appeals: list[str] = []  # closed appeals and escalations
            copies: list[str] = []  # closed copies, read below for the withdrawn ones
            for item_id, owner, *_ in seen[content_hash]:
                for task_id in (item_id, item_id + QA_SUFFIX):
                    write = pending.get(task_id)
                    task = write.task if write is not None else self._open.get(task_id)
                    if task is not None:
                        open_reviews.append((task, write))
                    elif task_id == item_id:
                        (copies if owner else appeals).append(item_id)
            if not open_reviews:
                continue
            closed = self._content.closed_reviews(appeals, copies) if content_hash in asking else []
            asks = [
                asked_of(task.queue, task.policy, task.severe, task.clearance, task.areas)
                for task in chain((task for task, _ in open_reviews), closed)
            ]
            asks += map(self._router.review_asks, unreviewed.get(content_hash, ()))
            content = asked_by_all(asks)
            for task, write in open_reviews:
                wider = self.widened(task, content.severe, content.clearance, SAME_CONTENT, actor, now, changes)
                if wider is task:
                    continue
                if write is not None:
                    write.task = tasks[position[task.id]] = wider
                    continue
                pending[task.id] = TaskWrite(wider, (task.state, task.attempt))
                changes.tasks.append(pending[task.id])
                replaced.append(task)
                position[task.id] = len(tasks)
                tasks.append(wider)

    def widened(
        self, task: Task, severe: bool, tiers: frozenset[str], why: str, actor: str, now: float, changes: Changes
    ) -> Task:
        """`task` severe if `severe` and needing every clearance tier of `tiers`, never less than it was (a
        protection of open work is never relaxed), its primary area's own tier read from the config as routing's is
        (`Router.widened_clearance`); `task` itself when it already asks that much. A lease of it the
        wider task no longer allows its holder goes back to its queue, and so does one that turned severe: the
        wellbeing budget counts a severe item when leased, and this one was not counted. It was in front of them
        all the same, so the hand-back's audit note (`lease of <holder>: <why>`) then ends in `, severe`, and the
        exposure is charged to the holder from it once written (`audit_notes.charge_taken_back`)."""
        clearance = self._router.widened_clearance(task.policy, task.clearance, tiers)
        newly_severe = severe and not task.severe
        if clearance is task.clearance and not newly_severe:
            return task
        wider = evolved(task, clearance=clearance, severe=task.severe or newly_severe)
        if task.state is not _LEASED:
            return wider
        assert task.holder is not None
        if not newly_severe and self._model.qualified(wider, task.holder, now):
            return wider
        note = f"{LEASE_OF}{task.holder}: {why}{SEVERE_NOTE if newly_severe else ''}"
        changes.audit.append(AuditEntry(now, task.id, task.item_id, actor, "released", note))
        return requeued(wider)
