"""Each queue's share of the last hour's decisions made within its SLA: what `GET /v1/queues` and the
`queueopt_queue_within_sla_ratio` metric show, and what a restart reads back from the audit."""

from __future__ import annotations

from collections import deque

from queueopt.config import QueueConfig
from queueopt.domain import Task

SLA_WINDOW_S = 3600.0


class SlaWindow:
    """A queue's decisions of the last `SLA_WINDOW_S` seconds, each with whether it was within the SLA, and the
    count of those that were: the share is read on every `queues()` call (the simulator's backlog samples, the
    service's metrics), and an hour of a busy queue's decisions is too many to sum each time. Each decision also
    drops those that left the window, so the window stays an hour long when nobody reads it (a service nobody
    scrapes grew by one entry per decision, found by a soak)."""

    __slots__ = ("decisions", "within")

    def __init__(self) -> None:
        self.decisions: deque[tuple[float, bool]] = deque()
        self.within = 0

    def add(self, now: float, within: bool) -> None:
        self._forget_before(now - SLA_WINDOW_S)
        self.decisions.append((now, within))
        self.within += within

    def share(self, now: float) -> float | None:
        """The share of the window's decisions that were within the SLA; None when there were none."""
        self._forget_before(now - SLA_WINDOW_S)
        return self.within / len(self.decisions) if self.decisions else None

    def _forget_before(self, since: float) -> None:
        decisions = self.decisions
        while decisions and decisions[0][0] < since:
            self.within -= decisions.popleft()[1]


def within_sla(task: Task, queue: QueueConfig, decided_at: float) -> bool:
    return decided_at - task.enqueued_at <= queue.sla_s
