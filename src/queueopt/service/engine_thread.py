"""One thread for the requests' engine calls, in arrival order.

The engine is synchronous and serialises every call under one lock, so it must run off the event loop, and no two
calls run at once anyway. A pool of threads (Starlette's `run_in_threadpool`, 40 of them) therefore adds only
contention: each request wakes a different worker, the workers queue on the engine's lock, and every hand-over of the
lock is one more thread wake-up that waits for a CPU and the GIL. On a busy 2-core machine those wake-ups, not the
engine, were most of a moderator request's time. One dedicated thread takes the calls first come, first served,
and runs them back to back without a wake-up while requests keep arriving.

The assigner's batches stay on their own thread: they share the engine's lock with these calls but not this queue,
so a request never waits behind a batch in the queue, only for the lock.

A call that has started always finishes, even if the request awaiting it is cancelled; `close` runs after every call
queued before it, so closing the engine through this thread never cuts one short.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class EngineThread:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queueopt-engine")

    async def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`call(*args, **kwargs)` on the engine thread, after every call submitted before it."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(call, *args, **kwargs)
        )

    def close(self) -> None:
        """Finish the queued calls and stop the thread."""
        self._executor.shutdown(wait=True)
