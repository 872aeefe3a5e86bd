"""What a decision writes beside its own task: the check that its queue allows it, the item records it reaches, the
content ruling it makes, and the open appeals of the same content it keeps from the decider.

`Engine.decide` holds the lease, writes the task and commits; these functions add to its `Changes` from the store and
the state it passes in, each once per decision, as the engine's methods did.
"""

from __future__ import annotations

from collections.abc import Mapping

from queueopt.capability import ModeratorProfile
from queueopt.config import OpsConfig, QueueConfig
from queueopt.domain import QA_SUFFIX, Decision, ItemStatus, Task, TaskKind, Verdict
from queueopt.engine.audit_notes import LEASE_OF
from queueopt.engine.records import evolved, requeued
from queueopt.errors import InvalidInput
from queueopt.store import Changes, ItemRecord, Store, TaskWrite
from queueopt.store.records import AuditEntry

_UNDECIDED = frozenset((ItemStatus.QUEUED, ItemStatus.DUPLICATE))  # an item status a decision still reaches


def check_decision(config: OpsConfig, task: Task, decision: Decision) -> QueueConfig:
    """The task's queue, once the decision is one it allows; the rest of the decision reads the queue too."""
    queue = config.queues_by_name[task.queue]
    if decision.verdict not in queue.allowed_verdicts:
        raise InvalidInput(
            f"verdict {decision.verdict.value!r} is not allowed in queue {task.queue!r}", field="verdict"
        )
    if decision.action is not None and queue.allowed_actions is not None:
        if decision.action not in queue.allowed_actions:
            allowed = ", ".join(queue.allowed_actions)
            raise InvalidInput(
                f"action {decision.action!r} is not allowed in queue {task.queue!r} (allowed: {allowed})",
                field="action",
            )
    if decision.policy is not None and decision.policy not in config.areas_by_name:
        raise InvalidInput(f"unknown policy area {decision.policy!r}", field="policy")
    return queue


def check_decider(config: OpsConfig, task: Task, decision: Decision, profile: ModeratorProfile) -> None:
    """A decision under a policy area its task did not ask of its reviewer, by naming it or by carrying one of its
    own enforcement actions (`PolicyArea.actions`), is the decider's own call, so it needs their own certification in
    that area and the area's clearance tier, as a task of that area would (found by a probe: a spam-only moderator
    with no clearance decided a spam task as child safety with `report_ncmec`, and every re-upload inherited the
    report; then a second, with the action alone). Such a moderator refers the task to the area instead
    (`Engine.refer`). The areas the task asks (its `policy`, its `areas`) were the engine's call, a relaxed escalation
    step's included."""
    named = (("policy", decision.policy), ("action", config.area_of_action.get(decision.action or "")))
    for field, area in named:
        if area is None or area == task.policy or area in task.areas:
            continue
        tier = config.areas_by_name[area].clearance
        if area not in profile.policy_areas or (tier is not None and tier not in profile.clearance):
            needs = f"certification in {area!r}" + (f" and clearance tier {tier!r}" if tier is not None else "")
            raise InvalidInput(
                f"a decision under policy area {area!r} needs {needs}, which you do not hold: refer the task to that "
                f"area instead (POST /v1/tasks/{task.id}/refer)",
                field=field,
            )


def record_decision(
    store: Store, task: Task, signed: str, verdict: Verdict, now: float, changes: Changes
) -> ItemRecord | None:
    """The decision (`signed_record`) reaches the item and every pending copy of it; returns
    the item's own record as it stands once `changes` are written (None if the store did not list it), which the
    caller's view shows instead of reading it back from the store."""
    own = None
    for record in store.items_of_task(task.id):
        now_stored = record
        if record.status in _UNDECIDED and record.decided_at is None:
            now_stored = evolved(record, status=ItemStatus.DECIDED, verdict=verdict, decision=signed, decided_at=now)
            changes.items.append(now_stored)
        if record.id == task.item_id:
            own = now_stored
    return own


def record_ruling(record: ItemRecord, history: list[tuple[str, bool]], changes: Changes) -> None:
    """Make the decision just recorded on `record` its content's ruling (`Store.rulings`) if the item is an appeal
    or escalation of that content (in its `history` as such) holding the decision itself: later copies carry it
    rather than the decision it questioned (`ContentHistory.current_handling`). One finding a violation under no
    policy of its own (an appeal's `uphold`) is the ruling too, reaching copies as the enforcement it reaffirms."""
    if record.content_hash and record.status is ItemStatus.DECIDED and (record.id, False) in history:
        changes.rulings.append((record.content_hash, record.id))


def keep_checks_from(
    open_tasks: Mapping[str, Task],
    decided: Task,
    history: list[tuple[str, bool]],
    moderator_id: str,
    now: float,
    changes: Changes,
    replaced: list[Task],
    created: list[Task],
) -> None:
    """Keep the decider of one review of some content from its open reviews that would put them on both sides of one
    question, as they would have been kept had those arrived after the decision: from its appeals and escalations,
    whatever they decided (a first-line review, a QA review, an earlier appeal: they judged what the appeal
    questions); and, when they decided an appeal or escalation, from the content's first-line reviews and every QA
    review of it too (found by a probe: an escalation outranks the original, so its decider was then given the
    original review, still open, and made the decision its re-uploads carry; and the moderator who overturned a
    decision on appeal was given the QA review scoring the moderator they overturned). Nothing wider: each exclusion
    is one fewer moderator who may take the review, and a small team's reviews would wait on nobody. One the decider
    holds already is taken back from them, to its queue; one someone else holds stays with them, kept from the
    decider should it come back (found by a second probe). A review's task has its item's id, its QA review that
    and `QA_SUFFIX`; `decided`, the task being decided, is left to the decision. `history` is the content's
    (`Store.content_history`: its copies handled on their own, and its appeals and escalations, marked as not
    owners); `open_tasks`, the engine's open tasks by id."""
    appeal = decided.kind is TaskKind.REVIEW and (decided.item_id, False) in history
    for item_id, owner in history:
        if owner and not appeal:
            continue
        for task_id in (item_id, item_id + QA_SUFFIX) if appeal else (item_id,):
            task = open_tasks.get(task_id)
            if task is None or task is decided or moderator_id in task.skipped_by:
                continue
            kept_from = task.skipped_by | {moderator_id}
            if task.holder == moderator_id:
                kept = requeued(task, skipped_by=kept_from)
                note = f"{LEASE_OF}{moderator_id}: taken back, as its holder decided another review of its content"
                changes.audit.append(AuditEntry(now, task.id, task.item_id, "engine", "released", note))
            else:
                kept = evolved(task, skipped_by=kept_from)
            changes.tasks.append(TaskWrite(kept, (task.state, task.attempt)))
            replaced.append(task)
            created.append(kept)
