"""The embedded default: SQLite in WAL mode.

A committed transaction is in the write-ahead log before `apply` returns, so it survives the process being
killed. `durability="strict"` also syncs the log on every commit, for power loss, at a cost in throughput.

The two adapters registered below change no value that is stored (None stays NULL, a bool stays 0 or 1):
they exist because the sqlite3 module binds only exact int, float, str and bytes directly, and for any
other parameter looks for an adapter the slow way, raising and discarding an AttributeError on the way.
An item row and a task row carry several NULLs and a bool, so that was about a tenth of a submit.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from queueopt.store.sql import Connection, Dialect, SqlStore

BUSY_TIMEOUT_S = 30.0

# None to None by a C call, not a Python frame per NULL: an empty dict's `get` answers None for any key.
sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))
sqlite3.register_adapter(bool, int)


def _executemany(connection: Connection, query: str, rows: list[tuple[Any, ...]]) -> int:
    assert isinstance(connection, sqlite3.Connection)
    return connection.executemany(query, rows).rowcount


def _locked(error: Exception) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


# Result codes of the database's state, not of the query: memory, a file that went read-only, a disk that failed or
# filled up, a file that cannot be opened or is damaged. A wrong query (SQLITE_ERROR) or a broken constraint is a bug.
_UNAVAILABLE = frozenset(
    {
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)


def _unavailable(error: Exception) -> str | None:
    """Another process held the write lock past the busy timeout, or one of `_UNAVAILABLE` (an extended result
    code keeps its primary code in the low byte: SQLITE_IOERR_WRITE is an SQLITE_IOERR)."""
    if _locked(error):
        return "the store is busy (another process holds its write lock); retry"
    code = getattr(error, "sqlite_errorcode", None)
    if code is None or code & 0xFF not in _UNAVAILABLE:
        return None
    return f"the store failed (SQLite: {error}); the request was not acknowledged: retry"


SQLITE = Dialect(
    name="sqlite",
    begin="BEGIN IMMEDIATE",
    share_row="",
    claim_timeout="",  # the busy timeout bounds every wait
    migration_lock="",
    now_s="((julianday('now') - 2440587.5) * 86400.0)",
    versioned="SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
    before_open_tasks="",
    placeholder="?",
    integrity_errors=(sqlite3.IntegrityError,),
    driver_error=sqlite3.Error,
    unavailable=_unavailable,
    executemany=_executemany,
    column_types={
        "real": "REAL",
        "bool": "INTEGER",
        "bigint": "INTEGER",
        "identity": "INTEGER PRIMARY KEY",
        "payload_source": "json_extract(payload, '$.source')",
        "decision_policy": "json_extract(decision, '$.policy')",
    },
)


def _write_ahead_log(connection: sqlite3.Connection) -> None:
    """Switch the database to WAL. SQLite answers "database is locked" at once, without waiting as its busy
    timeout would, when another connection switches the same new file at the same moment (a standby starting beside
    the serving engine): the switch is asked again until the timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if not _locked(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def open_sqlite(path: str, durability: str = "normal", *, migrate: bool = True) -> SqlStore:
    """`durability` is "normal" or "strict" (`parse_store_url` checks it); a missing parent folder is made."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
    try:
        _write_ahead_log(connection)
        connection.execute("PRAGMA synchronous = " + ("FULL" if durability == "strict" else "NORMAL"))
        connection.execute("PRAGMA foreign_keys = ON")
        return SqlStore(connection, SQLITE, migrate=migrate)
    except BaseException:
        connection.close()
        raise
