"""The engine a process serves with: started with the app, or by a standby at the moment it takes over the store.

Starting means claiming the store (which fences out any engine that served it before: see `Store.claim_serving`),
rebuilding the engine from the store (as after any crash), adding the roster file's new moderators, starting the
assigner, and announcing where this process answers, so standbys pass their requests here. The address is announced
once the port is bound (the real port, for `--port 0`; and no standby is sent to a port not yet open).

While it serves, the engine beats in the store every `BEAT_S`, so standbys can tell it from a hung one
(`hung_holder`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket

from anyio import to_thread
from fastapi import FastAPI

from queueopt.capability import ModeratorProfile
from queueopt.clock import Clock
from queueopt.config import OpsConfig
from queueopt.engine import Engine
from queueopt.errors import Deposed, StoreUnavailable
from queueopt.service import replica_files
from queueopt.service.assigner import Assigner
from queueopt.service.deps import Runtime
from queueopt.service.engine_thread import EngineThread
from queueopt.service.lock_guard import CHECK_S, stop_at_once
from queueopt.service.metrics import ServiceMetrics
from queueopt.service.settings import Settings
from queueopt.store import Store, open_store
from queueopt.store.base import BEAT_S
from queueopt.store.retention import BATCH, DAY_S

log = logging.getLogger("queueopt.service")

_WILDCARDS = frozenset({"", "0.0.0.0", "::"})
LEARNING_SAVE_S = 60.0
PURGE_EVERY_S = 300.0
"""How often the serving engine purges settled work past the retention period (`Settings.retention_days`)."""


class Serving:
    def __init__(
        self,
        app: FastAPI,
        settings: Settings,
        clock: Clock,
        config: OpsConfig,
        parts: tuple[list[ModeratorProfile], dict[str, str], ServiceMetrics],
        thread: EngineThread,
    ) -> None:
        self._app = app
        self._settings = settings
        self._clock = clock
        self._config = config
        self._roster, self._files, self._metrics = parts
        self._thread = thread
        self._lock = asyncio.Lock()
        self._store: Store | None = None
        self._runtime: Runtime | None = None
        self._address: str | None = None
        self._stopped = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Serve from now on. Does nothing once stopped: a standby's take-over may race the process's shutdown.

        The claim records the address when the server listens already (a standby taking over); otherwise `bound`
        announces it once this returns. Nothing is written after the engine is taken on: a write failing then (an
        announce did, found by a review) left the engine running behind a start that raised, so the standby let the
        lock go while it ran on, and its next take-over found it started and returned at once."""
        async with self._lock:
            if self._stopped or self._runtime is not None:
                return
            store = await self._thread.run(open_store, self._settings.database_url)
            try:
                # Claimed before the engine reads the store: every write of a deposed engine is then either in
                # what this one reads, or refused.
                await self._thread.run(store.claim_serving, self._address, self._clock.now())
                engine = await self._thread.run(Engine, store, self._clock, self._config)
                await self._thread.run(_seed, engine, self._roster)
                await self._thread.run(_keep_files, store, self._files)
            except BaseException:
                await self._thread.run(store.close)
                raise
            assigner = Assigner(engine, self._settings.tick_s, self._metrics)
            self._store = store
            self._runtime = Runtime(engine, assigner, self._thread)
            self._app.state.runtime = self._runtime
            self._metrics.watch(engine)
            assigner.start()
            self._tasks = [
                asyncio.create_task(self._watch_store(store), name="queueopt-store-guard"),
                asyncio.create_task(self._keep_learning(engine), name="queueopt-learning"),
                asyncio.create_task(self._keep_beating(store), name="queueopt-heartbeat"),
            ]
            if self._settings.retention_days is not None:
                purging = self._keep_purging(engine, self._settings.retention_days * DAY_S)
                self._tasks.append(asyncio.create_task(purging, name="queueopt-retention"))

    async def bound(self, port: int) -> None:
        """The server listens on `port`: announce the address, now or when this process starts serving."""
        self._address = self._settings.advertise_url or default_address(self._settings.host, port)
        async with self._lock:
            await self._announce()

    async def _announce(self) -> None:
        if self._store is not None and self._address is not None:
            await self._thread.run(self._store.announce_serving, self._address, self._clock.now())

    async def _watch_store(self, store: Store) -> None:
        """Stop the process once its store connection fails (`lock_guard`): it cannot be mended in place."""
        while True:
            await asyncio.sleep(CHECK_S)
            if not await to_thread.run_sync(store.ping):
                stop_at_once("the serving engine's connection to its store failed")

    async def _keep_beating(self, store: Store) -> None:
        """Beat every `BEAT_S` (`Store.beat_serving`), on the engine's thread: a beat says that the engine works, not
        only that the process lives. A standby ends the session of an engine whose beats stop (`hung_holder`)."""
        while True:
            await asyncio.sleep(BEAT_S)
            try:
                await self._thread.run(store.beat_serving)
            except (Deposed, StoreUnavailable) as error:
                log.warning("the serving engine's heartbeat was not recorded: %s", error)

    async def _keep_learning(self, engine: Engine) -> None:
        """Save what the model learned every `LEARNING_SAVE_S`, so a crash forgets at most that much of it."""
        while True:
            await asyncio.sleep(LEARNING_SAVE_S)
            await self._save_learning(engine)

    async def _keep_purging(self, engine: Engine, retention_s: float) -> None:
        """Every `PURGE_EVERY_S`, purge what settled more than `retention_s` ago, a batch at a time on the engine's
        thread: requests that arrive meanwhile queue behind one batch, never behind the whole purge."""
        while True:
            await asyncio.sleep(PURGE_EVERY_S)
            before = self._clock.now() - retention_s
            after: int | None = 0
            try:
                while after is not None:
                    batch = await self._thread.run(engine.purge, before, after, BATCH)
                    self._metrics.purged.inc(batch.items)
                    after = batch.scanned_to
            except (Deposed, StoreUnavailable) as error:
                log.warning("the retention purge stopped until its next run: %s", error)
            except Exception:
                # A defect, logged with its traceback and tried again at the next period: ending the loop would stop
                # retention for the rest of the process's life without a word (found by a probe reading the source).
                log.exception("the retention purge failed; it runs again in %g s", PURGE_EVERY_S)

    async def _save_learning(self, engine: Engine) -> None:
        try:
            await self._thread.run(engine.save_learning)
        except Deposed:
            log.warning("not saving the learned estimates: another engine serves the store now")
        except StoreUnavailable as error:
            log.warning("the learned estimates were not saved this time: %s", error)

    async def stop(self) -> None:
        async with self._lock:
            self._stopped = True
            for task in self._tasks:
                task.cancel()
            self._tasks = []
            runtime, self._runtime = self._runtime, None
            if runtime is not None:
                await runtime.assigner.stop()
                await self._save_learning(runtime.engine)
                await self._thread.run(runtime.engine.close)


def default_address(host: str, port: int) -> str:
    """`http://host:port`, naming the machine when the server listens on every interface."""
    name = socket.gethostname() if host in _WILDCARDS else host
    try:
        literal = ipaddress.ip_address(name)
    except ValueError:
        return f"http://{name}:{port}"
    return f"http://[{name}]:{port}" if literal.version == 6 else f"http://{name}:{port}"


def _keep_files(store: Store, files: dict[str, str]) -> None:
    """Record the files this engine serves with, saying first which differ from the last serving engine's: after a
    take-over by a standby started otherwise, tokens, rules and moderators are this process's (`replica_files`)."""
    changed = replica_files.differing(store, files)
    if changed:
        log.warning(
            "this engine serves with a %s other than the engine that served the store before it: tokens, queues "
            "and rules are now this process's",
            replica_files.said(changed),
        )
    replica_files.keep(store, files)


def _seed(engine: Engine, roster: list[ModeratorProfile]) -> None:
    """Add the roster's new moderators, and warn of each one listed otherwise than stored; on the engine's thread,
    one hop however long the roster."""
    added = set(engine.seed_moderators(roster))
    for profile in roster:
        if profile.id not in added:
            _warn_if_kept(profile, engine.moderator(profile.id).profile)


def _warn_if_kept(listed: ModeratorProfile, stored: ModeratorProfile) -> None:
    """Say so when the roster file lists a moderator otherwise than the store holds them: the stored profile is the
    one that counts (the admin API may have changed it since), and an edit to the file alone changes nothing."""
    compared = (name for name in ModeratorProfile.model_fields if name != "status")
    fields = sorted(name for name in compared if getattr(listed, name) != getattr(stored, name))
    if fields:
        log.warning(
            "roster file: moderator %s differs from the stored profile in %s; the stored one is kept "
            "(change it with PUT /v1/moderators/%s)",
            listed.id,
            ", ".join(fields),
            listed.id,
        )
