"""Durable state: items, tasks, leases, moderators and the audit log, behind one `Store` protocol."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from queueopt.errors import InvalidInput, StoreUnavailable
from queueopt.store.base import SCHEMA_VERSION, Store
from queueopt.store.memory import MemoryStore
from queueopt.store.records import AuditEntry, Changes, ItemRecord, StaleWrite, TaskWrite

__all__ = [
    "SCHEMA_VERSION",
    "AuditEntry",
    "Changes",
    "ItemRecord",
    "MemoryStore",
    "StaleWrite",
    "Store",
    "TaskWrite",
    "open_store",
]


def open_store(url: str) -> Store:
    """`memory://`, `sqlite:///relative/or/./path.db` or `sqlite:////absolute.db` (add `?durability=strict` to
    sync every commit), or `postgresql://user@host:port/db[?schema=name]`."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        from queueopt.store.sqlite import open_sqlite

        rest = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        path, _, query = rest.partition("?")
        if not path:
            raise InvalidInput("expected sqlite:///path/to/file.db", field="database_url")
        durability = parse_qs(query).get("durability", ["normal"])[-1]
        try:
            return open_sqlite(path, durability)
        except ValueError as error:
            raise InvalidInput(str(error), field="database_url") from None
    if scheme in ("postgresql", "postgres"):
        import psycopg

        from queueopt.store.postgres import open_postgres

        try:
            return open_postgres(url)
        except psycopg.OperationalError as error:
            raise StoreUnavailable(f"cannot reach PostgreSQL: {error}".strip(), field="database_url") from None
    raise InvalidInput(f"unsupported store URL scheme {scheme!r}", field="database_url")
