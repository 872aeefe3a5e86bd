"""Waiting in a test for what another thread or process does."""

from __future__ import annotations

import time
from collections.abc import Callable

WITHIN_S = 30.0
"""How long a wait may take: far longer than any of them does on an idle machine, so that a loaded 2-core one (a
test suite on both cores, a load of 6 to 8) slows a test down instead of failing it."""


def wait_until(condition: Callable[[], object], why: str | Callable[[], str], within_s: float = WITHIN_S) -> None:
    """Poll `condition` every 50 ms until it holds, and fail with `why` (or what it returns) once `within_s` have
    passed. Bounded by the clock, never by a count of tries: a count gave a process ten seconds on an idle machine
    and ran out on a loaded one before the other side had had its turn."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, why if isinstance(why, str) else why()
        time.sleep(0.05)
