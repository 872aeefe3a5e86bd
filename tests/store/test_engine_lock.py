"""One engine per store: a second holder is refused, a standby waits, and a killed holder frees the lock."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest
from tests.conftest import PG_URL

from queueopt.errors import InvalidInput, StoreInUse, StoreUnavailable
from queueopt.store import open_store
from queueopt.store.engine_lock import GaveUpWaiting, engine_lock
from queueopt.store.urls import parse_store_url

HOLD = """
import sys, time
from queueopt.store.engine_lock import engine_lock
with engine_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queueopt.db'}"
        return
    schema = f"lock_{uuid.uuid4().hex[:12]}"
    yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"


def test_a_second_engine_is_refused_until_the_first_lets_go(store_url: str) -> None:
    with engine_lock(store_url):
        with pytest.raises(StoreInUse) as refused:
            with engine_lock(store_url):
                pytest.fail("two engines hold one store")
        assert refused.value.field == "database_url"
        assert "standby" in refused.value.message
    with engine_lock(store_url):
        pass


def test_stores_apart_lock_apart(store_url: str) -> None:
    other = store_url.replace("queueopt.db", "other.db") if "sqlite" in store_url else store_url + "x"
    with engine_lock(store_url), engine_lock(other):
        pass


def test_a_standby_takes_over_when_the_holder_stops(store_url: str) -> None:
    took_over = threading.Event()

    def standby() -> None:
        with engine_lock(store_url, wait=True):
            took_over.set()

    with engine_lock(store_url):
        waiting = threading.Thread(target=standby)
        waiting.start()
        time.sleep(0.3)
        assert not took_over.is_set(), "the standby started while the engine still held the store"
    waiting.join(timeout=10)
    assert took_over.is_set()


def test_a_standby_told_to_stop_gives_up_waiting_and_never_holds_the_lock(store_url: str) -> None:
    stop, outcome = threading.Event(), []

    def standby() -> None:
        try:
            with engine_lock(store_url, wait=True, stop=stop):
                outcome.append("held")
        except GaveUpWaiting:
            outcome.append("gave up")

    with engine_lock(store_url):
        waiting = threading.Thread(target=standby)
        waiting.start()
        time.sleep(0.3)
        stop.set()
        waiting.join(timeout=5)
        assert outcome == ["gave up"]
    with engine_lock(store_url):
        pass


def test_a_killed_holder_frees_the_lock(store_url: str) -> None:
    with subprocess.Popen([sys.executable, "-c", HOLD, store_url], stdout=subprocess.PIPE) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
            with pytest.raises(StoreInUse):
                with engine_lock(store_url):
                    pass
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
    with engine_lock(store_url, wait=True):  # the server or the kernel drops a dead holder's lock
        pass


def test_every_spelling_of_one_store_takes_one_lock(tmp_path: Path) -> None:
    """Found by probing: a symlink to the database, or PostgreSQL's default schema named outright, made a second
    lock for the same tables."""
    database = tmp_path / "queueopt.db"
    (tmp_path / "link.db").symlink_to(database)
    spellings = [
        (f"sqlite:///{database}", f"sqlite:///{tmp_path / 'link.db'}"),
        (f"sqlite:///{database}", f"sqlite:///{tmp_path}/./queueopt.db"),
        (PG_URL.partition("?")[0], PG_URL.partition("?")[0] + "?schema=public"),
    ]
    for first, second in spellings:
        with engine_lock(first), pytest.raises(StoreInUse):
            with engine_lock(second):
                pass


def test_the_memory_store_needs_no_lock() -> None:
    with engine_lock("memory://"), engine_lock("memory://"):
        pass


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite://", "expected sqlite:///path/to/file.db"),
        ("sqlite:///x.db?durability=sometimes", "durability: expected 'normal' or 'strict'"),
        ("postgresql://localhost/test?schema=Drop Table", "schema: expected a lower-case identifier"),
        ("mysql://localhost/test", "unsupported store URL scheme 'mysql'"),
        ("postgresql://[::1", "not a URL: Invalid IPv6 URL"),
        ("postgresql://localhost/test?applicationname=x", 'invalid URI query parameter: "applicationname"'),
        # Found by a probe: a misspelt or repeated option was dropped, and the store ran on the default.
        ("sqlite:///x.db?durablity=strict", "unknown SQLite option 'durablity': the only one is 'durability'"),
        ("sqlite:///x.db?durability=strict&durability=normal", "option 'durability' is given more than once"),
        ("postgresql://localhost/test?schema=a&schema=b", "option 'schema' is given more than once"),
        ("memory://anything", "expected memory:// with nothing after it"),
        ("memory://?durability=strict", "expected memory:// with nothing after it"),
    ],
)
def test_a_bad_store_url_says_why(url: str, reason: str) -> None:
    for attempt in (parse_store_url, open_store, lambda url: engine_lock(url).__enter__()):
        with pytest.raises(InvalidInput) as refused:
            attempt(url)
        assert refused.value.field == "database_url"
        assert reason in refused.value.message


def test_a_parameter_libpq_refuses_is_the_urls_fault_in_one_line() -> None:
    """Found by a review: psycopg's ProgrammingError at the first connection reached `serve` as a traceback."""
    url = "postgresql://postgres@127.0.0.1/test?connect_timeout=ten"
    for attempt in (open_store, lambda url: engine_lock(url).__enter__()):
        with pytest.raises(InvalidInput) as refused:
            attempt(url)
        assert (refused.value.field, refused.value.message) == ("database_url", "bad value for connect_timeout: 'ten'")


def test_an_unreachable_store_says_so_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable) as refused:
        with engine_lock("postgresql://postgres@127.0.0.1:1/test"):
            pass
    assert "cannot reach PostgreSQL" in refused.value.message and "\n" not in refused.value.message
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreUnavailable) as refused:
        open_store(f"sqlite:///{tmp_path / 'file' / 'under_a_file.db'}")
    assert refused.value.field == "database_url"


def test_a_holder_learns_when_its_lock_is_gone_while_it_lives(store_url: str) -> None:
    """PostgreSQL ends the holding session (a restart, an operator), or someone removes the lock file: another engine
    could now start on the store, which the holder must find out."""
    with engine_lock(store_url) as held:
        assert held.lost() is None
        if store_url.startswith("sqlite"):
            lock_file = Path(parse_store_url(store_url).path + ".lock")
            lock_file.unlink()
            assert "was removed" in (held.lost() or "")
            lock_file.write_text("someone else\n")
            assert "was replaced" in (held.lost() or "")
        else:
            pid = held.connection.info.backend_pid  # type: ignore[attr-defined]
            with psycopg.connect(PG_URL, autocommit=True) as operator:
                operator.execute("SELECT pg_terminate_backend(%s)", (pid,))
            assert "PostgreSQL session holding the lock" in (held.lost() or "")
            with engine_lock(store_url):
                pass  # indeed another engine could start


def test_a_standby_locks_only_the_lock_file_its_path_names_now(tmp_path: Path) -> None:
    """The lock file was removed while an engine held it and a new engine locked a new one: a standby that had the
    old file open must wait for the new engine, not take the old file's lock when the old engine ends."""
    url = f"sqlite:///{tmp_path / 'queueopt.db'}"
    stop, took_over = threading.Event(), threading.Event()

    def standby() -> None:
        with engine_lock(url, wait=True, stop=stop):
            took_over.set()
            stop.wait()

    old_engine, new_engine = ExitStack(), ExitStack()
    old_engine.enter_context(engine_lock(url))
    waiting = threading.Thread(target=standby)
    waiting.start()
    try:
        time.sleep(0.3)
        (tmp_path / "queueopt.db.lock").unlink()
        new_engine.enter_context(engine_lock(url))
        old_engine.close()
        time.sleep(0.6)
        assert not took_over.is_set(), "the standby took the lock of a removed file while another engine served"
        new_engine.close()
        assert took_over.wait(5)
    finally:
        stop.set()
        waiting.join(timeout=5)
        old_engine.close()
        new_engine.close()
