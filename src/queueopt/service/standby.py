"""A standby replica: serves HTTP from the moment it starts, by passing requests to the engine serving the store
(`forward`), while a thread of its own waits for the store's engine lock; when the serving process ends, however it
ends, this one takes the lock, starts its engine from the store and serves requests itself.

On PostgreSQL a serving engine that hangs keeps its lock; the waiting standby ends its session once its heartbeat
is `heartbeat_timeout_s` old (`hung_holder`). A take-over that fails (the store unreachable at that moment, say)
lets the lock go and waits again after a second, rather than holding the store with no engine behind it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType

from anyio import to_thread
from fastapi import FastAPI

from queueopt.service.forward import Forwarder
from queueopt.service.lock_guard import CHECK_S, guarding
from queueopt.service.settings import Settings
from queueopt.store.engine_lock import GaveUpWaiting, engine_lock

log = logging.getLogger("queueopt.service.standby")
RETRY_S = 1.0
# An engine that lost its lock notices within `CHECK_S` and stops; taking over only after twice that long means it
# is gone (a live one could still answer a lease it holds from memory, which no fence sees), or cut off from the
# store so that it cannot write either.
TAKEOVER_DELAY_S = 2 * CHECK_S


class Standby:
    def __init__(self, app: FastAPI, settings: Settings, take_over: Callable[[], Awaitable[None]]) -> None:
        self._app = app
        self._settings = settings
        self._database_url = settings.database_url
        self._take_over = take_over
        self._stop = threading.Event()
        self._forwarder: Forwarder | None = None
        self._waiter: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> Standby:
        self._forwarder = Forwarder(self._database_url, self._settings.forward_timeout_s)
        self._app.state.forwarder = self._forwarder
        self._loop = asyncio.get_running_loop()
        self._waiter = threading.Thread(target=self._wait_for_the_store, name="queueopt-standby", daemon=True)
        self._waiter.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Called after the engine (if this process took over) has stopped: only then is the lock let go."""
        self._stop.set()
        if self._waiter is not None:
            await to_thread.run_sync(self._waiter.join)
        if self._forwarder is not None:
            await self._forwarder.close()

    def _wait_for_the_store(self) -> None:
        assert self._loop is not None
        while not self._stop.is_set():
            try:
                with engine_lock(
                    self._database_url,
                    wait=True,
                    stop=self._stop,
                    unseat_after_s=self._settings.heartbeat_timeout_s,
                ) as held:
                    if self._stop.wait(TAKEOVER_DELAY_S):
                        return
                    asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result()
                    with guarding(held):
                        self._stop.wait()
                    return
            except GaveUpWaiting:
                return
            except Exception:
                log.exception("standby: taking over the store failed; waiting for it again")
                self._stop.wait(RETRY_S)

    async def _serve(self) -> None:
        log.warning("standby: the engine serving this store has stopped; this process serves it now")
        await self._take_over()
        self._app.state.forwarder = None
        if self._forwarder is not None:
            await self._forwarder.address.close()  # read again only by a request that was already on its way
