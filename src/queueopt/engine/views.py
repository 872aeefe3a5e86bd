"""What the engine shows its callers: read-only snapshots, never its live objects."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from queueopt.capability import ModeratorProfile
from queueopt.domain import Action, Decision, Item, ItemStatus, Modality, TaskKind, TaskState, Verdict
from queueopt.store import ItemRecord


@dataclass(slots=True)
class ItemResult:
    """The answer to one submitted item. Not frozen: one is built per submitted item, and a frozen dataclass's
    `__init__` sets every field through `object.__setattr__`, several times the cost; nothing changes it after."""

    id: str
    status: ItemStatus
    task_id: str | None  # the task that decides the item: its own review, or the one a copy rides on
    duplicate_of: str | None  # for a copy of content, the earlier item whose handling it rides on (`_admit`)
    queue: str | None
    priority: float
    action: Action


@dataclass(frozen=True, slots=True)
class ItemView:
    id: str
    status: ItemStatus
    task_id: str | None  # the task that decides the item: its own review, or the one a copy rides on
    duplicate_of: str | None  # for a copy of content, the earlier item whose handling it rides on (`_admit`)
    queue: str | None
    priority: float
    action: Action
    explanation: str
    verdict: Verdict | None
    decision: Decision | None
    decided_by: str | None
    submitted_at: float
    decided_at: float | None


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
    batches: int = 0
    last_batch_size: int = 0
    solver_seconds: list[float] = field(default_factory=list)

    def drain_solver_seconds(self) -> list[float]:
        drained, self.solver_seconds = self.solver_seconds, []
        return drained
