"""The FastAPI app factory: wires settings, tokens, the engine, the assigner and metrics into one app.

Tokens, the ops config and the roster are read when the app is created, so a bad file stops `queueopt serve` before
it binds a port. The store is opened in the lifespan and closed there after the assigner has stopped, so a SIGTERM
(uvicorn stops accepting, finishes in-flight requests, then runs the lifespan's exit) leaves the store consistent.
A standby (`settings.standby`) starts with no engine: it passes requests to the serving one until it takes over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from queueopt import __version__
from queueopt.clock import Clock, SystemClock
from queueopt.config import load_config
from queueopt.errors import InvalidInput
from queueopt.service import openapi, problems, replica_files
from queueopt.service.auth import Authenticator
from queueopt.service.engine_thread import EngineThread
from queueopt.service.forward import PassToServing
from queueopt.service.limits import BodyLimit
from queueopt.service.metrics import HttpLatency, ServiceMetrics
from queueopt.service.roster import load_roster
from queueopt.service.routes import audit, health, items, moderators, queues, tasks
from queueopt.service.serving import Serving
from queueopt.service.settings import Settings
from queueopt.service.standby import Standby


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    if settings.tokens_file is None:
        raise InvalidInput("set QUEUEOPT_TOKENS_FILE to a tokens file", field="tokens_file")
    auth = Authenticator.from_file(settings.tokens_file)
    config = load_config(settings.config)
    roster = load_roster(settings.roster_file, config) if settings.roster_file is not None else []
    files = replica_files.digests(settings)
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = EngineThread()
        serving = Serving(app, settings, clock or SystemClock(), config, (roster, files, metrics), thread)
        app.state.serving = serving
        try:
            async with AsyncExitStack() as stack:
                if settings.standby:
                    await stack.enter_async_context(Standby(app, settings, serving.start))
                else:
                    await serving.start()
                stack.push_async_callback(serving.stop)  # before a standby lets the store's lock go
                yield
        finally:
            thread.close()

    app = FastAPI(
        title="queueopt",
        version=__version__,
        summary="Content-moderation queues: submit items, pull review tasks, record decisions.",
        lifespan=lifespan,
    )
    app.state.auth = auth
    app.state.metrics = metrics
    app.add_middleware(PassToServing)  # first, so the error format's last resort (next) wraps it too
    problems.install(app)
    openapi.tighten(app)
    for module in (items, queues, moderators, tasks, audit, health):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HttpLatency, metrics=metrics)
    return app
