"""A standby in-process: what it answers while the serving engine cannot be reached, and its take-over when the
store's engine lock comes free. Passing requests to a live engine over TCP is `test_serve.py`'s."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack

import anyio
import pytest
from fastapi import FastAPI
from tests.service.conftest import Client, bearer, profile

from queueopt.errors import StoreInUse
from queueopt.service.app import create_app
from queueopt.service.forward import ServingAddress, _relayed_request_headers
from queueopt.service.settings import Settings
from queueopt.store import open_store
from queueopt.store.engine_lock import engine_lock

Serve = Callable[[FastAPI], AbstractContextManager[Client]]
DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens there


def test_without_a_reachable_engine_a_standby_answers_503_with_retry_after_and_is_not_ready(
    settings: Settings, serve: Serve
) -> None:
    standby = settings.model_copy(update={"standby": True})
    with engine_lock(settings.database_url), serve(create_app(standby)) as client:
        response = client.get("/v1/queues", headers=bearer("admin"))
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert (
            response.json()["detail"][0]["reason"] == "standby: no engine has announced that it serves this store yet"
        )
        store = open_store(settings.database_url)
        try:
            store.claim_serving(DEAD, 0.0)
        finally:
            store.close()
        time.sleep(1.1)  # the standby reads the address at most once a second
        response = client.post("/v1/items", json={"items": []}, headers=bearer("ingest"))
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert f"at {DEAD} did not answer" in response.json()["detail"][0]["reason"]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and f"at {DEAD} does not answer" in ready.json()["detail"][0]["reason"]
        assert client.get("/healthz").status_code == 200
    # Leaving the block stopped the standby while it still waited: it gave up the wait and never took the store.


def test_a_standby_serves_from_its_own_engine_once_the_lock_comes_free(settings: Settings, serve: Serve) -> None:
    standby = settings.model_copy(update={"standby": True})
    serving_engine = ExitStack()
    serving_engine.enter_context(engine_lock(settings.database_url))
    with serving_engine, serve(create_app(standby)) as client:
        assert client.get("/v1/queues", headers=bearer("admin")).status_code == 503
        serving_engine.close()  # the serving engine stops, and its lock goes with it
        for _ in range(100):
            answer = client.put("/v1/moderators/m1", json=profile("m1"), headers=bearer("admin"))
            if answer.status_code != 503:
                break
            time.sleep(0.05)
        assert answer.status_code == 200, answer.text
        assert client.get("/readyz").status_code == 200
        with pytest.raises(StoreInUse), engine_lock(settings.database_url):
            pass
    with engine_lock(settings.database_url):
        pass  # and the standby let it go when it stopped


def test_a_standby_whose_store_connection_fails_keeps_the_last_address_and_connects_again(settings: Settings) -> None:
    """A database restart ends the standby's own connection too: it answers from the address it last read, and
    reads the store on a new connection next time, instead of failing every request from then on."""
    store = open_store(settings.database_url)
    try:
        store.claim_serving("http://10.0.0.1:8000", 0.0)
    finally:
        store.close()
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
        for _ in range(100):
            if client.get("/v1/queues", headers=bearer("admin")).status_code != 503:
                break
            time.sleep(0.05)
        text = client.get("/metrics", headers=bearer("metrics")).text
        assert "queueopt_serving 1.0" in text and "queueopt_queue_depth{" in text
        assert 'route="/v1/queues",status="200"' in text and 'route="/v1/queues",status="503"' not in text
