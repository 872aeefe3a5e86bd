"""Named priority queues of waiting tasks, highest key first and first-in-first-out among equal keys.

Plain tuples. A task's entry, `(-key, sequence, task id, queue name, enqueued at, moves, lane)`, is one tuple
shared by every structure that refers to it, and the live map holds that same tuple, so "is this entry still
current" is an identity check and a push allocates one tuple.

Each queue is a sorted `head` in front of a binary heap `rest`, every entry of the head ordered before every entry
of the heap. The engine reads the first few hundred tasks of every queue on every batch and takes only a few, so
reading must not reorder anything: a read moves the heap's minimum onto the head's end only when it reads past the
head, and the next read finds that prefix sorted already. The head holds live entries only: a removed task's entry
is cut out of it at once (a bisection and a shift of the entries behind it, in C), so reading the first k tasks
is a slice, with no check per entry. In the heap a removed task's entry stays behind until a read pops it, or until
dead entries outnumber live ones and the queue is compacted, so memory stays proportional to the waiting tasks.

A queue is also split into lanes, one per label its pusher gives (the engine's is what a task requires of its
reviewer), each kept the same way: when most of a queue is work nobody free may take, a read of the lanes someone
may take never looks at the others: the first k tasks of some lanes are read either by sorting each lane's first k
together or by one filtered pass over the queue, whichever reads fewer (see `QueueSet.first`). A task can change
lanes in place (`move`): the engine moves it when an escalation step relaxes what it requires.

"How old is the oldest waiting task" (for SLA monitoring) needs no scan: tasks mostly arrive in time order, so
their entries go on a deque as well; a task that comes back with an older enqueue time (a released lease keeps
its age) goes on a small heap ordered by that time instead.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Collection, Hashable, Iterable, Iterator, KeysView
from heapq import heapify, heappop, heappush
from itertools import chain, compress, repeat
from operator import attrgetter, itemgetter

_COMPACT_SLACK = 64
"""Dead entries a queue may carry beyond twice its live ones before it is compacted; keeps small queues from
being compacted over and over."""
_LANE_SLACK = 8
"""The same for one lane, which is compacted on its own."""
_READ_AHEAD = 16
"""Entries a read of some lanes takes beyond the share of the queue their tasks are expected to fill, so a read
falls short (and reads as far again) only when the lanes' tasks sit unusually far back."""


_Entry = tuple[float, int, str, str, float, int, Hashable]
_enqueued_at = itemgetter(4)
_task_id = itemgetter(2)
_lane_of = itemgetter(6)
_live_count = attrgetter("live")


class _Sorted:
    """Entries in key order: a sorted `head` of live entries, then a heap `rest` that may hold dead ones, each head
    entry ordered before every heap entry. `live` counts the live entries (kept for lanes only)."""

    __slots__ = ("head", "live", "rest")

    def __init__(self) -> None:
        self.head: list[_Entry] = []
        self.rest: list[_Entry] = []
        self.live = 0

    def held(self) -> int:
        return len(self.head) + len(self.rest)

    def add(self, entry: _Entry) -> None:
        self.live += 1
        self.place(entry)

    def place(self, entry: _Entry) -> None:
        """Into the head where it belongs among the entries read already, else onto the heap."""
        head = self.head
        if head and entry < head[-1]:
            insort(head, entry)
        else:
            heappush(self.rest, entry)

    def died(self, entry: _Entry) -> None:
        self.live -= 1
        self.cut(entry)

    def cut(self, entry: _Entry) -> None:
        """Take a dead entry out of the head if it is there (entries are unique, so the bisection finds it); on the
        heap it stays until a read or a compaction drops it."""
        head = self.head
        if head and entry <= head[-1]:
            del head[bisect_left(head, entry)]

    def front(self, live: dict[str, _Entry], count: int) -> list[_Entry]:
        """The first `count` live entries (all of them when fewer), as a new list."""
        self.fill(live, count)
        return self.head[:count]

    def walk(self, live: dict[str, _Entry]) -> Iterator[_Entry]:
        """The live entries in order, lazily, the head growing as the walk reads past it."""
        head, at = self.head, 0
        while True:
            while at < len(head):
                yield head[at]
                at += 1
            if not self.fill(live, at + 1):
                return

    def fill(self, live: dict[str, _Entry], count: int) -> bool:
        """Move the heap's live minima onto the head until it holds `count`; False when the heap ran out first."""
        head, rest = self.head, self.rest
        while len(head) < count:
            if not rest:
                return False
            entry = heappop(rest)
            if live.get(entry[2]) is entry:
                head.append(entry)
        return True

    def rebuild(self, live: dict[str, _Entry]) -> None:
        """Only the live entries kept on the heap (the head holds no others)."""
        self.rest = [entry for entry in self.rest if live.get(entry[2]) is entry]
        heapify(self.rest)


class _Queue(_Sorted):
    """One named queue: all its entries by key (the queue is that `_Sorted` itself, one attribute lookup less on
    every push and pop than holding one; its `live` count is not kept, the depth is), its entries per lane and by
    enqueue time, and the counts behind its depth."""

    __slots__ = ("gone", "in_order", "lanes", "last_at", "out_of_order", "pushed")

    def __init__(self) -> None:
        super().__init__()
        # Only lanes with a live entry; None until a read first asks for lanes, most queues never being deep enough.
        self.lanes: dict[Hashable, _Sorted] | None = None
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
        target.place(entry)
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
        target.cut(entry)
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
        target.cut(entry)
        target.place(moved)
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
        taken = head[:wanted]
        del head[:wanted]
        for entry in taken:
            del live[entry[2]]
        # One lookup that also unlinks: a dead entry's task is either gone (None) or queued again under a newer
        # entry, which goes straight back.
        while len(taken) < wanted:
            entry = heappop(rest)
            current = live.pop(entry[2], None)
            if current is entry:
                taken.append(entry)
            elif current is not None:
                live[entry[2]] = current
        if target.lanes is not None:
            for entry in taken:
                self._leave_lane(target, entry)
        self._compact_if_mostly_dead(target)
        return list(map(_task_id, taken))

    def first(self, queue: str, k: int, lanes: Collection[Hashable] | None = None) -> list[str]:
        """The first `k` task ids in priority order (of `lanes` only, when given), left in place. Reading the first
        k costs a slice once they have been read before, O(k log n) the first time.

        Of some lanes, the first k are found one of two ways, whichever reads fewer entries (each costs about the
        same): reading the queue in order and keeping the entries of those lanes, which reads about k * depth /
        (tasks in those lanes), or merging each lane's first k, cut at the k-th entry of the fullest lane and
        sorted in C. An evening backlog has both kinds: a few hundred thin lanes that together hold most of a
        deep queue, and a few lanes holding a sliver of it."""
        target = self._queues.get(queue)
        if target is None or k <= 0:
            return []
        live = self._live
        if lanes is None:
            return list(map(_task_id, target.front(live, k)))
        # Per-lane work in C (map, sum, min): an evening queue has hundreds of lanes open.
        parts = list(filter(None, map(self._lanes(target).get, lanes)))
        sizes = list(map(_live_count, parts))
        held = sum(sizes)
        depth = target.pushed - target.gone
        if not held:
            return []
        merged = sum(map(min, repeat(k, len(sizes)), sizes))
        if held >= depth or depth * k <= merged * held:
            return self._read_through(target, k, lanes, held, depth)
        fronts = [part.front(live, k) for part in parts]
        # No lane gives more than its first k, and nothing behind the k-th task of a lane that has k can be among
        # the first k of them all.
        full = [front[-1] for front in fronts if len(front) == k]
        if full:
            bound = min(full)
            fronts = [front[: bisect_right(front, bound)] for front in fronts]
        chosen = list(chain.from_iterable(fronts))
        chosen.sort()
        return list(map(_task_id, chosen[:k]))

    def _read_through(self, target: _Queue, k: int, lanes: Collection[Hashable], held: int, depth: int) -> list[str]:
        """The first `k` entries of `lanes` (which hold `held` of the queue's `depth` tasks), found by reading the
        queue in order, as far as they are expected to reach and then twice as far again each time that fell
        short."""
        live, head = self._live, target.head
        reach = depth if held <= k else min(depth, -(-k * depth // held) + _READ_AHEAD)
        chosen: list[str] = []
        read = 0
        while True:
            target.fill(live, reach)
            # Filtered in C: one pass of iterators, no bytecode per entry.
            read_now = head[read:reach]
            chosen += compress(map(_task_id, read_now), map(lanes.__contains__, map(_lane_of, read_now)))
            if len(chosen) >= k or reach >= depth:
                return chosen[:k]
            read, reach = reach, min(depth, 2 * reach)

    def ordered(self, queue: str) -> Iterator[str]:
        """The queue's task ids in priority order, lazily, as `first` reads them. Nothing may be pushed or removed
        while the walk is in progress."""
        target = self._queues.get(queue)
        if target is None:
            return
        for entry in target.walk(self._live):
            yield entry[2]

    def lanes(self, queue: str) -> KeysView[Hashable]:
        """The labels of the queue's lanes that hold a task, in no particular order: a live view, which set
        operations read in C."""
        target = self._queues.get(queue)
        return self._lanes(target).keys() if target is not None else {}.keys()

    def lane_depths(self, queue: str) -> dict[Hashable, int]:
        """How many tasks wait in each lane of the queue that holds one."""
        target = self._queues.get(queue)
        if target is None:
            return {}
        return {lane: own.live for lane, own in self._lanes(target).items()}

    def _lanes(self, target: _Queue) -> dict[Hashable, _Sorted]:
        """The queue's lanes, built from its live entries the first time they are asked for. The queue itself is
        read without growing its head: a head as long as a deep queue would make every removal shift all of it."""
        if target.lanes is None:
            live = self._live
            target.lanes = {}
            waiting = sorted(entry for entry in target.rest if live.get(entry[2]) is entry)
            for entry in chain(target.head, waiting):
                own = target.lanes.get(entry[6])
                if own is None:
                    own = target.lanes[entry[6]] = _Sorted()
                own.rest.append(entry)  # in order, so each lane's heap is sorted, which is a valid heap
                own.live += 1
        return target.lanes

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
