"""The severe-content budget: how many severe items each moderator saw in the last hour, and when the last one was.

Kept as sorted timestamps per moderator: a window count is one bisection and old entries are dropped as new ones
arrive, so memory stays at about one hour's worth per person. The ledger is asked in time order (the engine's clock),
so an entry is dropped once it is an hour older than both the newest entry and the latest time asked about: an
exposure dated after now (another replica's clock runs ahead) must not push one still in the hour out of the count.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort

WINDOW_S = 3600.0


class SevereLedger:
    def __init__(self) -> None:
        self._times: dict[str, list[float]] = {}
        self._last: dict[str, float] = {}
        self._holding: dict[str, int] = {}  # severe items each moderator has in front of them now
        self._asked = -math.inf  # the latest `now` the ledger was asked about

    def record(self, moderator_id: str, at: float) -> None:
        times = self._times.setdefault(moderator_id, [])
        insort(times, at)
        del times[: bisect_right(times, min(times[-1], self._asked) - WINDOW_S)]
        self._last[moderator_id] = max(at, self._last.get(moderator_id, at))

    def holds(self, moderator_id: str) -> None:
        """A severe item is in front of the moderator from now until `exposed_until`: no cool-down has begun."""
        self._holding[moderator_id] = self._holding.get(moderator_id, 0) + 1

    def exposed_until(self, moderator_id: str, at: float) -> None:
        """The moderator had a severe item in front of them until `at` (its review ended): the cool-down, a rest
        after graphic content, runs from then, not from when the item was handed to them."""
        held = self._holding.get(moderator_id, 0)
        if held > 1:
            self._holding[moderator_id] = held - 1
        else:
            self._holding.pop(moderator_id, None)
        last = self._last.get(moderator_id)
        if last is None or at > last:  # none: the item was handed over more than the window ago
            self._last[moderator_id] = at

    def seen(self, moderator_id: str, now: float) -> int:
        """Severe items recorded in the window (now - 1 h, now]; later-dated records count as well."""
        self._asked = max(self._asked, now)
        times = self._times.get(moderator_id)
        if not times:
            return 0
        return len(times) - bisect_right(times, now - WINDOW_S)

    def cooling(self, moderator_id: str, now: float, cooldown_s: float) -> bool:
        """Still in a severe review, whatever the cool-down (found by two probes: a moderator with two slots got a
        second severe item while a 20-minute one was still in front of them, and with no cool-down set, two at
        once), or within `cooldown_s` of the end of the last one."""
        if moderator_id in self._holding:
            return True
        if cooldown_s <= 0.0:
            return False
        last = self._last.get(moderator_id)
        return last is not None and now - last < cooldown_s

    def state_of(self, moderator_id: str) -> tuple[list[float], float | None, int]:
        """What `restore` needs: the window's items, the end of the last exposure, the items in review now (found
        by a probe: a snapshot without them let a moderator mid-way through a severe item take another)."""
        times = list(self._times.get(moderator_id, []))
        return times, self._last.get(moderator_id), self._holding.get(moderator_id, 0)

    def restore(self, moderator_id: str, times: list[float], last: float | None, in_review: int) -> None:
        self._times[moderator_id] = sorted(times)
        if last is None:
            self._last.pop(moderator_id, None)
        else:
            self._last[moderator_id] = last
        if in_review:
            self._holding[moderator_id] = in_review
        else:
            self._holding.pop(moderator_id, None)
