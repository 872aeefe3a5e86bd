"""The engine: one task lifecycle for the service (wall clock) and the simulator (virtual clock)."""

from queueopt.engine.engine import Engine
from queueopt.engine.quality import qa_draw
from queueopt.engine.records import review_task
from queueopt.engine.stranded import stranded_work
from queueopt.engine.strategy import Strategy
from queueopt.engine.views import EngineStats, ItemResult, ItemView, Lease, ModeratorView, QueueView, TaskView
from queueopt.store.records import AuditEntry

__all__ = [
    "AuditEntry",
    "Engine",
    "EngineStats",
    "ItemResult",
    "ItemView",
    "Lease",
    "ModeratorView",
    "QueueView",
    "Strategy",
    "TaskView",
    "qa_draw",
    "review_task",
    "stranded_work",
]
