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

    def key(self, task: Task) -> float:
        """The static queue key: harm rate with linear aging, or arrival order for FIFO."""
        return -task.enqueued_at if self.name == "fifo" else task.key

    def adjust(self, value: sp.csr_matrix, tasks: Sequence[Task], now: float) -> sp.csr_matrix:
        """Replace each eligible pair's value by the task's own score where the strategy ignores the moderator."""
        if self.name in ("optimal", "greedy"):
            return value
        if self.name == "priority":
            score = np.fromiter((task.priority_at(now) for task in tasks), dtype=np.float64, count=len(tasks))
        else:
            enqueued = np.fromiter((task.enqueued_at for task in tasks), dtype=np.float64, count=len(tasks))
            score = 1.0 + enqueued.max(initial=0.0) - enqueued
        rows = np.repeat(np.arange(value.shape[0]), np.diff(value.indptr))
        adjusted = value.copy()
        adjusted.data = score[rows]
        return adjusted
