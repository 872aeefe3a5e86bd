"""A standby ends the PostgreSQL session of a lock holder whose heartbeat stopped, and only then: the holder must
have held the lock, and been silent, for the whole bound, and must have beaten at all."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from tests.conftest import PG_URL
from tests.engine.conftest import video

from queueopt.clock import SystemClock, VirtualClock
from queueopt.config import OpsConfig
from queueopt.engine import Engine
from queueopt.store import MemoryStore, open_store
from queueopt.store.engine_lock import GaveUpWaiting, engine_lock
from queueopt.store.hung_holder import HungHolder


def standby(url: str, after_s: float, stop: threading.Event) -> tuple[threading.Thread, list[float]]:
    """A standby waiting for the lock, in a thread: when it took it, once it has."""
    took: list[float] = []

    def wait() -> None:
        try:
            with engine_lock(url, wait=True, stop=stop, unseat_after_s=after_s):
                took.append(time.monotonic())
        except GaveUpWaiting:
            pass

    thread = threading.Thread(target=wait)
    thread.start()
    return thread, took


@pytest.mark.postgres
def test_a_holder_whose_beats_stop_loses_its_sessions_and_the_lock(pg_url: str) -> None:
    """A hung engine: it took the lock, claimed the store (its one beat), and is stuck inside a write transaction
    that holds the serving row shared, which would block its successor's claim for as long as it hangs."""
    store = open_store(pg_url)
    writer = psycopg.connect(PG_URL, autocommit=True)
    try:
        with engine_lock(pg_url) as held:
            store.claim_serving("http://hung:8000", 0.0)
            writer.execute(f'SET search_path TO "{pg_url.rsplit("=", 1)[1]}"')
            writer.execute("BEGIN")
            writer.execute("SELECT epoch FROM serving_engine WHERE slot = 1 FOR SHARE")
            started = time.monotonic()
            thread, took = standby(pg_url, 3.0, threading.Event())
            thread.join(timeout=15)
            assert took, "the standby never took the lock"
            assert 3.0 <= took[0] - started < 6.0
            assert "PostgreSQL session holding the lock" in (held.lost() or "")
            with pytest.raises(psycopg.OperationalError):
                writer.execute("SELECT 1")
        store.claim_serving("http://next:8000", 1.0)  # nothing holds the successor's claim up
    finally:
        writer.close()
        store.close()


@pytest.mark.postgres
def test_a_holder_that_beats_keeps_the_lock(pg_url: str) -> None:
    store = open_store(pg_url)
    stop = threading.Event()
    try:
        with engine_lock(pg_url) as held:
            store.claim_serving("http://working:8000", 0.0)
            thread, took = standby(pg_url, 3.0, stop)
            for _ in range(5):
                time.sleep(1.0)
                store.beat_serving()
            stop.set()
            thread.join(timeout=5)
            assert took == [] and held.lost() is None
    finally:
        store.close()


class _Catalog:
    """pg_locks and the serving row as a fake connection shows them: the holder's session and its silence."""

    def __init__(self) -> None:
        self.holder: tuple[int, float | None] | None = None
        self.ended: list[int] = []

    def execute(self, query: Any, params: tuple[Any, ...]) -> Any:
        if "pg_terminate_backend" in str(query):
            self.ended.append(params[0])
            return _Rows([(params[0], True)])
        return _Rows([self.holder] if self.holder is not None else [])


class _Rows:
    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows


def test_a_holder_is_judged_by_its_silence_only_once_this_standby_has_seen_it_hold_for_the_bound() -> None:
    now = [0.0]
    catalog = _Catalog()
    hung = HungHolder("public", (1, -1), 10.0, clock=lambda: now[0])

    def judged(at: float, holder: tuple[int, float | None] | None) -> bool:
        now[0], catalog.holder = at, holder
        return hung.unseat(catalog)  # type: ignore[arg-type]

    assert not judged(0.0, (7, 60.0)), "silent long, but it may have taken the lock a moment ago"
    assert not judged(9.9, (7, 70.0))
    assert not judged(10.0, (8, 80.0)), "another holder now: its predecessor's beat is on record"
    assert not judged(15.0, (8, 5.0)), "it beat"
    assert not judged(25.0, (8, None)), "it never beat: an engine without heartbeats"
    assert judged(30.0, (8, 10.0))
    assert catalog.ended == [8]
    assert not judged(30.25, (8, 10.25)), "its session is ending: not judged again at once"
    assert not judged(31.0, None) and catalog.ended == [8]


@pytest.mark.postgres
def test_an_engine_that_takes_long_to_recover_is_not_judged_hung(
    pg_url: str, example_config: OpsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a review: beats began once the engine had started, and recovering a large backlog takes seconds (7 s
    for 100,000 open tasks on PostgreSQL when a new config widens them), so a standby judged the starting engine hung
    and unseated it. Here three steps of recovery take 0.9 s each, against a bound of 1.5 s: each step beats."""
    from queueopt.engine import engine as engine_module

    recall = engine_module.recall_recent
    monkeypatch.setattr(engine_module, "recall_recent", lambda *args: (time.sleep(0.9), recall(*args))[1])
    for step in ("expire", "_hand_back_unallowed"):
        slow = getattr(Engine, step)
        monkeypatch.setattr(Engine, step, lambda self, *args, slow=slow: (time.sleep(0.9), slow(self, *args))[1])
    store = open_store(pg_url)
    stop = threading.Event()
    try:
        with engine_lock(pg_url) as held:
            store.claim_serving("http://starting:8000", 0.0)
            waiter, took = standby(pg_url, 1.5, stop)
            Engine(store, SystemClock(), example_config)
            assert held.lost() is None and not took, "the standby left the starting engine alone"
            stop.set()
            waiter.join(5)
    finally:
        stop.set()
        store.close()


def test_a_recovering_engine_beats_between_pages_of_its_open_tasks(
    tmp_path: Path, example_config: OpsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a probe: a take-over beat only between the steps of its recovery, and reading 300,000 open tasks from
    PostgreSQL was one step of 7 s; two standbys with a bound of 3 s unseated each other's new engines 30 times before
    600,000 tasks were served again. Now at most a page of tasks is read, made or indexed between two beats (a page
    of 2 here, where the real one is `RECOVERY_PAGE`): a single read of every open task would still grow with the
    backlog."""
    from queueopt.engine import engine as engine_module
    from queueopt.store import sql

    url = f"sqlite:///{tmp_path / 'store.db'}"
    first = Engine(open_store(url), VirtualClock(0.0), example_config)
    first.submit([video(f"v{index}") for index in range(5)])
    first.close()
    events: list[str] = []
    monkeypatch.setattr(sql, "RECOVERY_PAGE", 2)
    monkeypatch.setattr(engine_module, "RECOVERY_PAGE", 2)
    made, execute = sql._task_of, sql.SqlStore._execute

    def counted(self: sql.SqlStore, query: str, *params: Any) -> Any:
        """The store's statement, noting how many open tasks each read of them returned."""
        cursor = execute(self, query, *params)
        if "FROM tasks WHERE state" not in query:
            return cursor
        rows = cursor.fetchall()
        events.append(f"read {len(rows)}")
        return SimpleNamespace(fetchall=lambda: rows)

    monkeypatch.setattr(sql.SqlStore, "_execute", counted)
    monkeypatch.setattr(sql, "_task_of", lambda row: (events.append("made"), made(row))[1])
    indexed = Engine._index
    monkeypatch.setattr(
        Engine, "_index", lambda self, tasks: (events.append(f"indexed {len(tasks)}"), indexed(self, tasks))[1]
    )
    store = open_store(url)
    beat = store.beat_serving
    monkeypatch.setattr(store, "beat_serving", lambda: (events.append("beat"), beat())[1])
    Engine(store, VirtualClock(0.0), example_config)
    runs = " ".join(events).split("beat")
    limits = {"read": 1, "made": 2, "indexed": 1}
    assert events.count("made") == 5
    assert [event for event in events if event.startswith(("read", "indexed"))] == [
        *("read 2", "read 2", "read 1"),
        *("indexed 2", "indexed 2", "indexed 1"),
    ]
    assert all(run.split().count(step) <= limit for run in runs for step, limit in limits.items()), events
    store.close()


def test_a_recovering_engine_beats_between_pages_of_the_audit_it_reads_back(
    example_config: OpsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit a restart reads back (`recovery.recall_recent`: the last hour, or the longest cool-down) is read a
    page at a time with a beat after each, as the open tasks are: a busy hour holds hundreds of thousands of entries,
    one silent read of which would unseat the new engine (found by a hand-run mutation review: the beat between its
    pages could be dropped unseen). A page of 2 here, where the real one is `_RECALL_PAGE`."""
    from queueopt.engine import recovery

    store = MemoryStore()
    Engine(store, VirtualClock(0.0), example_config).submit([video(f"v{index}") for index in range(5)])
    events: list[str] = []
    monkeypatch.setattr(recovery, "_RECALL_PAGE", 2)
    audit, beat = store.audit, store.beat_serving
    monkeypatch.setattr(store, "audit", lambda *args: (events.append("read"), audit(*args))[1])
    monkeypatch.setattr(store, "beat_serving", lambda: (events.append("beat"), beat())[1])
    Engine(store, VirtualClock(0.0), example_config)
    assert events.count("read") == 4  # five entries in pages of 2, and the empty read that ends them
    assert "read read" not in " ".join(events), events
