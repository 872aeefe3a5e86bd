"""`queueopt purge` as an operator runs it: a real process on a real SQLite file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from tests.conftest import PG_URL
from tests.store.test_retention import reviewed

from queueopt.domain import TaskState
from queueopt.store import open_store
from queueopt.store.engine_lock import engine_lock

QUEUEOPT = str(Path(sys.executable).parent / "queueopt")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUEUEOPT, "purge", *args], capture_output=True, text=True, timeout=60, check=False)


def _stored(tmp_path: Path) -> str:
    """A store with an item settled long ago, one settled now, and one still waiting."""
    url = f"sqlite:///{tmp_path / 'queueopt.db'}"
    store = open_store(url)
    reviewed(store, "old", 10.0, content_hash="h")
    reviewed(store, "recent", time.time())
    reviewed(store, "waiting", 10.0, state=TaskState.QUEUED)
    store.close()
    return url


def _kept(url: str) -> set[str]:
    store = open_store(url)
    try:
        return set(store.items(["old", "recent", "waiting"]))
    finally:
        store.close()


def test_a_dry_run_says_what_would_go_and_a_run_deletes_it(tmp_path: Path) -> None:
    url = _stored(tmp_path)
    dry = run("--older-than-days", "30", "--dry-run", "--database-url", url)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would purge 1 items settled before ")
    assert dry.stdout.rstrip().endswith("(1 tasks, 2 audit entries, 1 content history rows)")
    assert _kept(url) == {"old", "recent", "waiting"}
    done = run("--older-than-days", "30", "--database-url", url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("purged 1 items settled before ")
    assert _kept(url) == {"recent", "waiting"}
    assert run("--older-than-days", "0.5", "--database-url", url).stdout.startswith("purged 0 items")


_RANGE = "queueopt purge: Invalid value for '--older-than-days': expected a number above 0 to 36,525, got "


def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    url = _stored(tmp_path)
    cases = {
        ("--older-than-days", "0", "--database-url", url): _RANGE + "'0'",
        ("--older-than-days", "-3", "--database-url", url): _RANGE + "'-3'",
        ("--older-than-days", "nan", "--database-url", url): _RANGE + "'nan'",
        ("--older-than-days", "1e6", "--database-url", url): _RANGE + "'1e6'",
        ("--older-than-days", "soon", "--database-url", url): (
            "queueopt purge: Invalid value for '--older-than-days': expected a number, got 'soon'"
        ),
        ("--database-url", url): "queueopt purge: Missing option '--older-than-days'",
        ("--older-than-days", "3", "--database-url", f"sqlite:///{tmp_path / 'none.db'}"): (
            "queueopt: database_url: no SQLite database at"
        ),
        ("--older-than-days", "3", "--database-url", "nosuch://x"): "queueopt: database_url:",
        ("--older-than-days", "3", "--database-url", "postgresql://postgres@127.0.0.1/test?connect_timeout=ten"): (
            "queueopt: database_url: bad value for connect_timeout"
        ),
    }
    for args, start in cases.items():
        done = run(*args)
        assert done.returncode != 0, args
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(start), (args, done.stderr)
    assert _kept(url) == {"old", "recent", "waiting"}


def test_a_store_an_engine_serves_is_refused(tmp_path: Path) -> None:
    url = _stored(tmp_path)
    with engine_lock(url):
        done = run("--older-than-days", "30", "--database-url", url)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "queueopt: database_url: an engine serves this store: set QUEUEOPT_RETENTION_DAYS on it to purge in the "
        "background, or stop it and purge again"
    ]
    assert _kept(url) == {"old", "recent", "waiting"}


@pytest.mark.postgres
def test_a_database_that_holds_no_store_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """Found by a probe: opening the store made its tables, so a mistyped URL gained eleven tables (or a new
    PostgreSQL schema) and the command reported 'would purge 0 items', exit 0."""
    foreign = tmp_path / "customers.db"
    with closing(sqlite3.connect(foreign)) as connection, connection:
        connection.execute("CREATE TABLE customers (id INTEGER)")
    schema = f"no_store_{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in PG_URL else "?"
    for url in (f"sqlite:///{foreign}", f"{PG_URL}{separator}schema={schema}"):
        done = run("--older-than-days", "30", "--dry-run", "--database-url", url)
        assert done.returncode == 1 and done.stderr == (
            "queueopt: database_url: the database holds no queueopt store (no schema_version table)\n"
        ), done.stderr
    with closing(sqlite3.connect(foreign)) as connection:
        assert connection.execute("SELECT name FROM sqlite_master").fetchall() == [("customers",)]
    with psycopg.connect(PG_URL) as connection:
        found = connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchall()
    assert found == []
