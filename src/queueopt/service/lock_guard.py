"""The serving process stops at once when it finds it no longer holds its store: its engine lock is gone, or its
own connection to the store is.

The lock can go while its holder lives (`HeldLock.lost`). A standby may then take the store over, and two engines on
one store would split the work: the old one would go on accepting submissions that the new one's queues never see
(writes are fenced, see `Store.claim_serving`, but a lease already held is still answered from memory). A broken
store connection cannot be mended in place either: the outcome of the write it broke in is unknown, so the engine's
memory may no longer match the store, and only a start from the store (a standby's take-over, or a restart) is sure
to. So the process ends on the spot, as if killed: everything it acknowledged is in the store, and the clients of
its in-flight requests retry elsewhere. The exit status (3) tells a supervisor why.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from queueopt.store.engine_lock import HeldLock

CHECK_S = 0.5
EXIT_STORE_LOST = 3


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
            stop_at_once(reason)


def stop_at_once(reason: str) -> NoReturn:
    print(f"queueopt: {reason}; stopping at once so that one engine serves the store", file=sys.stderr)
    sys.stderr.flush()
    os._exit(EXIT_STORE_LOST)
