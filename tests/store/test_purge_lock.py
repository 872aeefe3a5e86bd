"""`queueopt purge` holds the engine lock as an engine does: a standby waiting for the lock leaves a purge that works
alone (PostgreSQL, where a standby judges its holder by its beats), and a purge that loses the lock stops, none of its
writes landing beside the next engine's (on SQLite too, whose lock goes only with its lock file).

Each batch is slowed, or interrupted, by a stand-in for `SqlStore.purge` that looks at one item's two audit entries
at a time: a purge of a large store in miniature."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.conftest import PG_URL
from tests.store.test_hung_holder import standby
from tests.store.test_retention import reviewed

from queueopt.errors import StoreUnavailable
from queueopt.store import Store, open_store
from queueopt.store.commands import purge
from queueopt.store.engine_lock import _NAMESPACE, engine_lock
from queueopt.store.sql import SqlStore
from queueopt.store.urls import parse_store_url

ITEMS = [f"i{n}" for n in range(10)]
Batch = Callable[[int], None]
"""What the stand-in runs before each batch, given the batch's number (from 1)."""


POSTGRES_ONLY = pytest.mark.parametrize("url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
LOST = {"sqlite": "the lock file ", "postgres": "the PostgreSQL session holding the lock on schema "}
"""How `HeldLock.lost` says the lock went, on each backend."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queueopt.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    """The store with `ITEMS`, settled long ago."""
    opened = open_store(url)
    for item_id in ITEMS:
        reviewed(opened, item_id, 10.0)
    yield opened
    opened.close()


def _batches(monkeypatch: pytest.MonkeyPatch, before_each: Batch) -> list[int]:
    """Make every purge batch look at two audit entries (one item), running `before_each` first; the batches run."""
    ran: list[int] = []
    one_item = SqlStore.purge

    def batch(self: SqlStore, before: float, after_seq: int, limit: int, dry_run: bool = False) -> Any:
        ran.append(len(ran) + 1)
        before_each(ran[-1])
        return one_item(self, before, after_seq, 2, dry_run)

    monkeypatch.setattr(SqlStore, "purge", batch)
    return ran


def _kept(store: Store) -> list[str]:
    return sorted(store.items(ITEMS))


def _take_the_lock_away(url: str) -> None:
    """What a standby or an operator does on PostgreSQL: end the session holding the store's engine lock (and wait
    until it has ended); on SQLite, the one way: remove the lock file."""
    where = parse_store_url(url)
    if where.backend == "sqlite":
        Path(where.path + ".lock").unlink()
        return
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = %s::int8::oid AND objid = %s::int8::oid AND objsubid = 2",
            (_NAMESPACE, (zlib.crc32(str(where.schema).encode()) - 2**31) % 2**32),
        )


@POSTGRES_ONLY
def test_a_standby_leaves_a_purge_that_works_alone(url: str, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine before the purge beat last as it claimed the store; the standby's bound (1 s) runs out three times
    over while the purge works, and the standby waits for it all the same."""
    store.claim_serving("http://stopped:8000", 0.0)
    purging = threading.Event()
    started: list[float] = []
    ran = _batches(monkeypatch, lambda _: (purging.set(), started.append(time.monotonic()), time.sleep(0.3)))
    ended = threading.Event()
    purger = threading.Thread(target=lambda: (purge(30.0, database_url=url), ended.set()))
    purger.start()
    assert purging.wait(10)
    stop = threading.Event()
    waiter, took = standby(url, 1.0, stop)
    purger.join(15)
    waiter.join(5)
    stop.set()
    assert ended.is_set() and len(ran) == len(ITEMS) + 1, "the purge ran to its end"
    assert took and took[0] > started[-1], "the standby took the lock only once the purge let it go"
    assert _kept(store) == []


def test_a_purge_whose_lock_is_taken_stops_before_its_next_batch(
    url: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = _batches(monkeypatch, lambda number: _take_the_lock_away(url) if number == 3 else None)
    with pytest.raises(StoreUnavailable) as stopped:
        purge(30.0, database_url=url)
    assert stopped.value.message.startswith(f"the purge stopped ({LOST[parse_store_url(url).backend]}")
    assert ran == [1, 2, 3], "not another batch once the lock was gone"
    assert _kept(store) == ITEMS[3:], "the batch under way as the lock went commits: no claim came before it"


def test_a_batch_under_way_when_another_engine_claims_the_store_commits_nothing(
    url: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The purge loses its lock between its check of the lock and its batch (a standby ended its session; on SQLite
    its lock file was removed), and another process takes the lock and claims the store: the batch is refused whole,
    and the claimant's rebuild reads every item the purge left."""
    with ExitStack() as successor:

        def take_over(number: int) -> None:
            if number == 3:
                _take_the_lock_away(url)
                successor.enter_context(engine_lock(url))
                store.claim_serving("http://next:8000", 1.0)

        ran = _batches(monkeypatch, take_over)
        with pytest.raises(StoreUnavailable) as stopped:
            purge(30.0, database_url=url)
        assert "no longer serves the store" in stopped.value.message
        assert ran == [1, 2, 3]
        assert _kept(store) == ITEMS[2:]
