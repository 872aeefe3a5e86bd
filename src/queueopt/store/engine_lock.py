"""One serving engine per store: the lock `queueopt serve` holds for as long as it runs.

An engine keeps its queues and leases in memory, rebuilt from the store when it starts, and learns of new tasks only
through its own calls. A second `queueopt serve` on the same database would not see the first one's submissions:
moderators pulling from one would starve while the other's queues grow. So the second process is refused at start,
or, as a standby, passes its requests to the holder until the holder is gone, then takes over (rebuilding from the
store, as after a crash).

A waiting standby asks again every `POLL_S` rather than blocking in the kernel or the server, so it can stop waiting
when it shuts down, and takes over within that long of the holder's end. On PostgreSQL it also ends the session of a
holder that has hung (`hung_holder`), which would otherwise keep the lock for as long as its process lives.

The lock dies with its holder however it ends, `kill -9` included. PostgreSQL: a session advisory lock on a
connection of its own, keyed by the store's schema. SQLite: an exclusive `flock` on `<database>.lock`, released by
the kernel. The memory store lives in one process and needs none.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from queueopt.errors import StoreInUse, StoreUnavailable
from queueopt.store.urls import StoreUrl, parse_store_url

_NAMESPACE = 0x71756F70  # "quop": the first key of every queueopt advisory lock, apart from other applications'
POLL_S = 0.25
_LOCK_SESSION = {
    "application_name": "queueopt-engine-lock",
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "3",
}


class GaveUpWaiting(Exception):
    """The standby was told to stop before the lock came free."""


class HeldLock(Protocol):
    def lost(self) -> str | None:
        """Why this process no longer holds the lock, or None while it does.

        A lock can go while its holder lives: PostgreSQL ends the holding session (a server restart, an operator's
        `pg_terminate_backend`, a network cut noticed by keepalives), or someone removes the SQLite lock file and
        the next process locks a new one. Another engine may then start on the store, so the holder must stop."""
        ...


class _Unshared:
    """The memory store: one process, nothing to lose."""

    def lost(self) -> str | None:
        return None


@contextmanager
def engine_lock(
    url: str, *, wait: bool = False, stop: threading.Event | None = None, unseat_after_s: float | None = None
) -> Iterator[HeldLock]:
    """Hold the lock of the store `url` names until the block ends. Raises `StoreInUse` if another process holds
    it, or with `wait` (a standby) waits until it is free, or until `stop` is set (then `GaveUpWaiting`). A waiting
    standby given `unseat_after_s` ends the session of a PostgreSQL holder that has not beaten for that long."""
    where = parse_store_url(url)
    waiting = _Waiting(stop or threading.Event()) if wait else None
    if where.backend == "sqlite" and where.path != ":memory:":
        database = Path(where.path).resolve()  # one lock for every spelling of the file, through symlinks too
        with _file_lock(database.with_name(database.name + ".lock"), waiting) as held:
            yield held
    elif where.backend == "postgres":
        with _advisory_lock(where, waiting, unseat_after_s) as held:
            yield held
    else:
        yield _Unshared()


class _Waiting:
    """A standby's patience: tries the lock until it is taken, saying once that it waits."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def until(self, taken: Callable[[], bool]) -> None:
        print(
            "queueopt: standby: passing requests to the engine serving this store until it stops",
            file=sys.stderr,
            flush=True,
        )
        while not taken():
            if self._stop.wait(POLL_S):
                raise GaveUpWaiting


def _in_use(holder: str) -> StoreInUse:
    return StoreInUse(
        f"another queueopt engine serves this store ({holder}); run one per store, or start this one as a standby",
        field="database_url",
    )


class _LockFile:
    """`<database>.lock`, opened anew whenever the file at its path is no longer the one this process has open.

    Someone may remove the file while an engine holds it: the next process then creates and locks a new one, and
    every standby that already had the old one open would, when the old holder ends, lock a file nobody else can
    see. So a lock counts only on the file the path names now."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.descriptor = self._open()

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            message = f"cannot open the lock file {str(self.path)!r}: {error}"
            raise StoreUnavailable(message, field="database_url") from None

    def try_lock(self) -> bool:
        while True:
            try:
                fcntl.flock(self.descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            if self.lost() is None:
                return True
            os.close(self.descriptor)  # locked a file that has gone from its path: lock the one there now
            self.descriptor = self._open()

    def lost(self) -> str | None:
        try:
            current = os.stat(self.path)
        except OSError:
            return f"the lock file {str(self.path)!r} was removed"
        held = os.fstat(self.descriptor)
        if (current.st_dev, current.st_ino) != (held.st_dev, held.st_ino):
            return f"the lock file {str(self.path)!r} was replaced"
        return None

    def holder(self) -> str:
        return os.pread(self.descriptor, 32, 0).decode(errors="replace").strip()


@contextmanager
def _file_lock(path: Path, waiting: _Waiting | None) -> Iterator[HeldLock]:
    lock_file = _LockFile(path)
    try:
        if not lock_file.try_lock():
            if waiting is None:
                raise _in_use(f"process {lock_file.holder()}")
            waiting.until(lock_file.try_lock)
        os.ftruncate(lock_file.descriptor, 0)
        os.pwrite(lock_file.descriptor, f"{os.getpid()}\n".encode(), 0)
        yield lock_file
    finally:
        os.close(lock_file.descriptor)


@dataclass(frozen=True)
class _HeldSession:
    connection: Any
    schema: str

    def lost(self) -> str | None:
        from queueopt.store.postgres import one_line

        try:
            self.connection.execute("SELECT 1")
        except Exception as error:
            reason = one_line(error) or type(error).__name__
            return f"the PostgreSQL session holding the lock on schema {self.schema} ended: {reason}"
        return None


@contextmanager
def _advisory_lock(where: StoreUrl, waiting: _Waiting | None, unseat_after_s: float | None) -> Iterator[HeldLock]:
    from queueopt.store.hung_holder import HungHolder
    from queueopt.store.postgres import connect

    # Keepalives, so a holder cut off from the server finds out in seconds, not after the kernel's two hours; and a
    # name that tells an operator in pg_stat_activity what this session is.
    with connect(where.conninfo, **_LOCK_SESSION) as connection:
        # Keyed by the schema the store's tables are in: without `?schema=` that is the connection's own current
        # schema (usually public), so `.../db` and `.../db?schema=public` are one store and take one lock.
        schema = where.schema or current_schema(connection)
        key = (_NAMESPACE, zlib.crc32(schema.encode()) - 2**31)
        hung = HungHolder(schema, key, unseat_after_s) if waiting is not None and unseat_after_s is not None else None

        def taken() -> bool:
            row = connection.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", key).fetchone()
            if row is not None and bool(row[0]):
                return True
            if hung is not None:
                hung.unseat(connection)
            return False

        if not taken():
            if waiting is None:
                raise _in_use(f"schema {schema}")
            waiting.until(taken)
        yield _HeldSession(connection, schema)


def current_schema(connection: Any) -> str:
    row = connection.execute("SELECT current_schema()").fetchone()
    return str(row[0]) if row is not None and row[0] is not None else "public"
