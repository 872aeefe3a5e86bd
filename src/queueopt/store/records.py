"""What the store keeps: item records, tasks, audit entries, and the one write primitive, `Changes`.

Every engine transition becomes one `Changes` applied atomically: new and updated rows plus the audit entries
that describe them. Task updates carry the state and attempt they expect to replace, so a write based on a
stale view (a second lease of the same task, a decision on an expired lease) fails as a whole instead of
landing half-way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from queueopt.domain import Action, Item, ItemStatus, Task, TaskState, Verdict

Text = str | Callable[[Item], str]
"""A text field of an `ItemRecord`: the text, or the function that makes it from the record's `item` when first
read. One function serves every record (the engine's), so a record made this way holds no object of its own."""


class ItemRecord:
    """One submitted item and what became of it; `payload` is the item as sent, as JSON.

    `payload` and `explanation` may be given as functions that make the text from `item` (see `Text`): submit
    would otherwise format both for every item, and most are never read (the simulator reads neither). Every
    reader, the SQL store's writes included, sees the text, made on the first read and kept. Not a dataclass for
    that reason; the constructor takes the fields in the order of `__slots__`, so a copy can pass them on as they
    are. `item` is no field of the record: records compare equal on their fields, and a stored one has none.
    """

    __slots__ = (
        "id",
        "_payload",
        "status",
        "task_id",
        "queue",
        "priority",
        "action",
        "_explanation",
        "content_hash",
        "submitted_at",
        "verdict",
        "decision",
        "decided_at",
        "duplicate_of",
        "item",
    )

    def __init__(
        self,
        id: str,  # noqa: A002
        payload: Text,
        status: ItemStatus,
        task_id: str | None,
        queue: str | None,
        priority: float,
        action: Action,
        explanation: Text,
        content_hash: str | None,
        submitted_at: float,
        verdict: Verdict | None = None,
        decision: str | None = None,
        decided_at: float | None = None,
        duplicate_of: str | None = None,
        item: Item | None = None,
    ) -> None:
        self.id = id
        self._payload = payload
        self.status = status
        self.task_id = task_id
        self.queue = queue
        self.priority = priority
        self.action = action
        self._explanation = explanation
        self.content_hash = content_hash
        self.submitted_at = submitted_at
        self.verdict = verdict
        self.decision = decision
        self.decided_at = decided_at
        self.duplicate_of = duplicate_of
        self.item = item

    @property
    def payload(self) -> str:
        self._payload = payload = _made(self._payload, self.item)
        return payload

    @property
    def explanation(self) -> str:
        self._explanation = explanation = _made(self._explanation, self.item)
        return explanation

    def _fields(self) -> tuple[object, ...]:
        return (
            self.id,
            self.payload,
            self.status,
            self.task_id,
            self.queue,
            self.priority,
            self.action,
            self.explanation,
            self.content_hash,
            self.submitted_at,
            self.verdict,
            self.decision,
            self.decided_at,
            self.duplicate_of,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ItemRecord):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        names = (name.lstrip("_") for name in self.__slots__[:-1])  # the fields: every slot but `item`
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(names, self._fields(), strict=True))
        return f"ItemRecord({fields})"


def _made(text: Text, item: Item | None) -> str:
    """A `Text` field's text: itself, or made now from the record's item."""
    if isinstance(text, str):
        return text
    assert item is not None
    return text(item)


def moderator_actor(moderator_id: str) -> str:
    """The audit log's name for a moderator acting on their own work. Prefixed, so that a moderator whose id is
    `sweeper`, `recovery` or `admin` is never read as the engine's sweeper, its recovery or an admin."""
    return f"moderator:{moderator_id}"


@dataclass(slots=True)
class AuditEntry:
    """An append-only record of one transition; `seq` is assigned by the store.

    Not frozen, though nothing changes an entry once made: a frozen dataclass sets every field through
    `object.__setattr__`, which made one entry cost about five times as much, and submit makes one per item.
    """

    at: float
    task_id: str | None
    item_id: str | None
    actor: str
    transition: str
    note: str = ""
    seq: int = 0


@dataclass(slots=True)
class TaskWrite:
    """A task to insert (`expect` is None) or to update only if it is still in the expected state and attempt.

    Not frozen for the reason given on `AuditEntry`: one is made per task written.
    """

    task: Task
    expect: tuple[TaskState, int] | None = None


@dataclass(slots=True)
class Changes:
    """One transaction's writes. `owners` names, per content hash, each item handled on its own (later copies of
    the content are compared with the latest one not withdrawn), and `appeals` each appeal or escalation of it; both
    join the content's history (`Store.content_history`) in order. `rulings` names, per content hash, the appeal or
    escalation of it just decided, in place of the one before (`Store.rulings`). `moderators` are profiles (id,
    JSON) to keep, written with the leases their change hands back, so a refused write changes neither.
    `handed_back` are leases their holder released or skipped (task id, lease token, holder, signed outcome, the task
    as the answer showed it, JSON), kept for a retry of that answer (`Store.handed_back`)."""

    items: list[ItemRecord] = field(default_factory=list)
    tasks: list[TaskWrite] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    owners: list[tuple[str, str]] = field(default_factory=list)
    appeals: list[tuple[str, str]] = field(default_factory=list)
    rulings: list[tuple[str, str]] = field(default_factory=list)
    moderators: list[tuple[str, str]] = field(default_factory=list)
    handed_back: list[tuple[str, str, str, str, str]] = field(default_factory=list)


class StaleWrite(Exception):
    """A conditional task update found the task changed underneath it; nothing of the batch was applied."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id!r} changed concurrently")
        self.task_id = task_id
