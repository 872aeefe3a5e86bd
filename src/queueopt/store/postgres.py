"""PostgreSQL: the store on a database server, for a deployment that backs up, replicates and fails over there.

A store may live in its own schema (`?schema=name` in the URL), which is how the tests isolate runs on one
shared server. Writes run in explicit transactions on an autocommit connection, the same shape as SQLite.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from queueopt.errors import InvalidInput, StoreUnavailable
from queueopt.store.sql import Connection, Dialect, SqlStore


def _executemany(connection: Connection, query: str, rows: list[tuple[Any, ...]]) -> int:
    assert isinstance(connection, psycopg.Connection)
    with connection.cursor() as cursor:
        cursor.executemany(query, rows)
        return cursor.rowcount


def _unavailable(error: Exception) -> str | None:
    """psycopg's operational errors are the server's or the connection's state, not the query's: a session that
    ended (a restart, `pg_terminate_backend`, a network cut), a full disk, a deadlock, a lock or statement timeout.
    Every other error (a wrong query, a broken constraint, a value PostgreSQL refuses) is a bug."""
    if not isinstance(error, psycopg.OperationalError):
        return None
    return f"the store failed (PostgreSQL: {one_line(error)}); the request was not acknowledged: retry"


def one_line(error: Exception) -> str:
    """libpq's message spans lines; a reason is one."""
    return " ".join(str(error).split())


POSTGRES = Dialect(
    name="postgres",
    begin="BEGIN ISOLATION LEVEL READ COMMITTED",
    placeholder="%s",
    integrity_errors=(psycopg.errors.UniqueViolation,),
    driver_error=psycopg.Error,
    unavailable=_unavailable,
    executemany=_executemany,
    share_row=" FOR SHARE",
    claim_timeout="SET LOCAL lock_timeout = '5s'",
    # A transaction-scoped advisory lock on "quop" as one bigint key (apart from the engine locks' pairs of int4):
    # concurrent CREATE TABLEs on one schema otherwise collide in PostgreSQL's catalog. One per database, so
    # stores in different schemas migrate one at a time too, which costs nothing after their first start.
    migration_lock="SELECT pg_advisory_xact_lock(1903521648::int8)",
    now_s="EXTRACT(EPOCH FROM clock_timestamp())::float8",
    versioned="SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_version'",
    before_open_tasks="ANALYZE tasks",
    column_types={
        "real": "DOUBLE PRECISION",
        "bool": "BOOLEAN",
        "bigint": "BIGINT",
        "identity": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "payload_source": "(payload::json ->> 'source')",
        "decision_policy": "(decision::json ->> 'policy')",
    },
)


def connect(conninfo: str, **options: str) -> psycopg.Connection[Any]:
    """An autocommit connection (libpq `options` added to the URL's), or `StoreUnavailable` saying why there is
    none, or `InvalidInput` when libpq refuses a parameter's value (`connect_timeout=ten`)."""
    try:
        return psycopg.connect(make_conninfo(conninfo, **options), autocommit=True)
    except psycopg.OperationalError as error:
        raise StoreUnavailable(f"cannot reach PostgreSQL: {one_line(error)}", field="database_url") from None
    except psycopg.ProgrammingError as error:
        raise InvalidInput(one_line(error), field="database_url") from None


def open_postgres(conninfo: str, schema: str | None = None, *, migrate: bool = True) -> SqlStore:
    """`schema` must already be a checked identifier (`parse_store_url` checks it). It is created under the
    migration lock, since two processes creating one schema at once collide like two creating one table. The
    session is named `queueopt-store` in pg_stat_activity unless the URL names it."""
    named = "application_name" in conninfo_to_dict(conninfo)
    connection = connect(conninfo) if named else connect(conninfo, application_name="queueopt-store")
    try:
        if schema is not None:
            with connection.transaction():
                connection.execute(POSTGRES.migration_lock)
                connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            connection.execute(f'SET search_path TO "{schema}"')
        return SqlStore(connection, POSTGRES, migrate=migrate)
    except BaseException:
        connection.close()
        raise
