"""PostgreSQL: the store on a database server, for a deployment that backs up, replicates and fails over there.

A store may live in its own schema (`?schema=name` in the URL), which is how the tests isolate runs on one
shared server. Writes run in explicit transactions on an autocommit connection, the same shape as SQLite.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from queueopt.errors import StoreUnavailable
from queueopt.store.sql import Connection, Dialect, SqlStore


def _executemany(connection: Connection, query: str, rows: list[tuple[Any, ...]]) -> int:
    assert isinstance(connection, psycopg.Connection)
    with connection.cursor() as cursor:
        cursor.executemany(query, rows)
        return cursor.rowcount


POSTGRES = Dialect(
    name="postgres",
    begin="BEGIN ISOLATION LEVEL READ COMMITTED",
    placeholder="%s",
    integrity_errors=(psycopg.errors.UniqueViolation,),
    busy=lambda error: False,  # a PostgreSQL BEGIN takes no lock
    executemany=_executemany,
    share_row=" FOR SHARE",
    claim_timeout="SET LOCAL lock_timeout = '5s'",
    # A transaction-scoped advisory lock on "quop" as one bigint key (apart from the engine locks' pairs of int4):
    # concurrent CREATE TABLEs on one schema otherwise collide in PostgreSQL's catalog. One per database, so
    # stores in different schemas migrate one at a time too, which costs nothing after their first start.
    migration_lock="SELECT pg_advisory_xact_lock(1903521648::int8)",
    column_types={
        "real": "DOUBLE PRECISION",
        "bool": "BOOLEAN",
        "bigint": "BIGINT",
        "identity": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "payload_source": "(payload::json ->> 'source')",
    },
)


def connect(conninfo: str, **options: str) -> psycopg.Connection[Any]:
    """An autocommit connection (libpq `options` added to the URL's), or `StoreUnavailable` saying why there is
    none."""
    try:
        return psycopg.connect(make_conninfo(conninfo, **options), autocommit=True)
    except psycopg.OperationalError as error:
        reason = " ".join(str(error).split())  # libpq's message spans lines; a CLI error is one
        raise StoreUnavailable(f"cannot reach PostgreSQL: {reason}", field="database_url") from None


def open_postgres(conninfo: str, schema: str | None = None) -> SqlStore:
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
        return SqlStore(connection, POSTGRES)
    except BaseException:
        connection.close()
        raise
