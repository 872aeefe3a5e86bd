"""Who holds what, and when each lease runs out: the engine's index of live leases."""

from __future__ import annotations

import heapq


class LeaseBook:
    __slots__ = ("_by_moderator", "_expiries")

    def __init__(self) -> None:
        self._by_moderator: dict[str, dict[str, None]] = {}
        self._expiries: list[tuple[float, str, int]] = []

    def add(self, moderator_id: str, task_id: str, attempt: int, expires_at: float) -> None:
        self._by_moderator.setdefault(moderator_id, {})[task_id] = None
        heapq.heappush(self._expiries, (expires_at, task_id, attempt))

    def reschedule(self, task_id: str, attempt: int, expires_at: float) -> None:
        """A lease extended: the old expiry stays in the heap and is recognised as outdated when it surfaces."""
        heapq.heappush(self._expiries, (expires_at, task_id, attempt))

    def drop(self, moderator_id: str, task_id: str) -> None:
        held = self._by_moderator.get(moderator_id)
        if held is not None:
            held.pop(task_id, None)
            if not held:
                del self._by_moderator[moderator_id]

    def held_by(self, moderator_id: str) -> list[str]:
        """Task ids in the order they were leased."""
        return list(self._by_moderator.get(moderator_id, ()))

    def count(self, moderator_id: str) -> int:
        return len(self._by_moderator.get(moderator_id, ()))

    def holders(self) -> dict[str, list[str]]:
        return {moderator: list(tasks) for moderator, tasks in self._by_moderator.items()}

    def due(self, now: float) -> list[tuple[str, int]]:
        """(task id, attempt) of every expiry at or before `now`; the caller checks each is still current."""
        due = []
        while self._expiries and self._expiries[0][0] <= now:
            _, task_id, attempt = heapq.heappop(self._expiries)
            due.append((task_id, attempt))
        return due
