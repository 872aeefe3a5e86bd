"""Who holds what, when each lease runs out, and who has a free slot: the engine's index of live leases.

The free-slot index exists so a batch does not scan every profile: a moderator is in it while they are available and
hold fewer leases than their capacity, and it changes only when a lease starts or ends (`add`, `drop`) or a profile
changes (`set_slots`) or a moderator is marked idle or present (`mark_idle`, `mark_present`), all of which already
pass through here. It keeps each free moderator's count and their
positions in roster order, so a batch (every tick, hundreds of free moderators on a quiet floor) reads it off
instead of sorting and recounting: the few moderators a tick changes pay one bisection each.

A moderator idle after an expiry (one of their leases ran out: they walked away or closed the tool without handing
it back) has no free slot in the index until they are marked present again, so batches push them nothing; a pull,
which they make themselves, does not read the index.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, insort


class LeaseBook:
    """`next_expiry` is the earliest expiry in the heap (infinity when empty): every pull and decision asks what is
    due, almost always nothing, and comparing one float answers that without a call."""

    __slots__ = (
        "_by_moderator",
        "_expiries",
        "_free",
        "_free_order",
        "_idle",
        "_moderators",
        "_order",
        "_slots",
        "next_expiry",
    )

    def __init__(self) -> None:
        self._by_moderator: dict[str, dict[str, None]] = {}
        self._expiries: list[tuple[float, str, int]] = []
        self._slots: dict[str, int] = {}
        self._order: dict[str, int] = {}  # moderator -> when they were first given slots
        self._moderators: list[str] = []  # the inverse of `_order`
        self._free: dict[str, int] = {}  # moderator -> free slots, for everyone with at least one
        self._free_order: list[int] = []  # `_order` of everyone in `_free`, ascending
        self._idle: set[str] = set()  # moderators idle after an expiry, until they show they are present
        self.next_expiry = math.inf

    def add(self, moderator_id: str, task_id: str, attempt: int, expires_at: float) -> None:
        self._by_moderator.setdefault(moderator_id, {})[task_id] = None
        self.reschedule(task_id, attempt, expires_at)
        self._refresh(moderator_id)

    def reschedule(self, task_id: str, attempt: int, expires_at: float) -> None:
        """When a lease runs out; for a lease extended, the old expiry stays in the heap and is recognised as
        outdated when it surfaces."""
        heapq.heappush(self._expiries, (expires_at, task_id, attempt))
        self.next_expiry = self._expiries[0][0]

    def drop(self, moderator_id: str, task_id: str) -> None:
        held = self._by_moderator.get(moderator_id)
        if held is not None:
            held.pop(task_id, None)
            if not held:
                del self._by_moderator[moderator_id]
        self._refresh(moderator_id)

    def set_slots(self, moderator_id: str, slots: int) -> None:
        """How many leases the moderator may hold now: their capacity while available, else 0."""
        if moderator_id not in self._order:
            self._order[moderator_id] = len(self._moderators)
            self._moderators.append(moderator_id)
        self._slots[moderator_id] = slots
        self._refresh(moderator_id)

    def forget_newest(self, moderator_id: str) -> None:
        """Undo the first `set_slots` of the moderator given slots last (a new profile whose write was refused), so
        the order of everyone else, which breaks ties between free moderators, is as if it never happened."""
        self.set_slots(moderator_id, 0)
        if self._moderators[-1] == moderator_id and moderator_id not in self._by_moderator:
            self._moderators.pop()
            del self._order[moderator_id]
            del self._slots[moderator_id]

    def mark_idle(self, moderator_id: str) -> None:
        """A lease of the moderator's expired: no pushed work for them until `mark_present`."""
        self._idle.add(moderator_id)
        self._refresh(moderator_id)

    def mark_present(self, moderator_id: str) -> None:
        self._idle.discard(moderator_id)
        self._refresh(moderator_id)

    def idle(self, moderator_id: str) -> bool:
        return moderator_id in self._idle

    def idle_count(self) -> int:
        return len(self._idle)

    def _refresh(self, moderator_id: str) -> None:
        """Bring the moderator's entry in the free-slot index up to date; only a moderator with slots can be free,
        so only one with an `_order` ever enters it."""
        free = 0 if moderator_id in self._idle else self._slots.get(moderator_id, 0) - self.count(moderator_id)
        if free > 0:
            if moderator_id not in self._free:
                insort(self._free_order, self._order[moderator_id])
            self._free[moderator_id] = free
        elif self._free.pop(moderator_id, None) is not None:
            del self._free_order[bisect_left(self._free_order, self._order[moderator_id])]

    def free_slots(self) -> tuple[list[str], list[int]]:
        """Everyone with a free slot, in the order they were first given slots, and how many free slots each has."""
        # Mapped in C: hundreds of free moderators on a quiet floor, every tick.
        free_moderators = list(map(self._moderators.__getitem__, self._free_order))
        return free_moderators, list(map(self._free.__getitem__, free_moderators))

    def free(self, moderator_id: str) -> int:
        """The moderator's free slots now: 0 while unavailable, full or idle after an expiry. Read off the index,
        which every change to slots, leases or idleness brings up to date."""
        return self._free.get(moderator_id, 0)

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
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            _, task_id, attempt = heapq.heappop(expiries)
            due.append((task_id, attempt))
        self.next_expiry = expiries[0][0] if expiries else math.inf
        return due
