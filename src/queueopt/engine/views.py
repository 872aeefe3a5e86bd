"""What the engine shows its callers: read-only snapshots, never its live objects, and the functions that build them
from the state the engine hands them (under its lock), so the engine keeps the lifecycle and this module the views.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from queueopt.capability import Model, ModeratorProfile
from queueopt.config import QueueConfig
from queueopt.domain import Action, Decision, Item, ItemStatus, Modality, Task, TaskKind, TaskState, Verdict
from queueopt.engine.leases import LeaseBook
from queueopt.engine.quality import agrees
from queueopt.engine.sla_window import SlaWindow
from queueopt.enqueue.queues import QueueSet
from queueopt.store import ItemRecord


@dataclass(slots=True)
class ItemResult:
    """The answer to one submitted item. Not frozen: one is built per submitted item, and a frozen dataclass's
    `__init__` sets every field through `object.__setattr__`, several times the cost; nothing changes it after."""

    id: str
    status: ItemStatus
    task_id: str | None  # the task that decides the item: its own review, or the one a copy rides on
    duplicate_of: str | None  # for a copy of content, the earlier item whose handling it rides on (`Intake._record`)
    queue: str | None
    priority: float
    action: Action


@dataclass(frozen=True, slots=True)
class QaView:
    """The QA review of the decision an item carries, as the pipeline that sent the item reads it: the decision
    stands whatever QA finds (it measures the moderator), so a pipeline that acts on a finding, such as a violation
    the decision missed, reads it here and submits an escalation of the content, whose decision becomes the
    content's ruling. Who reviewed is not shown: the pipeline needs the finding, not the reviewer."""

    state: TaskState
    decision: Decision | None  # None until the QA review is decided
    agrees: bool | None  # with the item's decision (`quality.agrees`); None until decided


@dataclass(frozen=True, slots=True)
class ItemView:
    id: str
    status: ItemStatus
    task_id: str | None  # the task that decides the item: its own review, or the one a copy rides on
    duplicate_of: str | None  # for a copy of content, the earlier item whose handling it rides on (`Intake._record`)
    queue: str | None
    priority: float
    action: Action
    explanation: str
    verdict: Verdict | None
    decision: Decision | None
    decided_by: str | None
    submitted_at: float
    decided_at: float | None
    qa: QaView | None  # None while the decision it carries was not sampled for QA


@dataclass(slots=True)
class TaskView:
    """A task as the engine saw it when answering. Not frozen, for the reason `ItemResult` is not: one is built on
    every pull and every decision, and its callers (the simulator, the HTTP service) only read it."""

    id: str
    item_id: str
    kind: TaskKind
    state: TaskState
    queue: str
    priority: float
    modality: Modality
    language: str
    region: str
    duration_s: float
    severe: bool
    policy: str | None
    enqueued_at: float
    holder: str | None
    lease_token: str | None
    lease_expires_at: float | None
    record: ItemRecord = field(repr=False, compare=False)
    """The task's item as stored, for its payload: read only if asked for (the simulator never does), and never
    changed once stored. Not compared: the payload of an item id is the one it was submitted with."""

    @property
    def payload(self) -> str:
        """The item as submitted, as JSON."""
        return self.record.payload

    @property
    def item(self) -> Item:
        """The item as submitted, parsed only when a caller reads it (the simulator never does)."""
        return Item.model_validate_json(self.payload)


@dataclass(slots=True)
class Lease:
    """One lease made by a batch, for callers that act on it (the simulator starts the review). Not frozen, for the
    reason `ItemResult` is not: a batch makes one per lease, and its callers only read it."""

    task_id: str
    moderator_id: str
    lease_token: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class QueueView:
    name: str
    depth: int
    leased: int
    oldest_age_s: float | None
    sla_s: float
    sla_target: float
    within_sla_last_hour: float | None
    unstaffed: int


@dataclass(frozen=True, slots=True)
class ModeratorView:
    """A moderator as the engine sees them: profile, leases, and the estimates assignment uses (accuracy per
    policy area with its QA reviews; expected handling seconds per modality for an item without media length).
    `idle_after_expiry`: a lease of theirs ran out and they have not acted since, so batches push them nothing."""

    profile: ModeratorProfile
    leases: list[str]
    accuracy: dict[str, tuple[float, int]]
    handling_s: dict[str, float]
    idle_after_expiry: bool


@dataclass(slots=True)
class EngineStats:
    """Cumulative counters for monitoring; the service exports them to Prometheus at scrape time."""

    submitted: Counter[tuple[str, str]] = field(default_factory=Counter)
    leased: int = 0
    decided: Counter[str] = field(default_factory=Counter)
    expired: int = 0
    sla_breaches: Counter[str] = field(default_factory=Counter)
    # QA reviews that scored a moderator, by queue and whether they agreed: the queue's decision quality as
    # operations watch it, where each moderator's estimate is for admins only.
    qa_reviews: Counter[tuple[str, bool]] = field(default_factory=Counter)
    batches: int = 0
    last_batch_size: int = 0
    solver_seconds: list[float] = field(default_factory=list)

    def drain_solver_seconds(self) -> list[float]:
        drained, self.solver_seconds = self.solver_seconds, []
        return drained


def item_result(record: ItemRecord) -> ItemResult:
    """The answer to a submitted item, from its record as stored (or as the submit is writing it)."""
    return ItemResult(
        record.id, record.status, record.task_id, record.duplicate_of, record.queue, record.priority, record.action
    )


def item_view(record: ItemRecord, qa: Task | None) -> ItemView:
    """An item as stored, its decision parsed and the moderator who signed it (`retries.signed_record`) split off,
    with `qa`, the QA review of the task that decided it, if the decision was sampled."""
    decision, decided_by = None, None
    if record.decision is not None:
        data = json.loads(record.decision)
        decided_by = data.pop("moderator_id", None)
        decision = Decision.model_validate(data)
    return ItemView(
        id=record.id,
        status=record.status,
        task_id=record.task_id,
        duplicate_of=record.duplicate_of,
        queue=record.queue,
        priority=record.priority,
        action=record.action,
        explanation=record.explanation,
        verdict=record.verdict,
        decision=decision,
        decided_by=decided_by,
        submitted_at=record.submitted_at,
        decided_at=record.decided_at,
        qa=None if qa is None or decision is None else _qa_view(qa, decision),
    )


def _qa_view(qa: Task, checked: Decision) -> QaView:
    """`qa` as the pipeline reads it beside `checked`, the decision it reviews."""
    if qa.decision is None:
        return QaView(qa.state, None, None)
    found = json.loads(qa.decision)
    del found["moderator_id"]
    decision = Decision.model_validate(found)
    return QaView(qa.state, decision, agrees(checked.model_dump(mode="json"), decision))


def task_view(task: Task, record: ItemRecord) -> TaskView:
    """`task` as its caller is answered, with `record`, its item as stored."""
    # Positional, in `TaskView`'s field order: every pull and decision makes one, and matching seventeen
    # keywords to parameters cost more than the rest of the call.
    return TaskView(
        task.id,
        task.item_id,
        task.kind,
        task.state,
        task.queue,
        task.priority,
        task.modality,
        task.language,
        task.region,
        task.duration_s,
        task.severe,
        task.policy,
        task.enqueued_at,
        task.holder,
        task.lease_token,
        task.lease_expires_at,
        record,
    )


def queue_views(
    queues: Sequence[QueueConfig],
    waiting: QueueSet,
    held: Iterable[list[str]],
    open_tasks: Mapping[str, Task],
    unstaffed: Mapping[str, int],
    sla: Mapping[str, SlaWindow],
    now: float,
) -> list[QueueView]:
    """Each of `queues` as of `now`: its `waiting` tasks, the leases of it among those `held` (the task ids of each
    holder, looked up in `open_tasks`), the waiting tasks nobody may take (`unstaffed`) and its `sla` window."""
    leased: dict[str, int] = {}
    for task_ids in held:
        for task_id in task_ids:
            name = open_tasks[task_id].queue
            leased[name] = leased.get(name, 0) + 1
    views = []
    for queue in queues:
        oldest = waiting.oldest_enqueued_at(queue.name)
        views.append(
            QueueView(
                name=queue.name,
                depth=waiting.depth(queue.name),
                leased=leased.get(queue.name, 0),
                oldest_age_s=None if oldest is None else max(0.0, now - oldest),
                sla_s=queue.sla_s,
                sla_target=queue.sla_target,
                within_sla_last_hour=sla[queue.name].share(now),
                unstaffed=unstaffed[queue.name],
            )
        )
    return views


def moderator_view(model: Model, leases: LeaseBook, moderator_id: str) -> ModeratorView:
    """A moderator on `model`'s roster, with what `leases` says they hold and whether they are idle after an expiry."""
    profile = model.profile(moderator_id)
    return ModeratorView(
        profile,
        leases.held_by(moderator_id),
        model.accuracy_by_area(moderator_id),
        {modality.value: model.expected_handling_s(moderator_id, modality, 0.0) for modality in profile.modalities},
        leases.idle(moderator_id),
    )
