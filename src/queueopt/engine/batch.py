"""What a batch puts before the solver, and what of the solver's matching still holds when its leases are written.

`Engine.assign_batch` holds its lock to pick and value the candidates and again to lease, but not for the solve in
between; these are the steps on either side of the solve, functions of the queues, model, strategy and lease book
they read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from queueopt.assign.problem import DENSE_MAX_CELLS, reads_dense
from queueopt.capability import Model, Takers
from queueopt.config import QueueConfig
from queueopt.domain import Task
from queueopt.engine.leases import LeaseBook
from queueopt.engine.strategy import Strategy
from queueopt.engine.waiting import WaitingTasks


def batch_candidates(queues: Sequence[QueueConfig], waiting: WaitingTasks, takers: Takers | None) -> list[Task]:
    """The first `top_k` tasks of each of `queues` waiting.

    With `takers`, only tasks one of them could take count, looking as deep into each queue as that needs:
    a window full of work nobody free may do (severe items while budgets are spent, a clearance nobody free
    holds) would otherwise block the eligible work behind it.
    """
    window: list[Task] = []
    for queue in queues:
        window += waiting.window(queue.name, queue.top_k, takers)
    return window


def batch_value(
    strategy: Strategy, model: Model, candidates: list[Task], moderators: list[str], now: float, caps: np.ndarray | None
) -> sp.csr_matrix | np.ndarray:
    """The batch's value matrix as the solver will read it: dense where it reads a sparse one densely (every
    batch but a huge, sparse one), which spares building the sparse form only to expand it. `caps` are the
    moderators' severe caps when a candidate is severe, which the value needs as well."""
    if strategy.ignores_moderator or len(candidates) * len(moderators) > DENSE_MAX_CELLS:
        return strategy.adjust(model.value(candidates, moderators, now, caps), candidates, now)
    value = model.value_dense(candidates, moderators, now, caps)
    return value if reads_dense(value.shape, int(np.count_nonzero(value))) else sp.csr_matrix(value)


def still_open(
    pairs: list[tuple[Task, str]], open_tasks: Mapping[str, Task], leases: LeaseBook, model: Model, now: float
) -> list[tuple[Task, str]]:
    """The pairs a solve chose that still hold: the task is the very one that was queued (every transition
    makes a new task object; `open_tasks` are the engine's, by id) and not leased by an earlier pair of this batch,
    the moderator still has a free slot for it and may still take it, and a severe task still fits their budget.
    Anything else stays queued for the next batch. The solvers' own limits are checked again here, as a solve that
    broke one must not reach a moderator: a task named twice was leased to both moderators on the memory store (found
    by a hand-run mutation review)."""
    free: dict[str, int] = {}
    severe_left: dict[str, int] = {}
    kept = []
    taken: set[str] = set()
    for task, moderator_id in pairs:
        if moderator_id not in free:
            free[moderator_id] = leases.free(moderator_id)
        if (
            task.id in taken
            or open_tasks.get(task.id) is not task
            or free[moderator_id] <= 0
            or not model.eligible(task, moderator_id, now)
        ):
            continue
        if task.severe:
            left = severe_left.get(moderator_id)
            if left is None:
                left = int(model.severe_caps([moderator_id], now)[0])
            if left <= 0:
                continue
            severe_left[moderator_id] = left - 1
        free[moderator_id] -= 1
        taken.add(task.id)
        kept.append((task, moderator_id))
    return kept
