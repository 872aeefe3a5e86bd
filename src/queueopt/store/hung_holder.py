"""A standby's judgement of the engine that holds a PostgreSQL store's lock: working, or hung.

The lock dies with its holder's session, but a hung process (SIGSTOP, a wedged engine) keeps its session: the
holder's kernel, not the process, answers the server's TCP keepalives. Standbys would pass requests to an engine
that never answers, and none would ever take over. So the serving engine beats (`Store.beat_serving`, every
`BEAT_S`), as does `queueopt purge` before each of its batches (judged by the beat of the engine before it, a purge
would be unseated while it works), and a standby waiting for the lock ends the holder's session once the last beat
is older than its bound: the lock comes free, a standby takes it and claims the store as after a crash (which fences
out every later write of the hung holder), and the hung process, should it wake, finds its lock gone and stops
(`lock_guard`; a purge checks before each batch).

The beat is stamped and judged by the database's clock, so the replicas' clocks may disagree. A holder is judged
only once this standby has seen it hold the lock for the bound as well: a new holder beats first when it claims the
store (a purge, before its first batch), a moment after it took the lock, and until then the beat on record is its
predecessor's. A holder that never beat (a release without heartbeats, during an upgrade) is never judged hung.

Ended with it: every session in a write transaction on the store (each holds the serving row shared, see
`SqlStore._fence`), which only the hung holder can be; left alone, one would hold up its successor's claim for as
long as it hangs. Ending another session takes the same database role, or `pg_signal_backend`; without it the
standby logs why and judges again after the bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from queueopt.store.postgres import POSTGRES, one_line

log = logging.getLogger("queueopt.store.hung_holder")

_HOLDER = sql.SQL(
    "SELECT l.pid, {now} - (SELECT beat_at FROM {table} WHERE slot = 1) FROM pg_locks AS l "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.database = {database} "
    "AND l.classid = %s::int8::oid AND l.objid = %s::int8::oid AND l.objsubid = 2"
)
_END = sql.SQL(
    "SELECT pid, pg_terminate_backend(pid) FROM ("
    "SELECT %s::int4 AS pid UNION SELECT pid FROM pg_locks WHERE database = {database} "
    "AND relation = to_regclass(quote_ident(%s) || '.serving_engine') AND mode = 'RowShareLock'"
    ") AS hung"
)
_DATABASE = sql.SQL("(SELECT oid FROM pg_database WHERE datname = current_database())")


class HungHolder:
    """Ends the sessions of the lock `key` (two int4, as the lock takes them) on `schema` once its holder has not
    beaten for `after_s`."""

    def __init__(
        self, schema: str, key: tuple[int, int], after_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        table = sql.Identifier(schema, "serving_engine")
        self._holder_query = _HOLDER.format(now=sql.SQL(POSTGRES.now_s), table=table, database=_DATABASE)
        self._end_query = _END.format(database=_DATABASE)
        self._schema = schema
        self._key = (key[0] % 2**32, key[1] % 2**32)  # pg_locks shows them as oids, unsigned
        self._after_s = after_s
        self._clock = clock
        self._holder: int | None = None
        self._judged_from = 0.0

    def unseat(self, connection: psycopg.Connection[Any]) -> bool:
        """End the holder's sessions if it is hung; whether it was."""
        found = self._holder_and_silence(connection)
        if found is None:
            self._holder = None
            return False
        holder, silent_s = found
        if holder != self._holder:
            self._holder, self._judged_from = holder, self._clock()
        if silent_s is None or silent_s < self._after_s or self._clock() - self._judged_from < self._after_s:
            return False
        self._judged_from = self._clock()  # its session takes a moment to end: not judged again meanwhile
        try:
            ended = connection.execute(self._end_query, (holder, self._schema)).fetchall()
        except psycopg.errors.InsufficientPrivilege as error:
            log.warning("standby: cannot end the hung engine's session %d: %s", holder, one_line(error))
            return False
        log.warning(
            "standby: the engine holding this store has not beaten for %.1f s; ended its sessions %s",
            silent_s,
            sorted(pid for pid, done in ended if done),
        )
        return True

    def _holder_and_silence(self, connection: psycopg.Connection[Any]) -> tuple[int, float | None] | None:
        """The holder's session and how long since its last beat (None: it never beat), or None when nobody holds
        the lock or the store has no serving row yet (a database no engine has opened)."""
        try:
            row = connection.execute(self._holder_query, self._key).fetchone()
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn, psycopg.errors.InvalidSchemaName):
            return None
        if row is None:
            return None
        return int(row[0]), None if row[1] is None else float(row[1])
