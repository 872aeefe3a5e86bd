"""What the store keeps: item records, tasks, audit entries, and the one write primitive, `Changes`.

Every engine transition becomes one `Changes` applied atomically: new and updated rows plus the audit entries
that describe them. Task updates carry the state and attempt they expect to replace, so a write based on a
stale view (a second lease of the same task, a decision on an expired lease) fails as a whole instead of
landing half-way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from queueopt.domain import Action, ItemStatus, Task, TaskState, Verdict


@dataclass(slots=True)
class ItemRecord:
    """One submitted item and what became of it; `payload` is the item as sent, as JSON."""

    id: str
    payload: str
    status: ItemStatus
    task_id: str | None
    queue: str | None
    priority: float
    action: Action
    explanation: str
    content_hash: str | None
    submitted_at: float
    verdict: Verdict | None = None
    decision: str | None = None
    decided_at: float | None = None


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
    items: list[ItemRecord] = field(default_factory=list)
    tasks: list[TaskWrite] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)


class StaleWrite(Exception):
    """A conditional task update found the task changed underneath it; nothing of the batch was applied."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id!r} changed concurrently")
        self.task_id = task_id
