"""Named priority queues of waiting tasks, highest key first and first-in-first-out among equal keys.

Binary heaps of plain tuples with lazy deletion: a removed task's entry stays in its heap until it surfaces
and is dropped then, recognised because the task's live record no longer carries that entry's sequence number.
Every operation is O(log n) amortised. "How old is the oldest waiting task" (for SLA monitoring) needs no
scan: tasks mostly arrive in time order, so they go on a deque; a task that comes back with an older enqueue
time (a released lease keeps its age) goes on a small heap instead.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Queue:
    by_key: list[tuple[float, int, str]] = field(default_factory=list)
    in_order: deque[tuple[float, int, str]] = field(default_factory=deque)
    out_of_order: list[tuple[float, int, str]] = field(default_factory=list)
    last_at: float = float("-inf")
    depth: int = 0


class QueueSet:
    __slots__ = ("_live", "_queues", "_sequence")

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._queues: dict[str, _Queue] = {}
        # task id -> (queue name, sequence number of its current entries)
        self._live: dict[str, tuple[str, int]] = {}
        self._sequence = itertools.count()
        for name in names:
            self._queue(name)

    def _queue(self, name: str) -> _Queue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = _Queue()
        return queue

    def push(self, queue: str, task_id: str, key: float, enqueued_at: float) -> None:
        sequence = next(self._sequence)
        record = (queue, sequence)
        if self._live.setdefault(task_id, record) is not record:
            raise KeyError(f"task {task_id!r} is already queued")
        target = self._queues.get(queue) or self._queue(queue)
        heapq.heappush(target.by_key, (-key, sequence, task_id))
        if enqueued_at >= target.last_at:
            target.in_order.append((enqueued_at, sequence, task_id))
            target.last_at = enqueued_at
        else:
            heapq.heappush(target.out_of_order, (enqueued_at, sequence, task_id))
        target.depth += 1

    def remove(self, task_id: str) -> bool:
        """Take a task out wherever it waits; False when it was not queued."""
        found = self._live.pop(task_id, None)
        if found is None:
            return False
        self._queues[found[0]].depth -= 1
        return True

    def pop_top(self, queue: str, k: int = 1) -> list[str]:
        """Remove and return up to `k` task ids in priority order."""
        target = self._queues.get(queue)
        if target is None:
            return []
        heap, live, pop = target.by_key, self._live, heapq.heappop
        taken: list[str] = []
        wanted = min(k, target.depth)
        while wanted:
            _, sequence, task_id = pop(heap)
            found = live.get(task_id)
            if found is not None and found[1] == sequence:
                del live[task_id]
                taken.append(task_id)
                wanted -= 1
        target.depth -= len(taken)
        return taken

    def peek_top(self, queue: str, k: int) -> list[str]:
        """The first `k` task ids in priority order, left in place."""
        target = self._queues.get(queue)
        if target is None or k <= 0:
            return []
        heap, live = target.by_key, self._live
        taken: list[tuple[float, int, str]] = []
        while heap and len(taken) < k:
            entry = heapq.heappop(heap)
            found = live.get(entry[2])
            if found is not None and found[1] == entry[1]:
                taken.append(entry)
        for entry in taken:
            heapq.heappush(heap, entry)
        return [entry[2] for entry in taken]

    def _alive(self, entry: tuple[float, int, str]) -> bool:
        found = self._live.get(entry[2])
        return found is not None and found[1] == entry[1]

    def depth(self, queue: str) -> int:
        target = self._queues.get(queue)
        return 0 if target is None else target.depth

    def oldest_enqueued_at(self, queue: str) -> float | None:
        target = self._queues.get(queue)
        if target is None:
            return None
        in_order, out_of_order = target.in_order, target.out_of_order
        while in_order and not self._alive(in_order[0]):
            in_order.popleft()
        while out_of_order and not self._alive(out_of_order[0]):
            heapq.heappop(out_of_order)
        candidates = [entries[0][0] for entries in (in_order, out_of_order) if entries]
        return min(candidates) if candidates else None

    def queue_of(self, task_id: str) -> str | None:
        found = self._live.get(task_id)
        return None if found is None else found[0]

    def queue_names(self) -> list[str]:
        return list(self._queues)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._live

    def __len__(self) -> int:
        return len(self._live)
