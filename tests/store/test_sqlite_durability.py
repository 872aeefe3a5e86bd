"""What a SQLite store promises of a commit: in the write-ahead log before `apply` returns (it survives `kill -9`), and
with `?durability=strict` synced on every commit too (it survives power loss). No crash test can tell a synced log from
one left to the OS, so the settings themselves are checked (found by a hand-run mutation review: a strict store opened
with `synchronous = NORMAL` passed every test)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from queueopt.store import open_store
from queueopt.store.sql import SqlStore

FULL, NORMAL = 2, 1


@pytest.mark.parametrize(
    ("query", "synchronous"), [("", NORMAL), ("?durability=normal", NORMAL), ("?durability=strict", FULL)]
)
def test_a_sqlite_store_logs_ahead_and_syncs_as_its_durability_asks(
    tmp_path: Path, query: str, synchronous: int
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'durable.db'}{query}")
    try:
        assert isinstance(store, SqlStore)
        connection = store._connection
        assert isinstance(connection, sqlite3.Connection)
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == synchronous
    finally:
        store.close()
