"""The serving process stops at once when it finds it no longer holds its store's engine lock.

The lock can go while its holder lives (`HeldLock.lost`). A standby may then take the store over, and two engines on
one store would split the work: the old one would go on accepting submissions that the new one's queues never see.
So the old one ends on the spot, as if killed: everything it acknowledged is in the store, and the clients of its
in-flight requests retry elsewhere. The exit status (3) tells a supervisor why.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from queueopt.store.engine_lock import HeldLock

CHECK_S = 2.0
EXIT_LOCK_LOST = 3


@contextmanager
def guarding(held: HeldLock) -> Iterator[None]:
    """Check the lock every `CHECK_S` until the block ends."""
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(held, done), name="queueopt-lock-guard", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def _watch(held: HeldLock, done: threading.Event) -> None:
    while not done.wait(CHECK_S):
        reason = held.lost()
        if reason is not None:
            print(f"queueopt: {reason}; stopping at once so that one engine serves the store", file=sys.stderr)
            sys.stderr.flush()
            os._exit(EXIT_LOCK_LOST)
