"""The background assigner: one assignment batch per tick, and one at once when work arrives while a moderator waits.

Batches run in a worker thread because the engine is synchronous. A batch, once started, always runs to the end
(anyio does not abandon the thread on cancellation), so stopping the assigner never leaves half a batch behind
before the store is closed.

A moderator asking for work does not start a batch: `/next` already leases them the best task they are eligible
for (`Engine.next_for` looks at the same candidates a batch would), so when it finds nothing, a batch would find
nothing for them either. Long-polling moderators wait in `wait_for_work()` until something may have changed for
them: a batch that leased something, or new work (which starts a batch, so the best matching over everyone who
waits gets the first pick). Waking a batch on every empty-handed ask instead ran batches back to back for as long
as anyone long-polled an empty queue: one moderator waiting 5 s cost the server 2.5 s of CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from anyio import to_thread

from queueopt.engine import Engine
from queueopt.errors import Deposed
from queueopt.service.metrics import ServiceMetrics

log = logging.getLogger("queueopt.service.assigner")


class Assigner:
    def __init__(self, engine: Engine, tick_s: float, metrics: ServiceMetrics) -> None:
        self._engine = engine
        self._tick_s = tick_s
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting = 0
        self._work_pending = False
        self.draining = False

    def start(self) -> None:
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.create_task(self._run(), name="queueopt-assigner")

    def drain_threadsafe(self) -> None:
        """The server is stopping: release every long-poll now (they answer 204) so in-flight requests finish
        within the grace period instead of being cut off. Callable from a signal handler or another thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self.draining = True
        done, self._done = self._done, asyncio.Event()
        done.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def wake(self) -> None:
        """Run a batch now rather than at the next tick: a moderator just became available."""
        self._wake.set()

    def work_arrived(self) -> None:
        """Tasks were queued (submitted, released, skipped): worth a batch now if some moderator is waiting, and
        remembered until the next batch for one who starts waiting before it."""
        self._work_pending = True
        if self._waiting:
            self._wake.set()

    async def wait_for_work(self, timeout: float) -> None:
        """Return after the next batch that leases anything, or after `timeout` seconds, whichever is first.

        Work that arrived after the caller last looked, and that no batch has seen yet, starts a batch now: the
        caller's empty look may have raced with the submission."""
        done = self._done
        self._waiting += 1
        if self._work_pending:
            self._wake.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout)
        finally:
            self._waiting -= 1

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._tick_s)
            self._wake.clear()
            await self.run_once()

    async def run_once(self) -> int:
        made = 0
        self._work_pending = False
        try:
            made = await to_thread.run_sync(self._batch)
        except Deposed as error:
            log.warning("assignment batch refused: %s", error.message)  # the process stops within moments
        except Exception:
            log.exception("assignment batch failed; retrying at the next tick")
        finally:
            if made:
                done, self._done = self._done, asyncio.Event()
                done.set()
        return made

    def _batch(self) -> int:
        """Runs in the worker thread; only the assigner batches, so draining the solver timings here loses none."""
        batches = self._engine.stats.batches
        made = len(self._engine.assign_batch())
        for seconds in self._engine.stats.drain_solver_seconds():
            self._metrics.solver_seconds.observe(seconds)
        if self._engine.stats.batches > batches:  # a batch that had work, as `queueopt_assign_batches_total` counts
            self._metrics.batch_size.observe(made)
        return made
