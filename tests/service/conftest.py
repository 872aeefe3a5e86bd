"""The real app on a temporary SQLite store, driven over HTTP with httpx.

Starlette's TestClient warns about httpx (and warnings are errors here), so `Client` does what it does: the app and
its lifespan run on an event loop in a background thread (an anyio blocking portal) and each call is an
`httpx.AsyncClient` request over `ASGITransport`, sent from the test's thread. Several test threads may call at
once, which the long-poll tests rely on.

The assigner's tick is a minute, so batches run only when a request wakes it (a moderator asking for work) and a
test decides who holds what.

Tokens: one admin, one ingest, and moderators `m1`, `m2` (English, US, text/photo/video, no clearance) and `m3`
(Spanish only, so never eligible for the English-only queues).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
from tests.conftest import PG_URL

from queueopt.service.app import create_app
from queueopt.service.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TOKENS = {"admin": "admin-secret-token", "ingest": "ingest-secret-token", "metrics": "metrics-secret-token"}
MODERATORS = {"m1": "m1-secret-token", "m2": "m2-secret-token", "m3": "m3-secret-token"}
_ids = itertools.count()


def bearer(who: str) -> dict[str, str]:
    token = TOKENS.get(who) or MODERATORS[who]
    return {"Authorization": f"Bearer {token}"}


def profile(moderator_id: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": moderator_id,
        "regions": ["us"],
        "languages": {"en": 1.0},
        "modalities": ["text", "photo", "video"],
        "policy_areas": ["hate", "harassment", "violence", "nudity", "spam"],
        "capacity": 1,
    }
    return base | changes


def text_item(item_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """An English text item with a strong hate signal: routed to review in `text_high_en`."""
    item: dict[str, Any] = {
        "id": item_id or f"item-{next(_ids)}",
        "modality": "text",
        "language": "en",
        "region": "us",
        "signals": {"hate": 0.8},
    }
    return item | changes


def write_tokens(path: Path) -> Path:
    lines = []
    for role, token in TOKENS.items():
        lines += ["[[tokens]]", f'role = "{role}"', f'token = "{token}"']
    for moderator_id, token in MODERATORS.items():
        lines += ["[[tokens]]", 'role = "moderator"', f'moderator_id = "{moderator_id}"', f'token = "{token}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def durable_settings(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    """`settings` on each durable store, for tests that restart the app: the SQLite file, or a PostgreSQL schema of
    the test's own, dropped afterwards."""
    if request.param == "sqlite":
        yield settings
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield settings.model_copy(update={"database_url": f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"})
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'var' / 'queueopt.db'}",
        config=REPO / "examples" / "ops.toml",
        tokens_file=write_tokens(tmp_path / "tokens.toml"),
        tick_s=60.0,
    )


class Client:
    """A synchronous face on an `httpx.AsyncClient` that talks to the app in the portal's event loop."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def run(self, call: Callable[[], Awaitable[None]]) -> None:
        """`call` on the app's event loop, for what httpx cannot send (a client that goes away mid-body)."""
        self._portal.call(call)


@contextmanager
def running(app: FastAPI) -> Iterator[Client]:
    """The app with its lifespan started (store open, assigner running) until the block ends."""
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(app.router.lifespan_context(app)):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        try:
            yield Client(portal, client)
        finally:
            portal.call(client.aclose)


@pytest.fixture
def serve() -> Callable[[FastAPI], AbstractContextManager[Client]]:
    """`running`, for tests that build their own app."""
    return running


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[Client]:
    """The app with moderators m1, m2 (eligible for English text) and m3 (Spanish only) registered and available."""
    with running(app) as client:
        client.put("/v1/moderators/m1", json=profile("m1"), headers=bearer("admin")).raise_for_status()
        client.put("/v1/moderators/m2", json=profile("m2"), headers=bearer("admin")).raise_for_status()
        client.put(
            "/v1/moderators/m3", json=profile("m3", languages={"es": 1.0}), headers=bearer("admin")
        ).raise_for_status()
        yield client


class Api:
    """The client plus the helpers every service test uses (conftest functions cannot be imported by tests)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    bearer = staticmethod(bearer)
    profile = staticmethod(profile)
    text_item = staticmethod(text_item)

    def submit(self, *items: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.client.post("/v1/items", json={"items": list(items)}, headers=bearer("ingest"))
        assert response.status_code == 202, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    def lease(self, moderator_id: str, item: dict[str, Any] | None = None) -> dict[str, Any]:
        """Submit an item and have an admin lease it to `moderator_id`; returns the leased task."""
        (result,) = self.submit(item or text_item())
        response = self.client.post(
            f"/v1/tasks/{result['task_id']}/assign", json={"moderator_id": moderator_id}, headers=bearer("admin")
        )
        assert response.status_code == 200, response.text
        task: dict[str, Any] = response.json()
        return task

    def next(self, moderator_id: str, wait_s: float = 0.0) -> dict[str, Any] | None:
        response = self.client.post(
            f"/v1/moderators/{moderator_id}/next", params={"wait_s": wait_s}, headers=bearer(moderator_id)
        )
        assert response.status_code in (200, 204), response.text
        return None if response.status_code == 204 else dict(response.json())


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def api_for() -> Callable[[Client], Api]:
    """The helpers around a client of an app a test built itself."""
    return Api
