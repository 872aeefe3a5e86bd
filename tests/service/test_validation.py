"""What the service refuses, and how it says so: 413 for big bodies, 422 naming the field, nothing stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.service.conftest import bearer, profile, text_item

from queueopt.service.app import create_app
from queueopt.service.settings import Settings


def _problems(response: Any) -> list[tuple[str | None, str]]:
    return [(problem["field"], problem["reason"]) for problem in response.json()["detail"]]


def test_an_invalid_item_is_refused_with_its_field_path(api: Any) -> None:
    good, bad = api.text_item(), api.text_item(modality="hologram")
    response = api.client.post("/v1/items", json={"items": [good, bad]}, headers=api.bearer("ingest"))
    assert response.status_code == 422
    assert [field for field, _ in _problems(response)] == ["items.1.modality"]


def test_a_refused_batch_stores_nothing(api: Any) -> None:
    good, bad = api.text_item(), api.text_item(signals={"hate": 1.5})
    response = api.client.post("/v1/items", json={"items": [good, bad]}, headers=api.bearer("ingest"))
    assert response.status_code == 422
    assert _problems(response)[0][0] == "items.1.signals.hate"
    assert api.client.get(f"/v1/items/{good['id']}", headers=api.bearer("ingest")).status_code == 404


@pytest.mark.parametrize("source", ["appeal", "escalation"])
def test_an_appeal_without_a_content_hash_is_422_naming_the_field_and_stores_nothing(api: Any, source: str) -> None:
    good, bad = api.text_item(), api.text_item(source=source)
    response = api.client.post("/v1/items", json={"items": [good, bad]}, headers=api.bearer("ingest"))
    assert response.status_code == 422
    ((field, reason),) = _problems(response)
    assert field == "items.1.content_hash"
    assert reason.startswith("an appeal or escalation must carry the content_hash of the content it is about")
    assert api.client.get(f"/v1/items/{good['id']}", headers=api.bearer("ingest")).status_code == 404


def test_an_unknown_policy_area_in_signals_is_refused_by_the_engine(api: Any) -> None:
    good, bad = api.text_item(), api.text_item(signals={"gore": 0.5})
    response = api.client.post("/v1/items", json={"items": [good, bad]}, headers=api.bearer("ingest"))
    assert response.status_code == 422
    (field, reason) = _problems(response)[0]
    assert field is not None and field.startswith("items.1.signals")
    assert api.client.get(f"/v1/items/{good['id']}", headers=api.bearer("ingest")).status_code == 404


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b'{"y": [1, NaN]}', b"null"])
def test_an_attribute_that_is_not_a_finite_scalar_is_refused(api: Any, number: bytes) -> None:
    item = json.dumps(api.text_item(attributes={"score": "N"})).encode().replace(b'"N"', number)
    headers = api.bearer("ingest") | {"Content-Type": "application/json"}
    response = api.client.post("/v1/items", content=b'{"items": [' + item + b"]}", headers=headers)
    assert response.status_code == 422, response.text
    assert [field for field, _ in _problems(response)] == ["items.0.attributes.score"]


def test_one_id_for_two_different_items_in_a_batch_is_refused(api: Any) -> None:
    first = api.text_item()
    other = first | {"modality": "video", "signals": {"violence": 0.9}}
    response = api.client.post("/v1/items", json={"items": [first, other]}, headers=api.bearer("ingest"))
    assert response.status_code == 422
    assert [field for field, _ in _problems(response)] == ["items.1.id"]
    assert api.client.get(f"/v1/items/{first['id']}", headers=api.bearer("ingest")).status_code == 404


def test_one_stored_id_for_two_different_items_in_a_batch_is_refused(api: Any) -> None:
    """Found by a probe: the check ran only on ids not stored yet, so a batch naming a stored id twice, otherwise
    each time, was answered 202 with the stored result twice: one of the two items the pipeline sent was dropped
    without a word, whichever of them the stored one is."""
    first = api.text_item()
    api.submit(first)
    other = first | {"modality": "video", "signals": {"violence": 0.9}}
    response = api.client.post("/v1/items", json={"items": [first, other]}, headers=api.bearer("ingest"))
    assert response.status_code == 422
    assert _problems(response) == [("items.1.id", "the batch already has a different item with this id (items.0)")]
    assert api.submit(first, first) == api.submit(first) * 2


@pytest.mark.parametrize("item_id", [".", "..", "..."])
def test_an_id_of_dots_only_is_refused(api: Any, item_id: str) -> None:
    """Found by a probe: clients and proxies take `.` and `..` out of a URL path (RFC 3986), so a task with such an
    id was leased and then answered 405 on its decision, and its item could not be read."""
    response = api.client.post(
        "/v1/items", json={"items": [api.text_item(), api.text_item(item_id)]}, headers=api.bearer("ingest")
    )
    assert response.status_code == 422
    ((field, reason),) = _problems(response)
    assert field == "items.1.id" and reason.endswith("and not only '.'")
    queues = api.client.get("/v1/queues", headers=api.bearer("admin")).json()["queues"]
    assert sum(queue["depth"] for queue in queues) == 0, "the good item of the batch is not stored either"


@pytest.mark.parametrize("count", [0, 1001])
def test_batches_hold_one_to_a_thousand_items(api: Any, count: int) -> None:
    items = [api.text_item(f"bulk-{index}") for index in range(count)]
    response = api.client.post("/v1/items", json={"items": items}, headers=api.bearer("ingest"))
    assert response.status_code == 422
    assert _problems(response)[0][0] == "items"


def test_a_thousand_items_are_accepted(api: Any) -> None:
    items = [api.text_item(f"bulk-{index}") for index in range(1000)]
    assert len(api.submit(*items)) == 1000


def test_a_body_over_the_limit_is_413(api: Any) -> None:
    body = json.dumps({"items": [api.text_item(attributes={"blob": "x" * (1024 * 1024)})]})
    response = api.client.post(
        "/v1/items", content=body, headers=api.bearer("ingest") | {"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert _problems(response)[0][0] == "body"


def test_a_chunked_body_over_the_limit_is_413_without_a_declared_length(api: Any) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"items": [{"id": "x", "attributes": {"a": "'
        for _ in range(20):
            yield b"y" * 65536
        yield b'"}}]}'

    response = api.client.post(
        "/v1/items", content=chunks(), headers=api.bearer("ingest") | {"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_a_small_chunked_body_is_read_normally(api: Any) -> None:
    payload = json.dumps({"items": [api.text_item()]}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield payload[:10]
        yield payload[10:]

    response = api.client.post(
        "/v1/items", content=chunks(), headers=api.bearer("ingest") | {"Content-Type": "application/json"}
    )
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
@pytest.mark.parametrize(("over", "status"), [(0, 202), (1, 413)])
def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_413(
    settings: Settings, serve: Any, chunked: bool, over: int, status: int
) -> None:
    """The limit is the largest body accepted, with or without a declared length."""
    limit = 1024
    payload = json.dumps({"items": [text_item()]}).encode().ljust(limit + over)  # JSON allows trailing spaces

    async def chunks() -> AsyncIterator[bytes]:
        yield payload[: limit // 2]
        yield payload[limit // 2 :]

    headers = bearer("ingest") | {"Content-Type": "application/json"}
    with serve(create_app(settings.model_copy(update={"max_body_bytes": limit}))) as client:
        response = client.post("/v1/items", content=chunks() if chunked else payload, headers=headers)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("path", "role"),
    [("/v1/items", "ingest"), ("/v1/moderators/m-1/status", "admin"), ("/v1/tasks/t-1/extend", "m1")],
)
def test_malformed_json_is_422_naming_the_body(api: Any, path: str, role: str) -> None:
    headers = api.bearer(role) | {"Content-Type": "application/json"}
    response = api.client.post(path, content=b'{"status": ', headers=headers)
    assert response.status_code == 422
    ((field, reason),) = _problems(response)
    assert field == "body" and reason.startswith("invalid JSON: ") and "body" not in reason


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "text/vnd.queueopt+json"]
)
def test_a_body_that_is_not_declared_json_is_422_and_stores_nothing(api: Any, content_type: str | None) -> None:
    item = api.text_item()
    headers = api.bearer("ingest") | ({"Content-Type": content_type} if content_type else {})
    response = api.client.post("/v1/items", content=json.dumps({"items": [item]}).encode(), headers=headers)
    assert response.status_code == 422
    assert _problems(response)[0][0] == "body"
    assert api.client.get(f"/v1/items/{item['id']}", headers=api.bearer("ingest")).status_code == 404


@pytest.mark.parametrize(
    ("path", "who", "reason"),
    [
        ("/v1/items", "ingest", "Input should be an object"),
        ("/v1/moderators/m1/status", "m1", "Input should be a valid dictionary or object to extract fields from"),
    ],
)
def test_a_json_body_that_is_not_an_object_names_the_body_and_why(api: Any, path: str, who: str, reason: str) -> None:
    """Sent as JSON, so the client is told what the JSON lacks, not to send JSON."""
    response = api.client.post(path, json=["available"], headers=api.bearer(who))
    assert response.status_code == 422
    assert _problems(response) == [("body", reason)]


@pytest.mark.parametrize("content_type", ["Application/JSON", "application/json ; charset=utf-8"])
def test_a_json_media_type_is_recognised_in_any_case_and_spacing(api: Any, content_type: str) -> None:
    """Media types are case-insensitive and a parameter may follow optional whitespace (RFC 9110)."""
    payload = json.dumps({"items": [api.text_item()]}).encode()
    headers = api.bearer("ingest") | {"Content-Type": content_type}
    assert api.client.post("/v1/items", content=payload, headers=headers).status_code == 202


def test_a_json_subtype_is_accepted(api: Any) -> None:
    payload = json.dumps({"items": [api.text_item()]}).encode()
    headers = api.bearer("ingest") | {"Content-Type": "application/vnd.queueopt+json; charset=utf-8"}
    assert api.client.post("/v1/items", content=payload, headers=headers).status_code == 202


def test_resubmitting_the_same_ids_stores_nothing_new_and_answers_the_same(api: Any) -> None:
    items = [api.text_item(), api.text_item(signals={"spam": 0.999})]
    first = api.submit(*items)
    again = api.submit(*items)
    assert again == first
    audit = api.client.get("/v1/audit", headers=api.bearer("admin")).text.splitlines()
    assert sum(json.loads(line)["item_id"] == items[0]["id"] for line in audit) == 1


def test_a_decision_outside_the_queues_allowed_actions_is_422(api: Any) -> None:
    task = api.lease("m1", api.text_item(source="appeal", content_hash="h-appealed"))
    assert task["queue"] == "appeals"
    body = {"lease_token": task["lease_token"], "verdict": "violating", "action": "ban_account"}
    response = api.client.post(f"/v1/tasks/{task['task_id']}/decision", json=body, headers=api.bearer("m1"))
    assert response.status_code == 422
    assert _problems(response)[0][0] == "action"
    allowed = body | {"action": "uphold"}
    response = api.client.post(f"/v1/tasks/{task['task_id']}/decision", json=allowed, headers=api.bearer("m1"))
    assert response.status_code == 200


def test_a_profile_whose_id_differs_from_the_path_is_422(api: Any) -> None:
    response = api.client.put("/v1/moderators/m9", json=api.profile("m8"), headers=api.bearer("admin"))
    assert response.status_code == 422
    assert _problems(response)[0][0] == "id"
    for stored_as in ("m8", "m9"):  # and nothing is stored under either id
        assert api.client.get(f"/v1/moderators/{stored_as}", headers=api.bearer("admin")).status_code == 404


def test_wait_s_over_thirty_is_422(api: Any) -> None:
    response = api.client.post("/v1/moderators/m1/next", params={"wait_s": 31}, headers=api.bearer("m1"))
    assert response.status_code == 422
    assert _problems(response)[0][0] == "wait_s"


@pytest.mark.parametrize(
    ("method", "path", "who", "params"),
    [("POST", "/v1/moderators/m1/next", "m1", {"wait_s": -1}), ("GET", "/v1/audit", "admin", {"since": -0.5})],
)
def test_a_negative_wait_or_time_is_422_naming_it(
    api: Any, method: str, path: str, who: str, params: dict[str, float]
) -> None:
    """A negative wait or start time is a client's bug (a clock or sign error) to be told, not read as zero."""
    (name,) = params
    response = api.client.request(method, path, params=params, headers=api.bearer(who))
    assert response.status_code == 422
    assert _problems(response) == [(name, "Input should be greater than or equal to 0")]


def test_unknown_routes_and_methods_answer_in_the_error_format(api: Any) -> None:
    missing = api.client.get("/v1/nothing-here")
    assert missing.status_code == 404 and _problems(missing)
    wrong = api.client.request("DELETE", "/v1/items", headers=api.bearer("admin"))
    assert wrong.status_code == 405 and _problems(wrong)
    assert wrong.headers["allow"] == "POST"  # what a client may send instead (RFC 9110 requires it on a 405)


def test_unknown_resources_are_404_with_the_field(api: Any) -> None:
    item = api.client.get("/v1/items/nope", headers=api.bearer("admin"))
    assert (item.status_code, _problems(item)[0][0]) == (404, "item_id")
    moderator = api.client.get("/v1/moderators/nobody", headers=api.bearer("admin"))
    assert moderator.status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reports": True}, "items.0.reports"),
        ({"signals": {"hate": "0.8"}}, "items.0.signals.hate"),
        ({"views_per_hour": "100"}, "items.0.views_per_hour"),
        ({"reports": 3.0}, "items.0.reports"),  # a count is an integer
    ],
)
def test_an_item_field_of_the_wrong_type_is_refused_not_converted(api: Any, change: dict[str, Any], field: str) -> None:
    """Found by probe: `true` was read as one report and the string "0.8" as a score."""
    response = api.client.post("/v1/items", json={"items": [api.text_item(**change)]}, headers=api.bearer("ingest"))
    assert response.status_code == 422 and [where for where, _ in _problems(response)] == [field]


def test_a_lease_extension_or_profile_of_the_wrong_type_is_refused(api: Any) -> None:
    task = api.lease("m1")
    extend = {"lease_token": task["lease_token"], "seconds": True}
    response = api.client.post(f"/v1/tasks/{task['task_id']}/extend", json=extend, headers=api.bearer("m1"))
    assert response.status_code == 422 and _problems(response)[0][0] == "seconds"
    for change, field in [({"capacity": True}, "capacity"), ({"capacity": "2"}, "capacity")]:
        profile = api.profile("m2", **change)
        response = api.client.put("/v1/moderators/m2", json=profile, headers=api.bearer("admin"))
        assert response.status_code == 422 and _problems(response)[0][0] == field, response.text
    assert api.client.get("/v1/moderators/m2", headers=api.bearer("admin")).json()["profile"]["capacity"] == 1
    # A whole-number float is an integer, and a skill listed twice is kept once.
    profile = api.profile("m2", capacity=2.0, modalities=["text", "text", "photo"])
    response = api.client.put("/v1/moderators/m2", json=profile, headers=api.bearer("admin"))
    assert response.status_code == 200, response.text
    stored = api.client.get("/v1/moderators/m2", headers=api.bearer("admin")).json()["profile"]
    assert stored["capacity"] == 2 and stored["modalities"] == ["text", "photo"]


@pytest.mark.parametrize(
    "change",
    [
        {"created_at": 1700000000},
        {"created_at": 1700000000.5},
        {"created_at": "2024-05-01T00:00:00Z"},
        {"signals": {"hate": 1}},
    ],
)
def test_valid_numbers_and_times_are_accepted(api: Any, change: dict[str, Any]) -> None:
    """Found by the second probe: a strict read of the whole item refused Unix timestamps, accepted before."""
    response = api.client.post("/v1/items", json={"items": [api.text_item(**change)]}, headers=api.bearer("ingest"))
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("created_at", "reason"),
    [
        ("1700000000", "Input should be an ISO 8601 time with its UTC offset"),
        ("1.7e9", "Input should be an ISO 8601 time with its UTC offset"),
        (True, "Input should be an ISO 8601 time with its UTC offset"),
        ("2026-01-01T00:00:00", "Input should have timezone info"),
        ("0001-01-01T00:00:00+23:59", "Input should be a time within years 1 to 9999 in UTC"),
        ("9999-12-31T23:59:59-01:00", "Input should be a time within years 1 to 9999 in UTC"),
    ],
)
def test_a_creation_time_that_names_no_one_instant_is_refused(api: Any, created_at: Any, reason: str) -> None:
    """Found by a probe: a number in a string was read as seconds, a time without an offset was stored as sent
    among UTC times, and one whose offset takes it outside the years a number may name was kept."""
    response = api.client.post(
        "/v1/items", json={"items": [api.text_item(created_at=created_at)]}, headers=api.bearer("ingest")
    )
    assert response.status_code == 422
    ((field, said),) = _problems(response)
    assert field == "items.0.created_at" and said.startswith(reason), said


def test_a_body_that_is_not_sent_as_json_is_told_so_on_every_route(api: Any) -> None:
    """Found by probe: `POST /v1/items` said "send JSON", the other routes "Input should be a valid dictionary"."""
    body = json.dumps(api.profile("m2")).encode()
    for method, path, who in [("PUT", "/v1/moderators/m2", "admin"), ("POST", "/v1/items", "ingest")]:
        headers = api.bearer(who) | {"Content-Type": "text/plain"}
        response = api.client.request(method, path, content=body, headers=headers)
        assert response.status_code == 422 and _problems(response) == [
            ("body", "send JSON (Content-Type: application/json)")
        ]


def test_a_nul_character_is_refused_on_every_store_before_anything_is_written(
    durable_settings: Settings, serve: Any, api_for: Any
) -> None:
    """Found by a probe: PostgreSQL cannot store NUL in text, so a content hash or a skip reason holding one failed
    the write with a 500 (and a pipeline retrying on 5xx sent the same batch for ever), where SQLite stored it."""
    with serve(create_app(durable_settings)) as client:
        api = api_for(client)
        client.put("/v1/moderators/m1", json=profile("m1"), headers=bearer("admin")).raise_for_status()
        good, bad = text_item(), text_item(content_hash="a\u0000b")
        response = client.post("/v1/items", json={"items": [good, bad]}, headers=bearer("ingest"))
        assert response.status_code == 422
        assert _problems(response) == [("items.1.content_hash", "may hold only printable ASCII, without spaces")]
        assert client.get(f"/v1/items/{good['id']}", headers=bearer("ingest")).status_code == 404
        in_value, in_name = text_item(attributes={"a": "x\u0000y"}), text_item(attributes={"a\u0000": "y"})
        response = client.post("/v1/items", json={"items": [good, in_value, in_name]}, headers=bearer("ingest"))
        assert response.status_code == 422, "the probe found attributes let a NUL through"
        assert _problems(response) == [
            ("items.1.attributes.a", "must not contain the NUL character (U+0000)"),
            ("items.2.attributes.a\u0000.[key]", "must not contain the NUL character (U+0000)"),
        ]
        assert client.get(f"/v1/items/{good['id']}", headers=bearer("ingest")).status_code == 404
        task = api.lease("m1")
        skip = {"lease_token": task["lease_token"], "reason": "x\u0000y"}
        response = client.post(f"/v1/tasks/{task['task_id']}/skip", json=skip, headers=bearer("m1"))
        assert response.status_code == 422
        assert _problems(response) == [("reason", "must not contain the NUL character (U+0000)")]
        assert client.get("/v1/moderators/m1", headers=bearer("m1")).json()["leases"] == [task["task_id"]]
        skip["reason"] = "not my language\nat all"
        assert client.post(f"/v1/tasks/{task['task_id']}/skip", json=skip, headers=bearer("m1")).status_code == 200


@pytest.mark.parametrize("action", ["release", "skip", "extend", "decision"])
def test_a_lease_token_holding_a_nul_is_refused_on_every_store(
    durable_settings: Settings, serve: Any, api_for: Any, action: str
) -> None:
    """Found by a review: a refused release or skip looks the token up among recorded hand-backs, and PostgreSQL
    refused the NUL with a 500 (SQLite answered 409), whoever sent it, the lease's holder included."""
    extra = {"skip": {"reason": "r"}, "extend": {"seconds": 60.0}, "decision": {"verdict": "violating"}}
    with serve(create_app(durable_settings)) as client:
        api = api_for(client)
        client.put("/v1/moderators/m1", json=profile("m1"), headers=bearer("admin")).raise_for_status()
        client.post("/v1/items", json={"items": [text_item()]}, headers=bearer("ingest")).raise_for_status()
        task = api.lease("m1")
        body = {"lease_token": task["lease_token"] + "\u0000", **extra.get(action, {})}
        response = client.post(f"/v1/tasks/{task['task_id']}/{action}", json=body, headers=bearer("m1"))
        assert response.status_code == 422, response.text
        assert _problems(response) == [("lease_token", "may hold only printable ASCII, without spaces")]
        assert client.get("/v1/moderators/m1", headers=bearer("m1")).json()["leases"] == [task["task_id"]]


def test_a_path_parameter_checked_twice_is_reported_once(api: Any) -> None:
    """Found by a probe: the route and its access check both validate the moderator id, and both said so."""
    response = api.client.get("/v1/moderators/" + "m" * 201, headers=api.bearer("admin"))
    assert response.status_code == 422
    assert [field for field, _ in _problems(response)] == ["moderator_id"]


_LEASE = {"lease_token": "x"}


@pytest.mark.parametrize(
    ("method", "path", "who", "body", "field"),
    [
        ("GET", "/v1/items/a%00b", "ingest", None, "item_id"),
        ("POST", "/v1/items/a%00b/cancel", "ingest", None, "item_id"),
        ("POST", "/v1/tasks/a%00b/decision", "m1", {**_LEASE, "verdict": "violating"}, "task_id"),
        ("POST", "/v1/tasks/a%00b/release", "m1", _LEASE, "task_id"),
        ("POST", "/v1/tasks/a%00b/skip", "m1", {**_LEASE, "reason": "r"}, "task_id"),
        ("POST", "/v1/tasks/a%00b/extend", "m1", {**_LEASE, "seconds": 60.0}, "task_id"),
        ("POST", "/v1/tasks/a%00b/assign", "admin", {"moderator_id": "m1"}, "task_id"),
        ("POST", f"/v1/tasks/{'a' * 203}/assign", "admin", {"moderator_id": "m1"}, "task_id"),  # too long for one
        ("GET", "/v1/moderators/m%00", "admin", None, "moderator_id"),
        ("POST", "/v1/moderators/m%00/status", "admin", {"status": "away"}, "moderator_id"),
    ],
)
def test_an_id_in_a_path_no_item_could_have_is_refused_naming_it_on_every_store(
    durable_settings: Settings, serve: Any, method: str, path: str, who: str, body: Any, field: str
) -> None:
    """Found by a probe: a NUL in a path's id reached PostgreSQL, which refuses it in text, and the caller got a 500
    (SQLite answered 404). Path ids are held to their bodies' patterns."""
    with serve(create_app(durable_settings)) as client:
        response = client.request(method, path, json=body, headers=bearer(who))
    assert response.status_code == 422, response.text
    ((named, reason),) = _problems(response)
    assert named == field and reason.startswith("may hold only letters, digits, '.', '_', ':' and '-'")


def test_a_qa_task_id_is_a_valid_path_id(api: Any) -> None:
    """Found by a probe: the QA task of an item with a 200-character id (allowed) could not be decided or handed
    back, its path id being limited to 200 characters, and its reviewer kept getting it back."""
    for task_id in ("x~qa", "L" * 200 + "~qa"):
        response = api.client.post(f"/v1/tasks/{task_id}/release", json=_LEASE, headers=api.bearer("m1"))
        assert response.status_code == 409, response.text  # a task the moderator does not hold, not a bad path
