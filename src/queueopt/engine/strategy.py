"""Assignment strategies: how candidates are ordered in their queues and how a batch values a pair.

`optimal` maximises the total value `c_i(t) * accuracy * speed` exactly. `greedy` takes the highest value
first. `priority` is today's common practice, highest harm rate first to whoever is eligible, and `fifo`
is oldest first; both ignore who is better at what, which is the point of comparing against them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from queueopt.domain import Task


@dataclass(frozen=True)
class Strategy:
    name: str
    method: str

    @classmethod
    def named(cls, name: str) -> Strategy:
        methods = {"optimal": "auto", "greedy": "greedy", "priority": "greedy", "fifo": "greedy"}
        if name not in methods:
            raise ValueError(f"strategy: expected one of {', '.join(methods)}, got {name!r}")
        return cls(name, methods[name])

    @property
    def ignores_moderator(self) -> bool:
        """True when a pair's value is the task's own urgency: a moderator then simply gets the most urgent task
        they are eligible for, which needs no value matrix."""
        return self.name in ("priority", "fifo")

    def key(self, task: Task) -> float:
        """The static queue key: harm rate with linear aging, or arrival order for FIFO."""
        return -task.enqueued_at if self.name == "fifo" else task.key

    def urgency(self, task: Task, now: float) -> float:
        """How urgent a task is now where the strategy ignores the moderator, larger first: its harm rate with
        aging under `priority`, how long ago it arrived under `fifo`. Inside one queue it sorts like `key` (aging
        is linear at one rate per queue), so a queue's first eligible task is its most urgent eligible one."""
        return task.priority_at(now) if self.name == "priority" else -task.enqueued_at

    def adjust(self, value: sp.csr_matrix, tasks: Sequence[Task], now: float) -> sp.csr_matrix:
        """Replace each eligible pair's value by the task's own urgency where the strategy ignores the moderator."""
        if not self.ignores_moderator:
            return value
        score = np.fromiter((self.urgency(task, now) for task in tasks), dtype=np.float64, count=len(tasks))
        if self.name == "fifo":  # values must be positive: the newest gets 1, an older one 1 + how much older
            score = (1.0 - score.min(initial=0.0)) + score
        rows = np.repeat(np.arange(value.shape[0]), np.diff(value.indptr))
        adjusted = value.copy()
        adjusted.data = score[rows]
        return adjusted
