"""Time as the engine sees it: seconds as a float, from a clock it is handed.

The service hands the engine the wall clock; the simulator and the tests hand it a virtual one, so the same
code runs in both and tests never sleep.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    """Wall-clock seconds since the epoch."""

    def now(self) -> float:
        return time.time()


class VirtualClock:
    """A clock that only moves when told to; it never goes backwards."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot move a clock backwards by {seconds} s")
        self._now += seconds

    def set(self, when: float) -> None:
        if when < self._now:
            raise ValueError(f"cannot move a clock from {self._now} back to {when}")
        self._now = when
