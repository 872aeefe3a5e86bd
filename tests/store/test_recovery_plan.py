"""A recovering engine's paged read of open tasks on PostgreSQL is planned from statistics of the tasks it reads.

Without statistics (a new store that filled before autovacuum's first pass) PostgreSQL guesses a few open tasks,
so each page sorts every open task after its start and keeps the first page: recovery then grows with the square
of the backlog. The store refreshes them before the first page (`Dialect.before_open_tasks`)."""

from __future__ import annotations

import json
from contextlib import closing

import psycopg
import pytest

from queueopt.store import open_store

pytestmark = pytest.mark.postgres

TASKS = 20_000
OPEN_EVERY = 10


def open_estimate(connection: psycopg.Connection[tuple[object, ...]], schema: str) -> float:
    """How many open tasks PostgreSQL's planner expects a page's filter to find."""
    connection.execute(f'SET search_path = "{schema}"')
    row = connection.execute(
        "EXPLAIN (FORMAT JSON) SELECT id FROM tasks WHERE state IN ('queued', 'leased') AND id > ''"
    ).fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(str(row[0]))
    return float(plan[0]["Plan"]["Plan Rows"])


def test_reading_open_tasks_gives_the_planner_their_number(pg_url: str) -> None:
    schema = pg_url.rpartition("schema=")[2]
    store = open_store(pg_url)
    with closing(store), psycopg.connect(pg_url.partition("?")[0], autocommit=True) as connection:
        connection.execute(f'SET search_path = "{schema}"')
        connection.execute(
            "INSERT INTO tasks (id, item_id, queue, kind, state, priority, aging_rate, enqueued_at, modality, "
            "language, region, duration_s, severe, attempt, skipped_by) "
            "SELECT 't' || lpad(n::text, 6, '0'), 'i' || n, 'q', 'review', "
            "CASE WHEN n %% %s = 0 THEN 'queued' ELSE 'decided' END, 1, 0, 0, 'text', 'en', 'us', 0, false, 1, '[]' "
            "FROM generate_series(1, %s) AS n",
            (OPEN_EVERY, TASKS),
        )
        guessed = open_estimate(connection, schema)
        assert len(store.open_tasks()) == TASKS // OPEN_EVERY
        planned = open_estimate(connection, schema)
    expected = TASKS / OPEN_EVERY
    assert guessed < expected / 10, "PostgreSQL guessed well without statistics: this test no longer shows the need"
    assert expected / 2 <= planned <= expected * 2
