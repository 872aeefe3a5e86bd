from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from queueopt.enqueue import QueueSet
from queueopt.enqueue.queues import _COMPACT_SLACK, _LANE_SLACK

QUEUES = ["a", "b"]
KEYS = st.sampled_from([0.0, 1.0, 2.5, -3.0, 7.0])
LANES = ["x", "y", ("z", 1)]


class QueueSetAgainstSortedReference(RuleBasedStateMachine):
    """Random pushes, pops and removals, checked against a sorted list: highest key first, FIFO on ties. Tasks
        come back (a released lease, with their old enqueue time, possibly to another queue or lane), change lanes in
    place, and arrive in
        floods that are then mostly removed, so stale entries, out-of-order ages and compaction are all exercised;
        walks over some lanes are checked against the same list filtered to those lanes."""

    def __init__(self) -> None:
        super().__init__()
        self.queues = QueueSet(QUEUES)
        self.reference: dict[str, list[tuple[float, int, str, float, object]]] = {name: [] for name in QUEUES}
        self.sequence = 0
        self.gone: list[tuple[str, float]] = []

    def _push(self, queue: str, task_id: str, key: float, at: float, lane: object) -> None:
        self.queues.push(queue, task_id, key, at, lane)
        self.reference[queue].append((-key, self.sequence, task_id, at, lane))
        self.reference[queue].sort(key=lambda entry: entry[:2])
        self.sequence += 1

    @rule(queue=st.sampled_from(QUEUES), key=KEYS, at=st.floats(0, 100), lane=st.sampled_from(LANES))
    def push(self, queue: str, key: float, at: float, lane: object) -> None:
        self._push(queue, f"t{self.sequence}", key, at, lane)

    @rule(
        queue=st.sampled_from(QUEUES),
        key=KEYS,
        count=st.integers(1, 150),
        start=st.floats(0, 100),
        lanes=st.lists(st.sampled_from(LANES), min_size=1, max_size=3),
    )
    def flood(self, queue: str, key: float, count: int, start: float, lanes: list[object]) -> None:
        for offset in range(count):
            self._push(queue, f"t{self.sequence}", key, start + offset, lanes[offset % len(lanes)])

    @precondition(lambda self: self.gone)
    @rule(queue=st.sampled_from(QUEUES), key=KEYS, lane=st.sampled_from(LANES), data=st.data())
    def push_again(self, queue: str, key: float, lane: object, data: st.DataObject) -> None:
        task_id, at = self.gone.pop(data.draw(st.integers(0, len(self.gone) - 1)))
        self._push(queue, task_id, key, at, lane)

    @rule(queue=st.sampled_from(QUEUES), k=st.integers(1, 4))
    def pop(self, queue: str, k: int) -> None:
        expected = self.reference[queue][:k]
        assert self.queues.pop_top(queue, k) == [entry[2] for entry in expected]
        self.gone.extend((entry[2], entry[3]) for entry in expected)
        del self.reference[queue][:k]

    @rule(queue=st.sampled_from(QUEUES), k=st.integers(-1, 5))
    def first(self, queue: str, k: int) -> None:
        assert self.queues.first(queue, k) == [entry[2] for entry in self.reference[queue][: max(k, 0)]]

    @rule(queue=st.sampled_from(QUEUES), k=st.integers(0, 200))
    def walk(self, queue: str, k: int) -> None:
        """A walk stopped after k tasks, then one read to the end: both in order, and nothing moved."""
        walk = self.queues.ordered(queue)
        expected = [entry[2] for entry in self.reference[queue]]
        assert [task_id for _, task_id in zip(range(k), walk, strict=False)] == expected[:k]
        assert list(self.queues.ordered(queue)) == expected

    @rule(
        queue=st.sampled_from(QUEUES),
        lanes=st.lists(st.sampled_from([*LANES, "never"]), unique=True),
        k=st.integers(0, 200),
    )
    def first_in_lanes(self, queue: str, lanes: list[object], k: int) -> None:
        """Only the tasks of the lanes asked for, in the queue's order, the first k of them or all: read off the
        queue itself when it is shallow, merged from the lanes when it is deep."""
        expected = [entry[2] for entry in self.reference[queue] if entry[4] in lanes]
        assert self.queues.first(queue, k, set(lanes)) == expected[:k]
        assert self.queues.first(queue, len(expected) + 1, set(lanes)) == expected
        assert sorted(map(repr, self.queues.lanes(queue))) == sorted(
            {repr(entry[4]) for entry in self.reference[queue]}
        )

    @precondition(lambda self: any(self.reference.values()))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        queue = data.draw(st.sampled_from([name for name in QUEUES if self.reference[name]]))
        entry = data.draw(st.sampled_from(self.reference[queue]))
        assert self.queues.remove(entry[2])
        assert not self.queues.remove(entry[2])
        self.reference[queue].remove(entry)
        self.gone.append((entry[2], entry[3]))

    @precondition(lambda self: any(self.reference.values()))
    @rule(data=st.data(), lane=st.sampled_from(LANES))
    def move(self, data: st.DataObject, lane: object) -> None:
        """A task changes lanes (an escalation step passed) and keeps its place in its queue."""
        queue = data.draw(st.sampled_from([name for name in QUEUES if self.reference[name]]))
        entries = self.reference[queue]
        index = data.draw(st.integers(0, len(entries) - 1))
        self.queues.move(entries[index][2], lane)
        entries[index] = (*entries[index][:4], lane)

    @precondition(lambda self: any(self.reference.values()))
    @rule(queue=st.sampled_from(QUEUES), keep=st.integers(0, 3))
    def remove_most(self, queue: str, keep: int) -> None:
        entries = self.reference[queue]
        for entry in entries[keep:][::-1]:
            assert self.queues.remove(entry[2])
            self.gone.append((entry[2], entry[3]))
        del entries[keep:]

    @invariant()
    def depth_and_age_match(self) -> None:
        for name in QUEUES:
            assert self.queues.depth(name) == len(self.reference[name])
            ages = [entry[3] for entry in self.reference[name]]
            assert self.queues.oldest_enqueued_at(name) == (min(ages) if ages else None)
        assert len(self.queues) == sum(len(entries) for entries in self.reference.values())

    @invariant()
    def dead_entries_stay_bounded(self) -> None:
        for name in QUEUES:
            queue = self.queues._queues[name]
            held = queue.held() + len(queue.in_order) + len(queue.out_of_order)
            assert held <= 4 * len(self.reference[name]) + _COMPACT_SLACK
            for lane in (queue.lanes or {}).values():
                assert 0 < lane.live and lane.held() <= 2 * lane.live + _LANE_SLACK

    @invariant()
    def heads_hold_the_live_in_order(self) -> None:
        """Reads slice the heads without checking their entries, so no dead entry may stay in one."""
        live = self.queues._live
        for name in QUEUES:
            queue = self.queues._queues[name]
            for part in [queue, *(queue.lanes or {}).values()]:
                assert all(live.get(entry[2]) is entry for entry in part.head)
                assert part.head == sorted(part.head)
                assert not part.head or not part.rest or part.head[-1] < min(part.rest)
            lanes = (queue.lanes or {}).values()
            assert queue.lanes is None or sum(lane.live for lane in lanes) == len(self.reference[name])


QueueSetAgainstSortedReference.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestQueueSet = QueueSetAgainstSortedReference.TestCase


def test_pushing_a_queued_task_twice_is_refused() -> None:
    queues = QueueSet()
    queues.push("a", "t", 1.0, 0.0)
    try:
        queues.push("b", "t", 1.0, 0.0)
    except KeyError as error:
        assert "already queued" in str(error)
    else:
        raise AssertionError("a task was queued twice")
    assert queues.queue_of("t") == "a" and "t" in queues


def test_a_removed_task_leaves_the_head_at_once() -> None:
    """Tasks are taken from the front of a long queue: the next read must start at the first live one."""
    queues = QueueSet(["a"])
    for index in range(1000):
        queues.push("a", f"t{index}", -float(index), float(index))
    assert len(list(queues.ordered("a"))) == 1000  # the whole queue is now the sorted head
    for index in range(400):
        queues.remove(f"t{index}")
        assert queues.first("a", 1) == [f"t{index + 1}"]
    assert len(queues._queues["a"].head) == 600


def test_a_lane_is_rebuilt_as_soon_as_its_dead_entries_pass_the_bound() -> None:
    """Removals behind a lane's read head leave dead entries on its heap; after every single removal the lane must
    hold at most twice its live entries plus the slack, or a lane that empties slowly keeps memory it no longer needs.
    """
    queues = QueueSet(["a"])
    for index in range(200):
        queues.push("a", f"t{index}", 0.0, float(index), "x" if index % 2 else "y")
    assert len(queues.first("a", 1, {"x"})) == 1
    lane = queues._queues["a"].lanes["x"]  # type: ignore[index]
    for index in range(199, 1, -2):
        queues.remove(f"t{index}")
        assert lane.held() <= 2 * lane.live + _LANE_SLACK


def test_lanes_merged_are_cut_only_at_a_lane_that_gives_k_tasks() -> None:
    """Merging lane fronts (a deep queue, few tasks in the lanes asked for): lane "x" holds two tasks at the front,
    lane "y" five at the back. Only a lane with k tasks bounds the first k of all; cutting at the last of "x", which
    has fewer, would drop "y"'s first task and return too few."""
    queues = QueueSet(["a"])
    queues.push("a", "x0", 10.0, 0.0, "x")
    queues.push("a", "x1", 10.0, 0.0, "x")
    for index in range(990):
        queues.push("a", f"z{index}", 5.0, 0.0, "z")
    for index in range(5):
        queues.push("a", f"y{index}", 1.0, 0.0, "y")
    assert queues.first("a", 3, {"x", "y"}) == ["x0", "x1", "y0"]


def test_a_read_through_that_falls_short_reads_on_from_where_it_stopped() -> None:
    """Fifty one-task lanes, read by one pass over the queue: five of their tasks are at the front and the rest at the
    back, past the first reach, so the read goes on twice; each pass must read only what the last did not, or the
    front five come back twice."""
    queues = QueueSet(["a"])
    lanes = set(range(50))
    for lane in range(5):
        queues.push("a", f"front{lane}", 10.0, 0.0, lane)
    for index in range(150):
        queues.push("a", f"other{index}", 5.0, 0.0, "other")
    for lane in range(5, 50):
        queues.push("a", f"back{lane}", 1.0, 0.0, lane)
    expected = [f"front{lane}" for lane in range(5)] + [f"back{lane}" for lane in range(5, 10)]
    assert queues.first("a", 10, lanes) == expected
