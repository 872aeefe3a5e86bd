"""What a moderator's own pull leases them when they hold nothing (`Engine.next_for`): the one task the strategy
ranks first for them alone, read from the first tasks of each queue without solving a batch.

A batch values every free moderator against every candidate; a pull answers one moderator at once, so it reads less
and ranks by the same measure: the value to them (`optimal`), or the task's own urgency (`fifo`, `priority`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from itertools import islice

import numpy as np

from queueopt.capability import Model, Takers
from queueopt.config import QueueConfig
from queueopt.domain import Task
from queueopt.engine.waiting import WaitingTasks

# Tasks per queue (of those the moderator may take) an `optimal` pull values, where a batch values `top_k`: a pull
# answers one moderator at once, and the best of each queue's first 16 for them is rarely worse than of its first 200.
_PROBE = 16


def most_valuable_eligible(
    queues: Sequence[QueueConfig], waiting: WaitingTasks, model: Model, moderator_id: str, now: float
) -> Task | None:
    """`optimal` pulls: the task of highest value to the moderator among the first `_PROBE` tasks of each queue,
    and in a queue none of whose first `_PROBE` they may take, among the first they may, read past the rest as
    a batch reads for its free moderators (found by a probe: a window of French tasks hid an urgent English
    task behind it, and the pull leased an English moderator a task worth a millionth of it from another
    queue). The plain window first: reading through the lanes for one moderator costs a fifth of a pull."""
    windows = [waiting.window(queue.name, min(_PROBE, queue.top_k), None) for queue in queues]
    candidates = [task for window in windows for task in window]
    value = model.value(candidates, [moderator_id], now)
    found = np.diff(value.indptr) > 0
    behind: list[Task] = []
    takers: Takers | None = None
    start = 0
    for queue, window in zip(queues, windows, strict=True):
        end = start + len(window)
        if not found[start:end].any() and waiting.queues.depth(queue.name) > len(window):
            if takers is None:
                takers = model.takers([moderator_id], now)
            behind += waiting.window(queue.name, min(_PROBE, queue.top_k), takers)
        start = end
    if behind:
        candidates += behind
        value = model.value(candidates, [moderator_id], now)
    if value.nnz == 0:
        return None
    rows = np.repeat(np.arange(value.shape[0]), np.diff(value.indptr))
    return candidates[int(rows[np.lexsort((rows, -value.data))[0]])]


def most_urgent_eligible(
    queues: Sequence[QueueConfig],
    waiting: WaitingTasks,
    open_tasks: Mapping[str, Task],
    model: Model,
    urgency: Callable[[Task, float], float],
    moderator_id: str,
    now: float,
) -> Task | None:
    """`fifo` and `priority` pulls: in each queue the first of its `top_k` tasks the moderator is eligible for
    (an O(1) bit test per task walked, no value matrix), then the most urgent of those, the earlier queue on a
    tie. The queue's key order is its urgency order, so this is the pair a value matrix would rank first. In a
    queue deeper than `top_k` whose first `top_k` the moderator may not take, the first task they may take
    counts (found by a probe: a moderator who reads only Irish got nothing from a queue of 250 French tasks
    with one Irish task behind them, which the next batch gave them)."""
    queued, eligible = waiting.queues, model.eligible
    best: Task | None = None
    best_urgency = -math.inf
    takers: Takers | None = None
    for queue in queues:
        found = None
        for task_id in islice(queued.ordered(queue.name), queue.top_k):
            first = open_tasks[task_id]
            if eligible(first, moderator_id, now):
                found = first
                break
        if found is None and queued.depth(queue.name) > queue.top_k:
            if takers is None:
                takers = model.takers([moderator_id], now)
            behind = waiting.window(queue.name, 1, takers)
            found = behind[0] if behind else None
        if found is not None and (score := urgency(found, now)) > best_urgency:
            best, best_urgency = found, score
    return best
