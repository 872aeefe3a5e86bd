"""Request and response bodies of API v1.

Requests reuse the domain models (`Item`, `Decision`, `ModeratorProfile`) so the HTTP edge and the engine validate
with one set of rules. Responses are explicit models, so `/openapi.json` documents exactly what a client receives
and schemathesis can hold every answer to it. Times are seconds since the epoch on the service's clock.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from queueopt.capability import ModeratorProfile
from queueopt.config import MAX_EXTEND_S
from queueopt.domain import (
    VISIBLE_ASCII_PATTERN,
    Action,
    Code,
    Decision,
    Item,
    ItemId,
    ItemStatus,
    ModeratorStatus,
    SentItem,
    TaskKind,
    TaskState,
    Verdict,
    free_text,
)

MAX_ITEMS = 1000
# A token is `<task id>.<attempt>.<lease time>` (`token_of`); the pattern keeps a NUL, which PostgreSQL's text
# refuses, from reaching the store as an unexpected error.
LeaseToken = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=VISIBLE_ASCII_PATTERN)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorDetail(_Response):
    field: str | None = Field(description="Dotted path of the offending input, or null when no one field is to blame.")
    reason: str


class ErrorBody(_Response):
    detail: list[ErrorDetail]


class SubmitItems(_Request):
    items: list[SentItem] = Field(min_length=1, max_length=MAX_ITEMS)


class ItemResultOut(_Response):
    id: str
    status: ItemStatus
    task_id: str | None = Field(
        description="The task that decides the item: its own review, or the review a copy of its content rides on."
    )
    duplicate_of: str | None = Field(
        description="For a copy of earlier content (status `duplicate`), the item whose decision it carries or whose "
        "review it rides on: an earlier copy, or an appeal or escalation of the content when that decided it last and "
        "overturned the decision before."
    )
    queue: str | None
    priority: float
    action: Action


class SubmitResult(_Response):
    results: list[ItemResultOut]


class QaOut(_Response):
    state: TaskState
    decision: Decision | None = Field(description="What the QA reviewer decided; null until then.")
    agrees: bool | None = Field(
        description="Whether it agrees with the item's decision: the same verdict and, for a violation, the same "
        "policy when both name one. Null until decided."
    )


class ItemOut(ItemResultOut):
    """What submit answered for the item, and what became of it since."""

    explanation: str = Field(description="Why routing sent the item where it went.")
    verdict: Verdict | None
    decision: Decision | None
    decided_by: str | None
    submitted_at: float
    decided_at: float | None
    qa: QaOut | None = Field(
        description="The QA review of the decision, when it was sampled. The decision stands whatever QA finds: to "
        "act on a finding (a violation the decision missed), submit an escalation of the content."
    )


class QueueOut(_Response):
    name: str
    depth: int
    leased: int
    oldest_age_s: float | None
    sla_s: float
    sla_target: float
    within_sla_last_hour: float | None = Field(description="Share of the last hour's decisions made within the SLA.")
    unstaffed: int = Field(
        description="Waiting tasks nobody on the roster (but the suspended) may take, whoever comes on shift and once "
        "every escalation step has passed: they wait for a roster change, such as a language, certification or "
        "clearance nobody holds."
    )


class QueuesOut(_Response):
    queues: list[QueueOut]


class AccuracyOut(_Response):
    estimate: float = Field(description="Probability of a right decision in this policy area, as assignment sees it.")
    qa_reviews: int = Field(description="QA reviews of this moderator's decisions behind it (0: the prior alone).")


class ModeratorOut(_Response):
    profile: ModeratorProfile
    status: ModeratorStatus
    leases: list[str]
    accuracy: dict[str, AccuracyOut] | None = Field(
        description="Per policy area, for an admin token; null for the moderator's own. It moves when a QA review of "
        "their work is decided, so it would tell them which of their decisions QA sampled and what QA found."
    )
    expected_handling_s: dict[str, float] = Field(
        description="Expected review seconds per modality the moderator handles, for an item without media length."
    )
    idle_after_expiry: bool = Field(
        description="A lease of theirs ran out and they have not acted since (asked for work, acted on a lease, had "
        "their status set): batches push them no work until they do; their own pull still gets them work."
    )


class StatusChange(_Request):
    status: ModeratorStatus


class TaskOut(_Response):
    """A leased task as a review tool receives it: the item to review and the lease that proves the right to decide."""

    task_id: str
    item_id: str
    kind: TaskKind
    state: TaskState
    queue: str
    priority: float
    policy: str | None
    severe: bool
    holder: str | None
    lease_token: str | None
    lease_expires_at: float | None
    item: Item | None


class LeaseAction(_Request):
    lease_token: LeaseToken


class DecisionRequest(LeaseAction):
    verdict: Verdict
    policy: Code | None = None
    action: Code | None = None
    notes: Annotated[str, free_text(4000)] = ""

    def decision(self) -> Decision:
        return Decision(verdict=self.verdict, policy=self.policy, action=self.action, notes=self.notes)


class SkipRequest(LeaseAction):
    reason: Annotated[str, free_text(1000, min_length=1)]


class CancelQaRequest(_Request):
    reason: Annotated[str, free_text(1000, min_length=1)]


class ReferRequest(SkipRequest):
    policy: Code = Field(description="The policy area the content belongs to, which its holder may not decide.")


class ExtendRequest(LeaseAction):
    seconds: Annotated[float, Field(strict=True, gt=0.0, le=MAX_EXTEND_S, allow_inf_nan=False)]


class AssignRequest(_Request):
    moderator_id: ItemId


class Health(_Response):
    status: str
