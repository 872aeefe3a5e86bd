"""The engine's queued tasks: each queue's order, and each task's lane in it.

A lane is the tasks of a queue that require the same of a reviewer (`_lane`: modality, language, region, policy,
clearance, areas, severity and the escalation steps their wait has passed), so a batch asks once per lane, not once
per task, whether any free moderator may take from it, and reads past the lanes nobody free may take: an evening
queue is deep, and most of it is work the moderators free at that moment may not do. A task changes lanes when its
wait passes an escalation step; the steps due are kept on a heap and passed before a queue is read.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable, Mapping
from heapq import heappop, heappush

from queueopt.capability import Model, Takers
from queueopt.config import OpsConfig
from queueopt.domain import Task, TaskState
from queueopt.engine.strategy import Strategy
from queueopt.enqueue import QueueSet

_QUEUED = TaskState.QUEUED
_LANE_SETS_KEPT = 1024
"""(queue, skill groups) pairs whose open lanes the engine keeps at once: bounded, as free moderators' groups can form
many sets."""
_ROUNDING_S = 1e-6
"""How far an escalation's scheduled time may be off the wait it stands for (arrival plus wait, rounded)."""


class WaitingTasks:
    """The queued tasks of one engine, with `open_tasks`, the engine's index of its open tasks by id (shared, not
    copied): a scheduled escalation of a task that has since left its queue, or changed, is passed over."""

    def __init__(self, config: OpsConfig, model: Model, strategy: Strategy, open_tasks: Mapping[str, Task]) -> None:
        self._config = config
        self._model = model
        self._strategy = strategy
        self._open = open_tasks
        self.queues = QueueSet(queue.name for queue in config.queues)
        # The queued tasks kept from someone (skipped, or an appeal kept from earlier deciders): whether anyone may
        # take one is a question of the task, not of its lane (see `unstaffed`).
        self._kept_waiting: dict[str, Task] = {}
        # A task of each lane ever seen, with the lane's escalation step: what a lane requires of its reviewer is
        # read off any one of its tasks.
        self._lane_sample: dict[tuple[str, Hashable], tuple[Task, int]] = {}
        # Each lane label by a number, given the first time it is seen: the queues and every batch hash lane labels
        # in bulk, and a number hashes for free where a label's tuple is hashed field by field every time.
        self._lane_numbers: dict[_LaneLabel, int] = {}
        # What each lane of each queue requires (skill bits, severity), read off its sample once; all of it is
        # read again when the skill vocabulary, and with it the bits' numbering, has changed.
        self._lane_needs: dict[str, dict[Hashable, tuple[int, bool]]] = {}
        self._lane_needs_vocabulary = -1
        # Per queue and set of free moderators' skill groups, the lanes of work that is not severe which those
        # groups open and those they leave shut (see `_open_lanes`); emptied with the needs.
        self._lanes_known: dict[tuple[str, frozenset[int]], tuple[set[Hashable], set[Hashable]]] = {}
        # Queued tasks with an escalation step ahead, by when it passes: the task changes lanes then. The tasks due
        # at one time (a batch's tasks of queues that escalate after the same wait) share one entry on the heap, their
        # group of (step it passes, task) in the order they were scheduled, so the heap is pushed and popped once for
        # them; `_escalating_at` finds the group of a time still on the heap.
        self._escalating: list[tuple[float, list[tuple[int, Task]]]] = []
        self._escalating_at: dict[float, list[tuple[int, Task]]] = {}

    def push(self, task: Task, now: float) -> None:
        """Queue `task` in its lane as of `now` (escalations due by then passed already: `escalate`)."""
        lane, _ = self._lane_now(task, now)
        self.queues.push(task.queue, task.id, self._strategy.key(task), task.enqueued_at, lane)
        if task.skipped_by:
            self._kept_waiting[task.id] = task

    def remove(self, task: Task) -> None:
        self.queues.remove(task.id)
        if task.skipped_by:
            self._kept_waiting.pop(task.id, None)

    def _lane_now(self, task: Task, now: float) -> tuple[int, int]:
        """The queued task's lane at `now`, with a sample for it if it is the lane's first task; a task with an
        escalation step still ahead is scheduled to change lanes when its wait passes it. Whether it has passed is
        decided on the wait, as the capability model decides it."""
        waits = self._model.escalation_waits(task.queue)
        step = bisect_right(waits, now - task.enqueued_at) if waits else 0
        if step < len(waits):
            when = task.enqueued_at + waits[step]
            group = self._escalating_at.get(when)
            if group is None:
                group = self._escalating_at[when] = []
                heappush(self._escalating, (when, group))
            group.append((step + 1, task))
        label = _lane(task, step)
        lane = self._lane_numbers.get(label)
        if lane is None:
            lane = self._lane_numbers[label] = len(self._lane_numbers)
        self._lane_sample.setdefault((task.queue, lane), (task, step))
        return lane, step

    def escalate(self, now: float) -> None:
        """Move each queued task whose wait has passed its next escalation step into that step's lane. A task whose
        arrival plus wait rounds the other way than the wait itself is scheduled again, for the next call."""
        due = self._escalating
        if not due or due[0][0] > now + _ROUNDING_S:
            return  # the usual case, on every task indexed: nothing due, and no list made to say so
        passed: list[tuple[int, Task]] = []
        while due and due[0][0] <= now + _ROUNDING_S:
            when, group = heappop(due)
            del self._escalating_at[when]
            passed += group
        for step, task in passed:
            if self._open.get(task.id) is task and task.state is _QUEUED:
                lane, now_step = self._lane_now(task, now)
                if now_step >= step:
                    self.queues.move(task.id, lane)

    def window(self, name: str, wanted: int, takers: Takers | None) -> list[Task]:
        """The first `wanted` tasks of a queue (that one of `takers` could take), read in order and left in place.

        With `takers`, the lanes nobody free may take are skipped whole, and in the others only a task someone
        skipped is checked on its own; when such checks turn tasks away, the read goes on behind them. Tasks whose
        wait has passed an escalation step since they were queued are moved to that step's lane first, so all
        tasks of a lane require the same now."""
        tasks = self._open
        if takers is None:
            return list(map(tasks.__getitem__, self.queues.first(name, wanted)))
        take, queues = takers.take, self.queues
        if wanted <= 0 or not queues.depth(name):
            return []  # most queues of a quiet hour's batch: no lanes to work out
        self.escalate(takers.now)
        open_lanes = self._open_lanes(name, takers)
        asked = wanted
        while True:
            read = list(map(tasks.__getitem__, queues.first(name, asked, open_lanes)))
            window = [task for task in read if not task.skipped_by or take(task)]
            if len(window) >= wanted or len(read) < asked:
                return window[:wanted]
            asked += wanted - len(window)

    def _open_lanes(self, name: str, takers: Takers) -> set[Hashable]:
        """The queue's lanes one of `takers` may take from. Whether a lane of work that is not severe is open
        depends only on the takers' skill groups, which recur from batch to batch, so those answers are kept per
        set of groups and a batch works out only lanes new to it and the severe ones (whose openness moves with
        wellbeing budgets): an evening queue has hundreds of lanes."""
        present = self.queues.lanes(name)
        needs = self._lane_needs_of(name)
        known = self._lanes_known.get((name, takers.groups))
        if known is None:
            if len(self._lanes_known) >= _LANE_SETS_KEPT:
                self._lanes_known.clear()
            known = self._lanes_known[(name, takers.groups)] = (set(), set())
        opened, shut = known
        open_lanes = present & opened
        for lane in present - opened - shut:
            need = needs.get(lane)
            if need is None:
                task, step = self._lane_sample[(name, lane)]
                need = needs[lane] = (self._model.required_steps(task)[step], task.severe)
            is_open = takers.opens(*need)
            if is_open:
                open_lanes.add(lane)
            if not need[1]:
                (opened if is_open else shut).add(lane)
        return open_lanes

    def unstaffed(self, now: float) -> dict[str, int]:
        """Per queue, the waiting tasks that nobody on the roster may take, whoever is on shift and once every
        escalation step has passed: work that waits for a roster change (a language, a certification, a clearance
        nobody holds, severe work where everyone qualified has a budget of none, or an appeal whose every qualified
        moderator decided the content before), not for time. A spent budget or a cool-down passes, so it is no bar
        here. Whole lanes are counted from their depth; only tasks kept from someone are looked at one by one."""
        model = self._model
        roster = {severe: model.roster_takers(now, severe) for severe in (False, True)}
        unstaffed: dict[str, int] = {}
        for queue in self._config.queues:
            name = queue.name
            count = 0
            for lane, depth in self.queues.lane_depths(name).items():
                task, _ = self._lane_sample[(name, lane)]
                if not roster[task.severe].opens(model.required_steps(task)[-1], False):
                    count += depth
            unstaffed[name] = count
        for task in self._kept_waiting.values():
            takers, final = roster[task.severe], model.required_steps(task)[-1]
            if takers.opens(final, False) and not takers.takes(final, task.skipped_by, False):
                unstaffed[task.queue] += 1
        return unstaffed

    def _lane_needs_of(self, name: str) -> dict[Hashable, tuple[int, bool]]:
        vocabulary = self._model.vocabulary
        if vocabulary != self._lane_needs_vocabulary:
            self._lane_needs, self._lane_needs_vocabulary, self._lanes_known = {}, vocabulary, {}
        needs = self._lane_needs.get(name)
        if needs is None:
            needs = self._lane_needs[name] = {}
        return needs


_LaneLabel = tuple[str, str, str, str | None, tuple[str, ...], tuple[str, ...], bool, int]


def _lane(task: Task, step: int) -> _LaneLabel:
    """A task's lane in its queue: what it requires of a reviewer follows from these fields, its queue and the
    escalation steps its wait has passed, so all tasks of a lane may be taken by the same moderators, skips aside."""
    return task.modality, task.language, task.region, task.policy, task.clearance, task.areas, task.severe, step
