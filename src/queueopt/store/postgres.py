"""PostgreSQL, for several service replicas on one database.

A store may live in its own schema (`?schema=name` in the URL), which is how the tests isolate runs on one
shared server. Writes run in explicit transactions on an autocommit connection, the same shape as SQLite.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

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
    executemany=_executemany,
    column_types={
        "real": "DOUBLE PRECISION",
        "bool": "BOOLEAN",
        "bigint": "BIGINT",
        "identity": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    },
)

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def open_postgres(url: str) -> SqlStore:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    schema = query.pop("schema", None)
    if schema is not None and not _SCHEMA.match(schema):
        raise ValueError(f"schema: expected a lower-case identifier, got {schema!r}")
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
    connection = psycopg.connect(conninfo, autocommit=True)
    if schema is not None:
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        connection.execute(f'SET search_path TO "{schema}"')
    return SqlStore(connection, POSTGRES)
