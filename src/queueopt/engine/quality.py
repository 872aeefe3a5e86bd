"""Quality review: which decisions are sampled for a second, independent review, the QA task that reviews one, and
whether it agrees with the decision it checks."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from queueopt.capability import Model
from queueopt.config import QueueConfig
from queueopt.domain import QA_SUFFIX, Decision, Task, TaskKind, TaskState, Verdict
from queueopt.engine.records import evolved
from queueopt.store import Store


def qa_draw(secret: str, task_id: str) -> float:
    """A uniform draw in [0, 1) fixed by the task id, so QA sampling is reproducible and the same on every replica,
    and keyed by the deployment's `secret`: a moderator who knows the sample rate and the task id must not be able
    to tell whether their decision will be checked (an unkeyed hash of the id told them, for every task)."""
    return int.from_bytes(hashlib.sha256(f"{secret}\x00{task_id}".encode()).digest()[:8], "big") / 2.0**64


def agrees(first: dict[str, Any], check: Decision) -> bool:
    """Whether a QA review (`check`) agrees with the decision it checks (`first`, as stored): the same verdict, and
    for a violation the same policy when both name one, since the policy sets the enforcement and what the user is
    told (found by a review: a violation decided under the wrong policy counted as right)."""
    if first["verdict"] != check.verdict.value:
        return False
    policy = first.get("policy")
    return check.verdict is not Verdict.VIOLATING or policy is None or check.policy is None or policy == check.policy


def qa_task(secret: str, task: Task, queue: QueueConfig, moderator_id: str, now: float) -> Task | None:
    """The QA re-review of a decided task, if the draw (`qa_draw`, keyed by `secret`) samples it. It carries no harm
    rate (the cμ rule's `c`): the decision has acted on the item, so waiting harms no one, and live work goes first; it
    ages at its queue's rate from when it is queued, like every task there, so it is done once it has waited long
    enough."""
    rate = queue.qa_sample_rate
    if rate <= 0.0 or qa_draw(secret, task.id) >= rate:
        return None
    return evolved(
        task,
        id=task.id + QA_SUFFIX,
        kind=TaskKind.QA,
        priority=0.0,
        state=TaskState.QUEUED,
        enqueued_at=now,
        attempt=0,
        holder=None,
        leased_at=None,
        lease_expires_at=None,
        # Never the reviewer; nor whoever the task was kept from (an appeal's earlier deciders: one of them
        # checking the appeal that overturned them would score it; found by a probe) or who skipped it.
        skipped_by=task.skipped_by | {moderator_id},
    )


def qa_outcome(store: Store, model: Model, qa: Task, decision: Decision) -> tuple[str, str | None, bool] | None:
    """A QA review is the reference for the first decision: whose it was, in which policy area, and whether it
    agrees, for that moderator's accuracy estimate. The decision is read from any decided copy of the reviewed
    task: the item the task was made for may have been cancelled while a duplicate kept the task, and then
    holds no decision."""
    decided = [
        record.decision for record in store.items_of_task(qa.id.removesuffix(QA_SUFFIX)) if record.decision is not None
    ]
    if not decided:
        return None
    first = json.loads(decided[0])
    decider = first.get("moderator_id")
    if decider is None or not model.knows(decider):
        return None
    return decider, qa.policy, agrees(first, decision)
