"""Named priority queues of waiting tasks, highest key first and first-in-first-out among equal keys.

Plain tuples with lazy deletion. A task's entry, `(-key, sequence, task id, queue name, enqueued at, moves,
lane)`, is one tuple shared by every structure that refers to it, and the live map holds that same tuple, so "is
this entry still current" is an identity check and a push allocates one tuple. A removed task's entry stays behind
until a walk passes it and drops it, or until dead entries outnumber live ones and the queue is compacted, so
memory stays proportional to the waiting tasks.

Each queue is a sorted `head` in front of a binary heap `rest`, every entry of the head ordered before every entry
of the heap. The engine reads the first few hundred tasks of every queue on every batch and takes only a few, so
reading must not reorder anything: a walk reads the head as a list and only moves the heap's minimum onto the
head's end when it reads past it, and the next walk finds that prefix sorted already. A push that belongs inside
the head is inserted there (a bisection and a shift of the entries behind it), any other goes on the heap.

A queue is also split into lanes, one per label its pusher gives (the engine's is what a task requires of its
reviewer), each ordered the same way: when most of a queue is work nobody free may take, a walk over the lanes
someone may take skips the others whole instead of reading past each of their tasks. A task can change lanes in
place (`move`): the engine moves it when an escalation step relaxes what it requires.

"How old is the oldest waiting task" (for SLA monitoring) needs no scan: tasks mostly arrive in time order, so
their entries go on a deque as well; a task that comes back with an older enqueue time (a released lease keeps
its age) goes on a small heap ordered by that time instead.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import deque
from collections.abc import Collection, Hashable, Iterable, Iterator
from heapq import heapify, heappop, heappush, heapreplace
from operator import itemgetter

_COMPACT_SLACK = 64
"""Dead entries a queue may carry beyond twice its live ones before it is compacted; keeps small queues from
being compacted over and over."""
_LANE_SLACK = 8
"""The same for one lane, which is compacted on its own."""
_RETRY_READ = 16
"""After a walk over lanes had to merge them, the next walks merge at once, except every this many."""
_SKIP_READ = 8
"""Tasks of other lanes a walk over some lanes reads past before it merges those lanes instead, per lane merged:
reading past a task costs about a tenth of setting up one lane's part in a merge."""


_Entry = tuple[float, int, str, str, float, int, Hashable]
_enqueued_at = itemgetter(4)
_task_id = itemgetter(2)


class _Sorted:
    """Entries in key order: a sorted `head`, then a heap `rest`, each head entry ordered before every heap entry.
    `live` counts the live entries (kept for lanes only); `head_dead` the dead ones in the head; `reach` and `read`
    are how far into the head the last walk got and how many live entries it found there."""

    __slots__ = ("head", "head_dead", "live", "reach", "read", "rest")

    def __init__(self) -> None:
        self.head: list[_Entry] = []
        self.head_dead = 0
        self.rest: list[_Entry] = []
        self.live = 0
        self.reach = 0
        self.read = 0

    def held(self) -> int:
        return len(self.head) + len(self.rest)

    def add(self, entry: _Entry) -> None:
        self.live += 1
        head = self.head
        if head and entry < head[-1]:
            insort(head, entry)
        else:
            heappush(self.rest, entry)

    def died(self, entry: _Entry) -> None:
        self.live -= 1
        head = self.head
        if head and entry <= head[-1]:
            self.head_dead += 1

    def walk(self, live: dict[str, _Entry]) -> Iterator[_Entry]:
        """The live entries in order, lazily, as `next` reads them."""
        self._tidy(live)
        read_on = self.next
        entry = read_on(live)
        while entry is not None:
            yield entry
            entry = read_on(live)

    def first(self, live: dict[str, _Entry], after: _Entry | None) -> _Entry | None:
        """The first live entry (after `after`, when given), or None; `next` then gives the ones behind it, so a
        merge of lanes starts no generator per lane and reads on only in the lane it just took from."""
        head = self._tidy(live)
        if after is None:
            # A lane's front is where its tasks are taken, and every merge starts there: its dead go at once.
            for dead, entry in enumerate(head):
                if live.get(entry[2]) is entry:
                    if dead:
                        del head[:dead]
                        self.head_dead -= dead
                    self.reach = self.read = 1
                    return entry
            self.head_dead -= len(head)
            head.clear()
            return self.next(live)
        # The entries before `after` are not read, so they count as live: the next walk does not tidy them.
        self.reach = self.read = bisect_right(head, after)
        front = self.next(live)
        while front is not None and front <= after:
            front = self.next(live)
        return front

    def next(self, live: dict[str, _Entry]) -> _Entry | None:
        """The live entry behind the one `first` or `next` last gave, or None; read as `walk` reads."""
        head, at = self.head, self.reach
        size = len(head)
        while at < size:
            entry = head[at]
            at += 1
            if live.get(entry[2]) is entry:
                self.reach, self.read = at, self.read + 1
                return entry
        self.reach = at
        rest = self.rest
        while rest:
            entry = heappop(rest)
            if live.get(entry[2]) is entry:
                head.append(entry)
                self.reach, self.read = len(head), self.read + 1
                return entry
        return None

    def _tidy(self, live: dict[str, _Entry]) -> list[_Entry]:
        """The head, ready for a walk to read, which sets `reach` and `read` again as it goes.

        The tasks taken are those near the front, so their dead entries gather where every walk reads; a walk
        first drops the dead from the part of the head the last walk read when they outnumbered the live there
        (paid for by that walk), and the whole head's when they are most of it."""
        head = self.head
        if self.reach - self.read > self.read + _LANE_SLACK:
            prefix = head[: self.reach]
            kept = [entry for entry in prefix if live.get(entry[2]) is entry]
            self.head_dead -= len(prefix) - len(kept)
            head[: self.reach] = kept
        if self.head_dead > _LANE_SLACK and 2 * self.head_dead > len(head):
            head = self.head = [entry for entry in head if live.get(entry[2]) is entry]
            self.head_dead = 0
        self.reach = self.read = 0
        return head

    def rebuild(self, live: dict[str, _Entry]) -> None:
        """Only the live entries kept; the head stays sorted and the rest becomes a heap again."""
        self.head = [entry for entry in self.head if live.get(entry[2]) is entry]
        self.head_dead = self.reach = self.read = 0
        self.rest = [entry for entry in self.rest if live.get(entry[2]) is entry]
        heapify(self.rest)


class _Queue(_Sorted):
    """One named queue: all its entries by key (the queue is that `_Sorted` itself, one attribute lookup less on
    every push and pop than holding one; its `live` count is not kept, the depth is), its entries per lane and by
    enqueue time, and the counts behind its depth."""

    __slots__ = ("gone", "in_order", "lanes", "last_at", "merges", "out_of_order", "pushed")

    def __init__(self) -> None:
        super().__init__()
        # Only lanes with a live entry; None until a walk first asks for lanes, most queues never being deep enough.
        self.lanes: dict[Hashable, _Sorted] | None = None
        self.merges = 0  # walks over lanes since one last had to merge them (0: the last one read through)
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

    def push(self, queue: str, task_id: str, key: float, enqueued_at: float, lane: Hashable = None) -> None:
        target = self._queues.get(queue) or self._queue(queue)
        sequence = target.pushed
        entry = (-key, sequence, task_id, queue, enqueued_at, 0, lane)
        if self._live.setdefault(task_id, entry) is not entry:
            raise KeyError(f"task {task_id!r} is already queued")
        target.pushed = sequence + 1
        head = target.head
        if head and entry < head[-1]:
            insort(head, entry)
        else:
            heappush(target.rest, entry)
        lanes = target.lanes
        if lanes is not None:
            own = lanes.get(lane)
            if own is None:
                own = lanes[lane] = _Sorted()
            own.add(entry)
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
        head = target.head
        if head and entry <= head[-1]:
            target.head_dead += 1
        if target.lanes is not None:
            self._leave_lane(target, entry)
        self._compact_if_mostly_dead(target)
        return True

    def move(self, task_id: str, lane: Hashable) -> None:
        """Put a queued task in another lane, in the same place in its queue (its key and sequence kept)."""
        entry = self._live[task_id]
        key, sequence, _, queue, enqueued_at, moves, _ = entry
        # Counting the moves keeps the entry and its stale copy apart in every comparison before their lanes, which
        # need not be comparable.
        moved = (key, sequence, task_id, queue, enqueued_at, moves + 1, lane)
        target = self._queues[queue]
        self._live[task_id] = moved
        target.died(entry)
        target.add(moved)
        lanes = target.lanes
        if lanes is not None:
            self._leave_lane(target, entry)
            own = lanes.get(lane)
            if own is None:
                own = lanes[lane] = _Sorted()
            own.add(moved)
        heappush(target.out_of_order, (enqueued_at, sequence, moved))
        self._compact_if_mostly_dead(target)

    def _leave_lane(self, target: _Queue, entry: _Entry) -> None:
        """Bookkeeping for an entry that just died, in its lane; a lane left with too many dead is rebuilt."""
        assert target.lanes is not None
        lane = target.lanes[entry[6]]
        lane.died(entry)
        if not lane.live:
            del target.lanes[entry[6]]
        elif lane.held() > 2 * lane.live + _LANE_SLACK:
            lane.rebuild(self._live)

    def pop_top(self, queue: str, k: int = 1) -> list[str]:
        """Remove and return up to `k` task ids in priority order."""
        target = self._queues.get(queue)
        if target is None:
            return []
        wanted = min(k, target.pushed - target.gone)
        if wanted <= 0:
            return []
        target.gone += wanted
        live, head, rest = self._live, target.head, target.rest
        taken: list[_Entry] = []
        # One lookup that also unlinks: a dead entry's task is either gone (None) or queued again under a newer
        # entry, which goes straight back.
        if head:
            at = 0
            while wanted and at < len(head):
                entry = head[at]
                at += 1
                current = live.pop(entry[2], None)
                if current is entry:
                    taken.append(entry)
                    wanted -= 1
                elif current is not None:
                    live[entry[2]] = current
            del head[:at]  # the entries taken and the dead ones before them, all from the front
            target.head_dead -= at - len(taken)
            target.reach = target.read = 0
        while wanted:
            entry = heappop(rest)
            current = live.pop(entry[2], None)
            if current is entry:
                taken.append(entry)
                wanted -= 1
            elif current is not None:
                live[entry[2]] = current
        if target.lanes is not None:
            for entry in taken:
                self._leave_lane(target, entry)
        self._compact_if_mostly_dead(target)
        return list(map(_task_id, taken))

    def peek_top(self, queue: str, k: int) -> list[str]:
        """The first `k` task ids in priority order, left in place."""
        if k <= 0:
            return []
        taken: list[str] = []
        for task_id in self.ordered(queue):
            taken.append(task_id)
            if len(taken) == k:
                break
        return taken

    def ordered(self, queue: str) -> Iterator[str]:
        """The queue's task ids in priority order, lazily: reading the first k costs O(k) once they have been read
        before, O(k log n) the first time. Nothing may be pushed or removed while the walk is in progress."""
        target = self._queues.get(queue)
        if target is None:
            return
        for entry in target.walk(self._live):
            yield entry[2]

    def lanes(self, queue: str) -> list[Hashable]:
        """The labels of the queue's lanes that hold a task, in no particular order."""
        target = self._queues.get(queue)
        return [] if target is None else list(self._lanes(target))

    def _lanes(self, target: _Queue) -> dict[Hashable, _Sorted]:
        """The queue's lanes, built from its live entries the first time they are asked for."""
        if target.lanes is None:
            live = self._live
            target.lanes = {}
            for entry in target.walk(live):
                own = target.lanes.get(entry[6])
                if own is None:
                    own = target.lanes[entry[6]] = _Sorted()
                own.head.append(entry)  # in order, so each lane's head is sorted
                own.live += 1
        return target.lanes

    def ordered_in(self, queue: str, lanes: Collection[Hashable]) -> Iterator[str]:
        """The ids of the tasks in `lanes` only, in the queue's priority order, lazily; the same restrictions as
        `ordered`. The cost is about that of the tasks read, whatever the other lanes hold.

        The walk reads the whole queue first, passing over other lanes' tasks; once it has passed more of them
        than merging the lanes asked for would cost to set up, it merges those lanes instead, from where it got.
        After that the queue's next walks merge from the start, but every `_RETRY_READ`-th reads through again."""
        target = self._queues.get(queue)
        if target is None:
            return
        live, own = self._live, self._lanes(target)
        asked = [lane for lane in map(own.get, lanes) if lane is not None]
        last: _Entry | None = None
        # A queue whose last walks had to merge merges at once, but tries reading through again now and then.
        target.merges = target.merges + 1 if target.merges else 0
        if target.merges % _RETRY_READ == 0:
            target.merges = 0
            budget = _SKIP_READ * (len(asked) + 1)
            for entry in target.walk(live):
                if entry[6] in lanes:
                    last = entry
                    yield entry[2]
                else:
                    budget -= 1
                    if budget < 0:
                        target.merges = 1
                        break
            else:
                return
        # Every task of these lanes up to `last` has been read: the merge starts after it. Its heap holds the first
        # unread entry of each lane (an entry names its lane), and a lane is read on only when its entry is taken.
        fronts = []
        for lane in asked:
            front = lane.first(live, last)
            if front is not None:
                fronts.append(front)
        heapify(fronts)
        while fronts:
            entry = fronts[0]
            yield entry[2]
            behind = own[entry[6]].next(live)
            if behind is None:
                heappop(fronts)
            else:
                heapreplace(fronts, behind)

    def _compact_if_mostly_dead(self, target: _Queue) -> None:
        """Rebuild a queue from its live entries once its structures hold more than twice as many dead entries as
        live ones (plus a little slack). The rebuild costs O(d log d) for d live entries and is paid for by the
        at least d removals since the last one (each leaves at most two dead entries here), so it adds O(log n)
        amortised to each removal; memory stays proportional to the tasks waiting. (Each lane is kept within
        bounds on its own, in `remove`.)"""
        depth = target.pushed - target.gone
        held = len(target.head) + len(target.rest)
        if held + len(target.in_order) + len(target.out_of_order) <= 4 * depth + _COMPACT_SLACK:
            return
        if held > depth:
            target.rebuild(self._live)
        # Sorted by enqueue time, every live entry can go on the in-order deque (last_at is already at least
        # the latest of them).
        target.in_order = deque(sorted([*target.head, *target.rest], key=_enqueued_at))
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
