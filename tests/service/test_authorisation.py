"""Every route x every caller, with the exact status. Callers: no token, an unknown token, ingest, admin, the
moderator the route is about (`own`, m1), another moderator (`other`, m2) and a metrics scraper. Each cell gets
fresh state, so a cell's answer never depends on the cell before it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

CALLERS = ("none", "unknown", "ingest", "admin", "own", "other", "metrics")


@dataclass(frozen=True)
class Route:
    method: str
    path: Callable[[dict[str, Any]], str]
    body: Callable[[dict[str, Any]], dict[str, Any] | None]
    expected: tuple[int, int, int, int, int, int, int]


def _none(_: dict[str, Any]) -> None:
    return None


def _lease(task: dict[str, Any]) -> dict[str, Any]:
    return {"lease_token": task["lease_token"]}


ROUTES = {
    "submit": Route(
        "POST", lambda t: "/v1/items", lambda t: {"items": [t["new_item"]]}, (401, 401, 202, 202, 403, 403, 403)
    ),
    "cancel_item": Route(
        "POST", lambda t: f"/v1/items/{t['queued_item_id']}/cancel", _none, (401, 401, 200, 200, 403, 403, 403)
    ),
    "get_item": Route("GET", lambda t: f"/v1/items/{t['item_id']}", _none, (401, 401, 200, 200, 403, 403, 403)),
    "queues": Route("GET", lambda t: "/v1/queues", _none, (401, 401, 403, 200, 403, 403, 403)),
    "put_moderator": Route(
        "PUT", lambda t: "/v1/moderators/m1", lambda t: t["profile"], (401, 401, 403, 200, 403, 403, 403)
    ),
    "get_moderator": Route("GET", lambda t: "/v1/moderators/m1", _none, (401, 401, 403, 200, 200, 403, 403)),
    "status": Route(
        "POST",
        lambda t: "/v1/moderators/m1/status",
        lambda t: {"status": "available"},
        (401, 401, 403, 200, 200, 403, 403),
    ),
    "next": Route("POST", lambda t: "/v1/moderators/m1/next", _none, (401, 401, 403, 403, 200, 403, 403)),
    "decision": Route(
        "POST",
        lambda t: f"/v1/tasks/{t['task_id']}/decision",
        lambda t: _lease(t) | {"verdict": "violating", "policy": "hate"},
        (401, 401, 403, 403, 200, 409, 403),
    ),
    "release": Route(
        "POST", lambda t: f"/v1/tasks/{t['task_id']}/release", _lease, (401, 401, 403, 403, 200, 409, 403)
    ),
    "skip": Route(
        "POST",
        lambda t: f"/v1/tasks/{t['task_id']}/skip",
        lambda t: _lease(t) | {"reason": "conflict of interest"},
        (401, 401, 403, 403, 200, 409, 403),
    ),
    "extend": Route(
        "POST",
        lambda t: f"/v1/tasks/{t['task_id']}/extend",
        lambda t: _lease(t) | {"seconds": 300},
        (401, 401, 403, 403, 200, 409, 403),
    ),
    "get_task": Route("GET", lambda t: f"/v1/tasks/{t['task_id']}", _none, (401, 401, 403, 200, 403, 403, 403)),
    "assign": Route(
        "POST",
        lambda t: f"/v1/tasks/{t['queued_task_id']}/assign",
        lambda t: {"moderator_id": "m2"},
        (401, 401, 403, 200, 403, 403, 403),
    ),
    "audit": Route("GET", lambda t: "/v1/audit", _none, (401, 401, 403, 200, 403, 403, 403)),
    "healthz": Route("GET", lambda t: "/healthz", _none, (200, 200, 200, 200, 200, 200, 200)),
    "readyz": Route("GET", lambda t: "/readyz", _none, (200, 200, 200, 200, 200, 200, 200)),
    "metrics": Route("GET", lambda t: "/metrics", _none, (401, 401, 403, 200, 403, 403, 200)),
}


def _headers(api: Any, caller: str) -> dict[str, str]:
    if caller == "none":
        return {}
    if caller == "unknown":
        return {"Authorization": "Bearer not-a-known-token"}
    return dict(api.bearer({"own": "m1", "other": "m2"}.get(caller, caller)))


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_status_for_every_route_and_caller(api: Any, name: str, caller: str) -> None:
    route = ROUTES[name]
    held = api.lease("m1")
    (queued,) = api.submit(api.text_item())
    state = {
        "task_id": held["task_id"],
        "item_id": held["item_id"],
        "lease_token": held["lease_token"],
        "queued_task_id": queued["task_id"],
        "queued_item_id": queued["id"],
        "new_item": api.text_item(),
        "profile": api.profile("m1", capacity=2),
    }
    response = api.client.request(
        route.method, route.path(state), json=route.body(state), headers=_headers(api, caller)
    )
    assert response.status_code == route.expected[CALLERS.index(caller)], response.text
    if response.status_code >= 400:
        (problem,) = response.json()["detail"]
        assert problem["reason"]


def test_unauthorised_answers_name_the_scheme(api: Any) -> None:
    response = api.client.get("/v1/queues")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"][0]["field"] == "authorization"


@pytest.mark.parametrize(
    ("caller", "field"), [("admin", "authorization"), ("ingest", "authorization"), ("m2", "moderator_id")]
)
def test_a_refused_work_pull_names_what_is_wrong(api: Any, caller: str, field: str) -> None:
    """A role that never pulls work is told its token is the problem; another moderator, that the id is not theirs."""
    response = api.client.post("/v1/moderators/m1/next", headers=api.bearer(caller))
    assert response.status_code == 403
    assert response.json()["detail"][0]["field"] == field


def test_a_token_never_appears_in_an_answer(api: Any) -> None:
    response = api.client.get("/v1/queues", headers={"Authorization": "Bearer guessed-token-123"})
    assert "guessed-token-123" not in response.text
