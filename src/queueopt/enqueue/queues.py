"""Named priority queues of waiting tasks, highest key first and first-in-first-out among equal keys.

Binary heaps of plain tuples with lazy deletion. A task's entry, `(-key, sequence, task id, queue name, enqueued
at)`, is one tuple shared by every structure that refers to it, and the live map holds that same tuple, so "is this
entry still current" is an identity check and a push allocates one tuple. A removed task's entry stays behind
until it surfaces and is dropped then, or until dead entries outnumber live ones and the queue is compacted, so
memory stays proportional to the waiting tasks. Every operation is O(log n) amortised.

"How old is the oldest waiting task" (for SLA monitoring) needs no scan: tasks mostly arrive in time order, so
their entries go on a deque as well; a task that comes back with an older enqueue time (a released lease keeps
its age) goes on a small heap ordered by that time instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from heapq import heapify, heappop, heappush
from operator import itemgetter

_COMPACT_SLACK = 64
"""Dead entries a queue may carry beyond twice its live ones before it is compacted; keeps small queues from
being compacted over and over."""


_Entry = tuple[float, int, str, str, float]
_enqueued_at = itemgetter(4)


class _Queue:
    """One named queue: the entries by key, the entries by enqueue time, and the counts behind its depth."""

    __slots__ = ("by_key", "gone", "in_order", "last_at", "out_of_order", "pushed")

    def __init__(self) -> None:
        self.by_key: list[_Entry] = []
        self.in_order: deque[_Entry] = deque()
        self.out_of_order: list[tuple[float, int, _Entry]] = []
        self.last_at = float("-inf")
        # `pushed` numbers the entries (first in, first out among equal keys); depth is pushed - gone.
        self.pushed = 0
        self.gone = 0


class QueueSet:
    __slots__ = ("_live", "_queues")

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._queues: dict[str, _Queue] = {}
        # task id -> its current entry
        self._live: dict[str, _Entry] = {}
        for name in names:
            self._queue(name)

    def _queue(self, name: str) -> _Queue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = _Queue()
        return queue

    def push(self, queue: str, task_id: str, key: float, enqueued_at: float) -> None:
        target = self._queues.get(queue) or self._queue(queue)
        sequence = target.pushed
        entry = (-key, sequence, task_id, queue, enqueued_at)
        if self._live.setdefault(task_id, entry) is not entry:
            raise KeyError(f"task {task_id!r} is already queued")
        target.pushed = sequence + 1
        heappush(target.by_key, entry)
        if enqueued_at >= target.last_at:
            target.in_order.append(entry)
            target.last_at = enqueued_at
        else:
            heappush(target.out_of_order, (enqueued_at, sequence, entry))

    def remove(self, task_id: str) -> bool:
        """Take a task out wherever it waits; False when it was not queued."""
        entry = self._live.pop(task_id, None)
        if entry is None:
            return False
        target = self._queues[entry[3]]
        target.gone += 1
        self._compact_if_mostly_dead(target)
        return True

    def pop_top(self, queue: str, k: int = 1) -> list[str]:
        """Remove and return up to `k` task ids in priority order."""
        target = self._queues.get(queue)
        if target is None:
            return []
        heap, live = target.by_key, self._live
        taken: list[str] = []
        wanted = min(k, target.pushed - target.gone)
        target.gone += wanted
        while wanted:
            entry = heappop(heap)
            task_id = entry[2]
            # One lookup that also unlinks: a dead entry's task is either gone (None) or queued again under a
            # newer entry, which goes straight back.
            current = live.pop(task_id, None)
            if current is entry:
                taken.append(task_id)
                wanted -= 1
            elif current is not None:
                live[task_id] = current
        self._compact_if_mostly_dead(target)
        return taken

    def peek_top(self, queue: str, k: int) -> list[str]:
        """The first `k` task ids in priority order, left in place."""
        target = self._queues.get(queue)
        if target is None or k <= 0:
            return []
        heap, live = target.by_key, self._live
        taken: list[_Entry] = []
        while heap and len(taken) < k:
            entry = heappop(heap)
            if live.get(entry[2]) is entry:
                taken.append(entry)
        for entry in taken:
            heappush(heap, entry)
        return [entry[2] for entry in taken]

    def _compact_if_mostly_dead(self, target: _Queue) -> None:
        """Rebuild a queue from its live entries once its structures hold more than twice as many dead entries as
        live ones (plus a little slack). The rebuild costs O(d log d) for d live entries and is paid for by the
        at least d removals since the last one (each leaves at most two dead entries), so it adds O(log n)
        amortised to each removal; memory stays proportional to the tasks waiting."""
        by_key, depth = target.by_key, target.pushed - target.gone
        if len(by_key) + len(target.in_order) + len(target.out_of_order) <= 4 * depth + _COMPACT_SLACK:
            return
        if len(by_key) > depth:
            live = self._live
            by_key = target.by_key = [entry for entry in by_key if live.get(entry[2]) is entry]
            heapify(by_key)
        # Sorted by enqueue time, every live entry can go on the in-order deque (last_at is already at least
        # the latest of them).
        target.in_order = deque(sorted(by_key, key=_enqueued_at))
        target.out_of_order = []

    def depth(self, queue: str) -> int:
        target = self._queues.get(queue)
        return 0 if target is None else target.pushed - target.gone

    def oldest_enqueued_at(self, queue: str) -> float | None:
        target = self._queues.get(queue)
        if target is None:
            return None
        live, in_order, out_of_order = self._live, target.in_order, target.out_of_order
        while in_order and live.get(in_order[0][2]) is not in_order[0]:
            in_order.popleft()
        while out_of_order and live.get(out_of_order[0][2][2]) is not out_of_order[0][2]:
            heappop(out_of_order)
        candidates = ([in_order[0][4]] if in_order else []) + ([out_of_order[0][0]] if out_of_order else [])
        return min(candidates) if candidates else None

    def queue_of(self, task_id: str) -> str | None:
        entry = self._live.get(task_id)
        return None if entry is None else entry[3]

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._live

    def __len__(self) -> int:
        return len(self._live)
