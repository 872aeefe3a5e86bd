"""Durable state: items, tasks, leases, moderators and the audit log, behind one `Store` protocol."""

from __future__ import annotations

from queueopt.errors import StoreUnavailable
from queueopt.store.base import SCHEMA_VERSION, Store
from queueopt.store.memory import MemoryStore
from queueopt.store.records import AuditEntry, Changes, ItemRecord, StaleWrite, TaskWrite
from queueopt.store.urls import parse_store_url

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


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store `url` names (see `parse_store_url`), applying the schema migrations it lacks; `migrate=False`
    for a standby, which opens a store another engine serves (see `SqlStore`)."""
    where = parse_store_url(url)
    if where.backend == "memory":
        return MemoryStore()
    if where.backend == "sqlite":
        import sqlite3

        from queueopt.store.sqlite import open_sqlite

        try:
            return open_sqlite(where.path, where.durability, migrate=migrate)
        except (sqlite3.Error, OSError) as error:
            message = f"cannot open SQLite database {where.path!r}: {error}"
            raise StoreUnavailable(message, field="database_url") from None
    from queueopt.store.postgres import open_postgres

    return open_postgres(where.conninfo, where.schema, migrate=migrate)
