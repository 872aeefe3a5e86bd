"""`queueopt serve` and `queueopt demo-serve`: run the HTTP service under uvicorn.

FastAPI, uvicorn and the engine are imported inside the commands, so every other `queueopt` command starts fast.

uvicorn is told to use httptools and uvloop (both dependencies) rather than left to pick: its fallbacks, the
pure-Python h11 parser and asyncio's loop, cost more CPU per request (a trivial endpoint served 40% fewer requests
per second with them), and a missing package should fail loudly at start rather than quietly cut capacity.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from queueopt.command_errors import exit_with
from queueopt.config import ConfigError, format_validation_error, load_config
from queueopt.service import replica_files
from queueopt.service.settings import Settings, setting_variables, unknown_variables

if TYPE_CHECKING:
    from fastapi import FastAPI

GRACE_S = 5
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (env QUEUEOPT_HOST, default 127.0.0.1).")] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Port (env QUEUEOPT_PORT, default 8000; 0: any free one).")
    ] = None,
    database_url: Annotated[str | None, typer.Option(help="Store URL (env QUEUEOPT_DATABASE_URL).")] = None,
    config: Annotated[Path | None, typer.Option(help="Ops config TOML (env QUEUEOPT_CONFIG).")] = None,
    tokens_file: Annotated[Path | None, typer.Option(help="Tokens TOML (env QUEUEOPT_TOKENS_FILE).")] = None,
    roster_file: Annotated[
        Path | None, typer.Option(help="Profiles JSON, added when not yet stored (env QUEUEOPT_ROSTER_FILE).")
    ] = None,
    standby: Annotated[
        bool | None,
        typer.Option(
            "--standby/--no-standby",
            help="Pass requests to the engine serving the same store until it stops, then take over "
            "(env QUEUEOPT_STANDBY).",
        ),
    ] = None,
    advertise_url: Annotated[
        str | None,
        typer.Option(
            help="Where standbys reach this process, e.g. http://10.0.0.5:8000 (env QUEUEOPT_ADVERTISE_URL, "
            "default http://<host>:<port>)."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help=f"uvicorn log level: {', '.join(LOG_LEVELS)}.")] = "info",
) -> None:
    """Run the HTTP API; options override QUEUEOPT_* environment variables. SIGTERM shuts down gracefully.

    One engine serves a store: a second `serve` on the same database is refused, or with --standby serves by passing
    every request to the first until it stops (a crash included), then takes over."""
    if log_level not in LOG_LEVELS:
        raise typer.BadParameter(
            f"expected one of {', '.join(LOG_LEVELS)}, got {log_level!r}", param_hint="'--log-level'"
        )
    options = {
        "host": host,
        "port": port,
        "database_url": database_url,
        "config": config,
        "tokens_file": tokens_file,
        "roster_file": roster_file,
        "standby": standby,
        "advertise_url": advertise_url,
    }
    _run(_settings({name: value for name, value in options.items() if value is not None}), log_level)


def demo_serve(
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1.")] = 8000,
    var: Annotated[Path, typer.Option(help="Where demo tokens, roster and database go.")] = Path("var"),
    config: Annotated[Path, typer.Option(help="Ops config TOML.")] = Path("examples/ops.toml"),
) -> None:
    """Start a demo: fresh database, demo roster and tokens in var/, printed with a curl round trip."""
    try:
        ops = load_config(config)
    except ConfigError as error:
        exit_with(error.source, error.problems)
    from queueopt.service.demo import instructions, write_demo
    from queueopt.store.engine_lock import engine_lock

    database = var / "demo.db"
    with engine_lock(f"sqlite:///{database}"):
        pass  # a demo already serving var/ is refused before its tokens are written anew
    listening = _listen("127.0.0.1", port)  # and so is a port in use
    setup = write_demo(var, ops)

    def start_afresh() -> None:
        for stale in (database, database.with_name("demo.db-wal"), database.with_name("demo.db-shm")):
            stale.unlink(missing_ok=True)

    settings = _settings(
        {
            "host": "127.0.0.1",
            "port": port,
            "database_url": f"sqlite:///{database}",
            "config": config,
            "tokens_file": setup.tokens_file,
            "roster_file": setup.roster_file,
        }
    )
    print(instructions(setup, f"http://127.0.0.1:{port}"), flush=True)
    _run(settings, "info", prepare=start_afresh, listening=listening)


def _settings(values: dict[str, Any]) -> Settings:
    unknown = unknown_variables(os.environ)
    if unknown:
        known = ", ".join(setting_variables())
        exit_with("settings", [f"{', '.join(unknown)}: not a setting (the settings are {known})"])
    try:
        return Settings(**values)
    except ValidationError as error:
        exit_with("settings", format_validation_error(error))


def _run(
    settings: Settings,
    log_level: str,
    prepare: Callable[[], None] | None = None,
    listening: list[socket.socket] | None = None,
) -> None:
    """Serve while holding the store's engine lock; `prepare` runs once the lock is held (a demo's fresh start must
    not delete a database another process is serving)."""
    from queueopt.service.app import create_app
    from queueopt.service.lock_guard import guarding
    from queueopt.store.engine_lock import engine_lock

    try:
        app = create_app(settings)
    except ConfigError as error:
        exit_with(error.source, error.problems)
    listening = listening or _listen(settings.host, settings.port)
    if settings.standby:  # the app waits for the lock itself, serving meanwhile
        _check_store(settings, holding=False)
        _serve(app, settings, log_level, listening)
        return
    with engine_lock(settings.database_url) as held:
        if prepare is not None:
            prepare()
        _check_store(settings, holding=True)
        with guarding(held):
            _serve(app, settings, log_level, listening)


_standby_log = logging.getLogger("queueopt.service.standby")


def _check_store(settings: Settings, *, holding: bool) -> None:
    """Read the store once before serving: one that cannot be reached, or whose open tasks need a queue, policy area
    or clearance tier the config does not have (which the engine refuses to start with, see `stranded_work`), ends
    the command in one line, before the app's start-up would fail with a traceback.

    `holding` the store's lock, this process beats between pages of the read, as the engine's own rebuild does
    (`Engine._recover`): a standby judges the new holder by the beat on record, its predecessor's, and a large
    backlog read without beats would have the starting process judged hung. A standby, not holding it, never beats:
    that would vouch for the engine it waits on; nor does it migrate the store (see `SqlStore`), so on a store of an
    older schema it leaves the check to its engine's rebuild when it takes over."""
    from queueopt.engine import stranded_work
    from queueopt.store import SCHEMA_VERSION, open_store

    store = open_store(settings.database_url, migrate=holding)
    try:
        found = store.schema_version()
        if found < SCHEMA_VERSION:
            _standby_log.warning(
                "the store's schema is version %d, this release's %d: it is migrated when this standby takes over",
                found,
                SCHEMA_VERSION,
            )
            return
        changed = [] if holding else replica_files.differing(store, replica_files.digests(settings))
        if changed:
            _standby_log.warning(
                "standby: its %s differ(s) from the serving engine's: once it takes over it serves with its own, "
                "so tokens that work now may be refused then",
                replica_files.said(changed),
            )
        tasks = store.open_tasks(each_page=store.beat_serving if holding else None)
        stranded = stranded_work(load_config(settings.config), tasks)
    finally:
        store.close()
    if stranded is not None:
        exit_with(str(settings.config), [f"{stranded[0]}: {stranded[1]}"])


def _listen(host: str, port: int) -> list[socket.socket]:
    """The service's sockets, bound before anything starts: a port in use, or a host that does not resolve, is one
    line and exit status 1, not a start-up that uvicorn then tears down (nor a demo's files written anew). One per
    address the host resolves to (`localhost` may be both ::1 and 127.0.0.1), as uvicorn would bind them."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as error:
        exit_with("queueopt", [f"host: cannot listen on {host}:{port}: {error.strerror or error}"])
    sockets: list[socket.socket] = []
    try:
        for family, kind, protocol, _, address in dict.fromkeys(addresses):
            listening = socket.socket(family, kind, protocol)
            sockets.append(listening)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # else `::` would also take the IPv4 port that 0.0.0.0 asks for
                listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            listening.bind((address[0], port, *address[2:]))
            port = port or listening.getsockname()[1]  # port 0: every address on the one port the first got
    except OSError as error:
        for listening in sockets:
            listening.close()
        exit_with("queueopt", [f"port: cannot listen on {host}:{port}: {error.strerror or error}"])
    return sockets


def _serve(app: FastAPI, settings: Settings, log_level: str, listening: list[socket.socket]) -> None:
    import uvicorn

    from queueopt.service.collector import CollectorPolicy
    from queueopt.service.deps import Runtime
    from queueopt.service.forward import Forwarder
    from queueopt.service.serving import Serving

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        http="httptools",
        loop="uvloop",
        timeout_graceful_shutdown=GRACE_S,
        proxy_headers=False,
        server_header=False,
    )

    class DrainingServer(uvicorn.Server):
        """uvicorn waits for open requests before the lifespan ends; long-polls would hold it for up to 30 s, so
        the first stop signal also tells the assigner (or a standby's forwarder) to release them. Once the port is
        bound, its address is announced for standbys, and long-lived objects are kept out of the garbage
        collector's full pauses (`CollectorPolicy`)."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                listening = self.servers[0].sockets[0].getsockname()
                # uvicorn says where it listens only when it binds the sockets itself.
                where = f"[{listening[0]}]" if ":" in listening[0] else listening[0]
                logging.getLogger("uvicorn.error").info("Serving on http://%s:%d", where, listening[1])
                serving: Serving = app.state.serving
                await serving.bound(int(listening[1]))
            CollectorPolicy().install()

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            runtime: Runtime | None = getattr(app.state, "runtime", None)
            if runtime is not None:
                runtime.assigner.drain_threadsafe()
            forwarder: Forwarder | None = getattr(app.state, "forwarder", None)
            if forwarder is not None:
                forwarder.drain_threadsafe()
            super().handle_exit(sig, frame)

    DrainingServer(config).run(sockets=listening)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command("demo-serve")(demo_serve)
