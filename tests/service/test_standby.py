"""A standby in-process: what it answers while the serving engine cannot be reached, and its take-over when the
store's engine lock comes free. Passing requests to a live engine over TCP is `test_serve.py`'s."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from tests.service.conftest import Client, bearer, profile
from tests.waits import wait_until

from queueopt.engine import Engine
from queueopt.errors import StoreInUse, StoreUnavailable
from queueopt.service import forward, lock_guard, serving
from queueopt.service import standby as standby_module
from queueopt.service.app import create_app
from queueopt.service.forward import (
    FORWARDED,
    READY_TIMEOUT_S,
    REFRESH_S,
    TWICE,
    ServingAddress,
    _relayed_request_headers,
    _requested_wait,
)
from queueopt.service.lock_guard import CHECK_S
from queueopt.service.serving import Serving
from queueopt.service.settings import Settings
from queueopt.service.standby import RETRY_S
from queueopt.store import Store, open_store
from queueopt.store.engine_lock import HeldLock, engine_lock
from queueopt.store.sql import SqlStore
from queueopt.store.urls import parse_store_url

Serve = Callable[[FastAPI], AbstractContextManager[Client]]
DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens there


def test_without_a_reachable_engine_a_standby_answers_503_with_retry_after_and_is_not_ready(
    settings: Settings, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    standby = settings.model_copy(update={"standby": True})
    with engine_lock(settings.database_url), serve(create_app(standby)) as client:
        response = client.get("/v1/queues", headers=bearer("admin"))
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert response.json()["detail"][0]["reason"] == (
            "standby: no engine has announced that it serves this store yet; the request was not applied; retry"
        )
        _announce(settings, DEAD)
        time.sleep(1.1)  # the standby reads the address at most once a second
        response = client.post("/v1/items", json={"items": []}, headers=bearer("ingest"))
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        # The address goes to the log, not to a client no token was checked for (found by a review). A refused
        # connection cannot have reached the engine: the client is told that retrying is safe.
        assert response.json()["detail"][0]["reason"] == (
            "standby: the engine serving this store did not answer; the request was not applied; retry"
        )
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["detail"][0]["reason"] == "standby: the engine serving this store does not answer"
        assert DEAD not in response.text + ready.text
        assert f"at {DEAD} did not answer" in caplog.text and f"at {DEAD} does not answer" in caplog.text
        assert client.get("/healthz").status_code == 200
    # Leaving the block stopped the standby while it still waited: it gave up the wait and never took the store.


def test_a_readiness_probe_a_standby_passed_on_is_not_passed_on_again(settings: Settings, serve: Serve) -> None:
    """A stale announced address may name a standby: the probe it was passed is answered, not sent round a loop."""
    standby = settings.model_copy(update={"standby": True})
    with engine_lock(settings.database_url), serve(create_app(standby)) as client:
        ready = client.get("/readyz", headers={FORWARDED.decode(): "1"})
    assert ready.status_code == 503 and ready.json()["detail"][0]["reason"] == TWICE


def test_a_standby_serves_from_its_own_engine_once_the_lock_comes_free(settings: Settings, serve: Serve) -> None:
    standby = settings.model_copy(update={"standby": True})
    serving_engine = ExitStack()
    serving_engine.enter_context(engine_lock(settings.database_url))
    with serving_engine, serve(create_app(standby)) as client:
        assert client.get("/v1/queues", headers=bearer("admin")).status_code == 503
        serving_engine.close()  # the serving engine stops, and its lock goes with it
        answers: list[Any] = []

        def answered() -> bool:
            answers.append(client.put("/v1/moderators/m1", json=profile("m1"), headers=bearer("admin")))
            return bool(answers[-1].status_code != 503)

        wait_until(answered, "the standby did not take over")
        assert answers[-1].status_code == 200, answers[-1].text
        assert client.get("/readyz").status_code == 200
        with pytest.raises(StoreInUse), engine_lock(settings.database_url):
            pass
    with engine_lock(settings.database_url):
        pass  # and the standby let it go when it stopped


def test_a_standby_whose_store_connection_fails_keeps_the_last_address_and_connects_again(settings: Settings) -> None:
    """A database restart ends the standby's own connection too: it answers from the address it last read, and
    reads the store on a new connection next time, instead of failing every request from then on."""
    _announce(settings, "http://10.0.0.1:8000")
    address = ServingAddress(settings.database_url)

    async def scenario() -> list[str | None]:
        seen = [await address.get()]
        assert address._store is not None
        address._store.close()  # the connection dies under it
        address.forget()
        seen.append(await address.get())
        address.forget()
        seen.append(await address.get())
        assert address._store is not None and address._store.ping()
        await address.close()
        return seen

    assert anyio.run(scenario) == ["http://10.0.0.1:8000"] * 3


def test_a_standby_passes_on_one_host_header_and_none_of_the_connections_own() -> None:
    received = [
        (b"host", b"a"),
        (b"host", b"b"),
        (b"connection", b"keep-alive"),
        (b"authorization", b"Bearer x"),
        (b"content-length", b"12"),
    ]
    assert _relayed_request_headers(received) == [
        (b"host", b"a"),
        (b"authorization", b"Bearer x"),
        (b"x-queueopt-forwarded", b"1"),
    ]


def test_a_standby_answers_metrics_itself_counting_what_it_passed_on_apart(settings: Settings, serve: Serve) -> None:
    """Its own metrics, not the serving engine's: a scrape of every replica counts each queue once, and the requests
    it passed on are not counted again by route when it takes over (found by a probe)."""
    standby = settings.model_copy(update={"standby": True})
    serving_engine = ExitStack()
    serving_engine.enter_context(engine_lock(settings.database_url))
    with serving_engine, serve(create_app(standby)) as client:
        assert client.get("/v1/queues", headers=bearer("admin")).status_code == 503
        assert client.get("/metrics").status_code == 401
        text = client.get("/metrics", headers=bearer("metrics")).text
        assert "queueopt_serving 0.0" in text
        assert 'queueopt_passed_on_request_duration_seconds_count{method="GET",status="503"} 1.0' in text
        assert "queueopt_queue_depth" not in text and "(unmatched)" not in text
        serving_engine.close()
        _wait_until_serving(client)
        text = client.get("/metrics", headers=bearer("metrics")).text
        assert "queueopt_serving 1.0" in text and "queueopt_queue_depth{" in text
        assert 'route="/v1/queues",status="200"' in text and 'route="/v1/queues",status="503"' not in text


def test_a_standby_answers_503_when_a_hung_engine_overruns_the_timeout_a_long_poll_its_wait_on_top(
    settings: Settings, serve: Serve
) -> None:
    """A stopped serving process (SIGSTOP) still completes TCP handshakes but never answers: each request passed to it
    used to hold its client for 60 s (found by a probe)."""
    standby = settings.model_copy(update={"standby": True, "forward_timeout_s": 0.5})
    with _hung() as address, engine_lock(settings.database_url), serve(create_app(standby)) as client:
        _announce(settings, address)
        started = time.monotonic()
        response = client.get("/v1/queues", headers=bearer("admin"))
        took = time.monotonic() - started
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert response.json()["detail"][0]["reason"] == (
            "standby: the engine serving this store did not answer within 0.5 s; "
            "it may have been applied: check before retrying"
        )
        assert 0.5 <= took < 3.0
        started = time.monotonic()
        response = client.post("/v1/moderators/m1/next", params={"wait_s": 1.5}, headers=bearer("m1"))
        took = time.monotonic() - started
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert "did not answer within 2 s" in response.json()["detail"][0]["reason"]
        assert 2.0 <= took < 4.5


@pytest.mark.parametrize(
    ("query", "wait"),
    [
        (b"", 0.0),
        (b"wait_s=5", 5.0),
        (b"wait_s=99", 30.0),
        (b"wait_s=-1", 0.0),
        (b"wait_s=nan", 0.0),
        (b"wait_s=soon&wait_s=2", 2.0),
        (b"other=9", 0.0),
    ],
)
def test_a_long_poll_is_given_its_requested_wait_as_far_as_the_engine_allows(query: bytes, wait: float) -> None:
    assert _requested_wait(query) == wait


def test_callers_that_find_the_address_due_together_wait_for_one_read(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a freshly started standby, 11 of 20 concurrent requests found no address yet and answered 503 while the
    first one read it (found by a probe)."""
    _announce(settings, "http://10.0.0.1:8000")
    address = ServingAddress(settings.database_url)
    reads = _counted_reads(monkeypatch, pause_s=0.2)

    async def scenario() -> list[str | None]:
        seen: list[str | None] = []

        async def one() -> None:
            seen.append(await address.get())

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(one)
        await address.close()
        return seen

    assert anyio.run(scenario) == ["http://10.0.0.1:8000"] * 20
    assert len(reads) == 1


def test_the_address_is_read_again_after_two_503s_in_a_row_not_after_one(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nor after other failures: a 500 is the engine's answer (a bug), not a sign that another engine serves now."""
    _announce(settings, "http://10.0.0.1:8000")
    address = ServingAddress(settings.database_url, clock=lambda: 0.0)  # never due by time alone
    reads = _counted_reads(monkeypatch)

    async def scenario() -> list[int]:
        counts = []
        for status in (None, 503, 200, 503, 503, 503, 500, 502, 500):
            if status is not None:
                address.answered(status)
            await address.get()
            counts.append(len(reads))
        await address.close()
        return counts

    assert anyio.run(scenario) == [1, 1, 1, 1, 2, 2, 2, 2, 2]


def test_concurrent_requests_on_a_fresh_standby_all_reach_the_serving_engine(
    settings: Settings, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    standby = settings.model_copy(update={"standby": True})
    reads = _counted_reads(monkeypatch, pause_s=0.2)
    with _upstream(200) as (address, asked), engine_lock(settings.database_url):
        _announce(settings, address)
        with serve(create_app(standby)) as client, ThreadPoolExecutor(20) as pool:
            statuses = list(
                pool.map(lambda _: client.get("/v1/queues", headers=bearer("admin")).status_code, range(20))
            )
    assert statuses == [200] * 20
    assert asked == ["/v1/queues"] * 20
    assert len(reads) == 1


@pytest.mark.parametrize("path", ["/v1/queues", "/readyz"])
def test_a_standby_passes_503s_on_and_reads_the_address_again_after_the_second_in_a_row(
    settings: Settings, serve: Serve, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Its readiness probes count too: a load balancer's probes may be all that reaches a standby. Reads by time
    alone are an hour apart here."""
    monkeypatch.setattr(forward, "REFRESH_S", 3600.0)
    standby = settings.model_copy(update={"standby": True})
    reads = _counted_reads(monkeypatch)
    with _upstream(503) as (address, asked), engine_lock(settings.database_url):
        _announce(settings, address)
        with serve(create_app(standby)) as client:
            statuses, read = [], []
            for _ in range(3):
                statuses.append(client.get(path, headers=bearer("admin")).status_code)
                read.append(len(reads))
    assert statuses == [503] * 3 and asked == [path] * 3
    assert read == [1, 1, 2]


def _announce(settings: Settings, address: str) -> None:
    """What a serving engine writes as it starts: the address standbys pass requests to."""
    store = open_store(settings.database_url)
    try:
        store.claim_serving(address, 0.0)
    finally:
        store.close()


def _counted_reads(monkeypatch: pytest.MonkeyPatch, pause_s: float = 0.0) -> list[float]:
    """Each read of the store a `ServingAddress` makes, by when it began; each takes `pause_s` longer than it
    would, as on a loaded database, so that concurrent callers find it under way."""
    reads: list[float] = []
    read = ServingAddress._read

    def counted(self: ServingAddress) -> str | None:
        reads.append(time.monotonic())
        time.sleep(pause_s)
        return read(self)

    monkeypatch.setattr(ServingAddress, "_read", counted)
    return reads


@contextmanager
def _hung() -> Iterator[str]:
    """The address of a serving process that has stopped (SIGSTOP): the kernel completes the TCP handshake (the
    socket listens), but nothing reads the request or answers it."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(64)
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"


@contextmanager
def _upstream(status: int) -> Iterator[tuple[str, list[str]]]:
    """A stand-in serving engine that answers every request `status` with an empty JSON object; yields its address
    and the paths it was asked for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads `asked`."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_standby_leaves_the_schema_of_the_store_it_waits_on_to_the_engine_that_takes_it_over(
    settings: Settings, tmp_path: Path
) -> None:
    """Found by a docs review: a standby of a newer release migrated the store as it started, under the older engine
    serving it, which never reads the schema version again. Neither its check before serving nor its reads of the
    serving engine's address migrate now; taking the store over as its serving engine does."""
    from tests.store.test_contract import _database_at_version

    from queueopt.service.commands import _check_store
    from queueopt.store import SCHEMA_VERSION

    older = SCHEMA_VERSION - 1
    with _database_at_version("sqlite", tmp_path, older, ()) as url:
        standby = settings.model_copy(update={"database_url": url})
        _check_store(standby, holding=False)
        address = ServingAddress(url)

        async def read() -> str | None:
            try:
                return await address.get()
            finally:
                await address.close()

        assert anyio.run(read) is None
        store = open_store(url, migrate=False)
        assert store.schema_version() == older
        store.close()
        _check_store(standby, holding=True)
        store = open_store(url, migrate=False)
        assert store.schema_version() == SCHEMA_VERSION
        store.close()


def test_a_failed_read_of_the_address_counts_as_a_read(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the database is down each read may wait out a connect timeout: a read that failed must hold until the
    next is due like one that succeeded, or every request through the standby would try the store again and wait on
    it."""
    now = [0.0]
    address = ServingAddress(settings.database_url, clock=lambda: now[0])
    reads: list[float] = []

    def failing(self: ServingAddress) -> str | None:
        reads.append(now[0])
        raise StoreUnavailable("the store failed (PostgreSQL: connection refused)")

    monkeypatch.setattr(ServingAddress, "_read", failing)

    async def scenario() -> list[str | None]:
        seen = [await address.get(), await address.get()]
        now[0] = REFRESH_S
        seen.append(await address.get())
        await address.close()
        return seen

    assert anyio.run(scenario) == [None, None, None]
    assert reads == [0.0, REFRESH_S]


def test_an_engine_that_does_not_answer_has_its_address_read_again_at_once(
    settings: Settings, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The serving engine crashed and a successor announced itself: the next request, or readiness probe, after one
    found the old address dead goes to the successor, not to the dead address until the periodic read comes round
    (here an hour away)."""
    monkeypatch.setattr(forward, "REFRESH_S", 3600.0)
    standby = settings.model_copy(update={"standby": True})
    _announce(settings, DEAD)
    with engine_lock(settings.database_url), serve(create_app(standby)) as client:
        assert client.get("/v1/queues", headers=bearer("admin")).status_code == 503
        with _upstream(200) as (address, asked):
            _announce(settings, address)
            assert client.get("/v1/queues", headers=bearer("admin")).status_code == 200
        assert asked == ["/v1/queues"]
        # That engine is gone too (its port closed): a readiness probe finds it so, and the next probe its successor.
        assert client.get("/readyz").status_code == 503
        with _upstream(200) as (address, asked):
            _announce(settings, address)
            assert client.get("/readyz").status_code == 200
        assert asked == ["/readyz"]


def test_a_standby_passes_the_query_on_as_sent(settings: Settings, serve: Serve) -> None:
    """The query carries what a request asks (an audit page's start, a long-poll's wait): without it a long-poll
    through a standby would be answered at once, an audit export given from its beginning."""
    standby = settings.model_copy(update={"standby": True})
    with _upstream(200) as (address, asked), engine_lock(settings.database_url):
        _announce(settings, address)
        with serve(create_app(standby)) as client:
            assert client.get("/v1/audit?since=5&limit=2&next=a%2Fb", headers=bearer("admin")).status_code == 200
    assert asked == ["/v1/audit?since=5&limit=2&next=a%2Fb"]


def test_a_readiness_probe_of_a_hung_engine_is_answered_within_its_own_timeout(
    settings: Settings, serve: Serve
) -> None:
    """A load balancer's probe gives up after a few seconds: a standby checks a hung engine's readiness for
    `READY_TIMEOUT_S`, not for the far longer time it lets a request passed on take
    (`forward_timeout_s`)."""
    standby = settings.model_copy(update={"standby": True, "forward_timeout_s": 40.0})
    with _hung() as address, engine_lock(settings.database_url), serve(create_app(standby)) as client:
        _announce(settings, address)
        started = time.monotonic()
        ready = client.get("/readyz")
        took = time.monotonic() - started
    assert ready.status_code == 503
    assert ready.json()["detail"][0]["reason"] == "standby: the engine serving this store does not answer"
    assert READY_TIMEOUT_S <= took < 30.0


def test_a_standby_starts_its_engine_only_twice_the_lock_check_after_the_lock_came_free(
    settings: Settings, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine whose lock went while it lives notices within `CHECK_S` and stops; until then it may still answer a
    lease it holds from memory, which no fence of the store sees. So a standby that takes the lock waits
    twice that long before its engine starts, not beside the engine still alive."""
    starts: list[float] = []
    start = Serving.start

    async def timed(self: Serving) -> None:
        starts.append(time.monotonic())
        await start(self)

    monkeypatch.setattr(Serving, "start", timed)
    standby = settings.model_copy(update={"standby": True})
    serving_engine = ExitStack()
    serving_engine.enter_context(engine_lock(settings.database_url))
    with serving_engine, serve(create_app(standby)) as client:
        freed = time.monotonic()
        serving_engine.close()
        _wait_until_serving(client)
    assert starts[0] - freed >= 2 * CHECK_S


def _wait_until_serving(client: Client) -> None:
    """Until the standby answers from its own engine."""
    wait_until(
        lambda: client.get("/v1/queues", headers=bearer("admin")).status_code != 503, "the standby did not take over"
    )


def test_a_take_over_that_fails_closes_what_it_opened_and_is_tried_again(
    settings: Settings, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store may fail at the moment of a take-over (a database restart): the standby closes the store its
    failed start opened, lets the lock go and tries again, rather than staying a standby with nobody serving, and
    without keeping a store connection open for each failed try."""
    failures = [StoreUnavailable("the store failed (PostgreSQL: the database system is starting up)")]

    def engine_once(*args: Any) -> Engine:
        if failures:
            raise failures.pop()
        return Engine(*args)

    opened: list[Store] = []
    closed: list[Store] = []
    real_close = SqlStore.close

    def tracked_open(url: str) -> Store:
        opened.append(open_store(url))
        return opened[-1]

    def tracked_close(self: SqlStore) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(serving, "Engine", engine_once)
    monkeypatch.setattr(serving, "open_store", tracked_open)
    monkeypatch.setattr(SqlStore, "close", tracked_close)
    standby = settings.model_copy(update={"standby": True})
    serving_engine = ExitStack()
    serving_engine.enter_context(engine_lock(settings.database_url))
    with serving_engine, serve(create_app(standby)) as client:
        serving_engine.close()
        _wait_until_serving(client)
        assert not failures and len(opened) == 2
        assert opened[0] in closed and opened[1] not in closed


def test_a_standby_that_cannot_try_the_lock_tries_again_a_second_later(
    settings: Settings, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trying the lock can fail at once, again and again (a lock file that cannot be opened, PostgreSQL refusing
    connections): the standby pauses `RETRY_S` between tries, not in a loop that fills the log
    and hammers the database."""
    database = Path(parse_store_url(settings.database_url).path)
    database.with_name(database.name + ".lock").mkdir(parents=True)  # not a file a lock can be taken on
    tries: list[float] = []

    def counted(url: str, **options: Any) -> AbstractContextManager[HeldLock]:
        tries.append(time.monotonic())
        return engine_lock(url, **options)

    monkeypatch.setattr(standby_module, "engine_lock", counted)
    standby = settings.model_copy(update={"standby": True})
    with serve(create_app(standby)) as client:
        wait_until(lambda: len(tries) >= 3, "the standby stopped trying the lock")
        assert client.get("/v1/queues", headers=bearer("admin")).status_code == 503
    assert min(later - earlier for earlier, later in itertools.pairwise(tries)) >= 0.9 * RETRY_S


def test_a_standby_has_let_the_lock_go_by_the_time_its_app_has_stopped(
    settings: Settings, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The standby's own thread holds the lock: stopping waits for it to let go, so whatever starts next on the
    store finds it free. Here that thread lets go half a second after it is told to stop, as on a loaded machine:
    the take-over test above, taking the lock a moment later, would pass without the wait while the thread was the
    quicker."""

    @contextmanager
    def slow(held: HeldLock) -> Iterator[None]:
        with lock_guard.guarding(held):
            yield
        time.sleep(0.5)

    monkeypatch.setattr(standby_module, "guarding", slow)
    standby = settings.model_copy(update={"standby": True})
    with serve(create_app(standby)) as client:
        _wait_until_serving(client)
    with engine_lock(settings.database_url):
        pass


def test_a_take_over_after_the_shutdown_began_starts_no_engine(settings: Settings, serve: Serve) -> None:
    """A standby's take-over may race the process's shutdown, which stops the engine first: a start after the stop
    must do nothing, or it would claim the store for a process on its way out with an engine nobody stops."""
    standby = settings.model_copy(update={"standby": True})
    app = create_app(standby)
    with engine_lock(settings.database_url), serve(app) as client:
        stopping: Serving = app.state.serving

        async def racing() -> None:
            await stopping.stop()
            await stopping.start()

        client.run(racing)
        assert getattr(app.state, "runtime", None) is None
        assert client.get("/v1/queues", headers=bearer("admin")).status_code == 503


def test_a_start_while_the_engine_serves_starts_no_second_one(settings: Settings, serve: Serve) -> None:
    """A standby tries its take-over again when the last try failed, and that failure may have come after its engine
    started (the store failing as the address was announced): the engine serving stays the one, not a second one
    rebuilt beside it while the first runs on with nobody to stop it."""
    app = create_app(settings)
    with serve(app) as client:
        runtime = app.state.runtime
        client.run(app.state.serving.start)
        assert app.state.runtime is runtime
