"""Building the app: files checked before serving, and the last-resort answer for a bug."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from tests.conftest import PG_URL
from tests.service.conftest import bearer, profile
from tests.waits import wait_until

from queueopt.config import ConfigError
from queueopt.errors import InvalidInput, StoreUnavailable
from queueopt.service import serving
from queueopt.service.app import create_app
from queueopt.service.settings import Settings
from queueopt.store import open_store, sql


def test_a_service_without_tokens_refuses_to_start(settings: Settings) -> None:
    with pytest.raises(InvalidInput) as raised:
        create_app(settings.model_copy(update={"tokens_file": None}))
    assert raised.value.field == "tokens_file"


def test_a_broken_ops_config_stops_the_app_before_it_serves(settings: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "ops.toml"
    broken.write_text("lease_s = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        create_app(settings.model_copy(update={"config": broken}))


def test_the_store_directory_is_created(settings: Settings, api: Any) -> None:
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    assert path.parent.is_dir() and path.exists()


def test_a_bug_answers_500_in_the_error_format_and_is_logged(
    app: FastAPI, api: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.state.runtime.engine, "queues", broken)
    response = api.client.get("/v1/queues", headers=api.bearer("admin"))
    assert response.status_code == 500
    assert response.json() == {
        "detail": [{"field": None, "reason": "internal error; the request may not have been applied"}]
    }
    assert "unhandled error on GET '/v1/queues'" in caplog.text
    monkeypatch.undo()
    metrics = api.client.get("/metrics", headers=api.bearer("metrics")).text
    assert 'route="/v1/queues",status="500"' in metrics


@pytest.mark.parametrize("durable_settings", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_store_session_that_ends_under_requests_answers_503_with_retry_after_and_applies_nothing(
    durable_settings: Settings,
    serve: Any,
    api_for: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server restart or an operator's `pg_terminate_backend` ends the serving engine's store session: a request
    it breaks, read or write, is answered 503 with `Retry-After` as every store failure is, not 500, and nothing of
    it is applied, in the store or the engine's memory. The process is told to stop (recorded here instead)."""
    name = f"queueopt-test-{uuid.uuid4().hex[:12]}"
    settings = durable_settings.model_copy(
        update={"database_url": f"{durable_settings.database_url}&application_name={name}"}
    )
    stops: list[str] = []
    monkeypatch.setattr(serving, "stop_at_once", stops.append)
    with serve(create_app(settings)) as client:
        api = api_for(client)
        api.submit(api.text_item("kept"))
        depths = _depths(client)
        with psycopg.connect(PG_URL, autocommit=True) as operator:
            operator.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = %s", (name,)
            )
        submitted = client.post("/v1/items", json={"items": [api.text_item("lost")]}, headers=bearer("ingest"))
        shown = client.get("/v1/items/kept", headers=bearer("ingest"))
        for response in (submitted, shown):
            assert response.status_code == 503 and response.headers["retry-after"] == "1", response.text
            assert response.json()["detail"][0]["reason"].startswith("the store failed (PostgreSQL: ")
        assert _depths(client) == depths, "the engine's memory holds nothing of the refused submission"
        wait_until(lambda: stops, "the engine whose store session ended was not stopped")
    assert stops[0] == "the serving engine's connection to its store failed"
    assert "unhandled error" not in caplog.text
    store = open_store(settings.database_url)
    try:
        assert list(store.items(["kept", "lost"])) == ["kept"]
    finally:
        store.close()


def _depths(client: Any) -> dict[str, int]:
    return {
        queue["name"]: queue["depth"] for queue in client.get("/v1/queues", headers=bearer("admin")).json()["queues"]
    }


def test_a_roster_file_naming_what_the_config_lacks_stops_the_app_before_it_serves(
    settings: Settings, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps([profile("m1"), profile("m2", policy_areas=["gore"], clearance=["zzz"])]))
    with pytest.raises(ConfigError) as caught:
        create_app(settings.model_copy(update={"roster_file": roster}))
    assert caught.value.problems[0] == "1.policy_areas.0: unknown policy area 'gore'"
    assert caught.value.problems[1].startswith("1.clearance.0: unknown clearance tier 'zzz'; the ops config names")
    roster.write_text(json.dumps([profile("m1"), profile("m2"), profile("m1", capacity=2)]))
    with pytest.raises(ConfigError) as twice:
        create_app(settings.model_copy(update={"roster_file": roster}))
    assert twice.value.problems == ["2.id: 'm1' is already at 0"]
    # Found by a probe: a profile's wrong field hid every other profile's problems, so fixing took two rounds.
    mixed = [profile("m1", regions=[]), profile("m2", policy_areas=["gore"]), profile("m1"), "m3"]
    roster.write_text(json.dumps(mixed))
    with pytest.raises(ConfigError) as together:
        create_app(settings.model_copy(update={"roster_file": roster}))
    assert [problem.split(":")[0] for problem in together.value.problems] == [
        "0.regions",
        "1.policy_areas.0",
        "3",
    ]


def test_the_roster_file_adds_new_moderators_and_never_undoes_the_admin_api(
    settings: Settings, tmp_path: Path, serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    cleared = profile("m1", clearance=["csam"], policy_areas=["hate", "child_safety"])
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps([cleared]), encoding="utf-8")
    with_roster = settings.model_copy(update={"roster_file": roster})
    with serve(create_app(with_roster)) as client:
        assert client.get("/v1/moderators/m1", headers=bearer("admin")).json()["profile"]["clearance"] == ["csam"]
        client.put("/v1/moderators/m1", json=profile("m1"), headers=bearer("admin")).raise_for_status()
        client.post("/v1/moderators/m1/status", json={"status": "offline"}, headers=bearer("m1")).raise_for_status()
    roster.write_text(json.dumps([cleared, profile("m2")]), encoding="utf-8")
    with serve(create_app(with_roster)) as client:
        stored = client.get("/v1/moderators/m1", headers=bearer("admin")).json()["profile"]
        assert stored["clearance"] == [] and stored["status"] == "offline"  # as the admin API left them
        assert client.get("/v1/moderators/m2", headers=bearer("admin")).status_code == 200  # new in the file: added
    # The whole list: a moderator's status is theirs to set, not the file's, and is no difference to warn of.
    assert "roster file: moderator m1 differs from the stored profile in clearance, policy_areas; the stored" in (
        caplog.text
    )
    assert "moderator m2 differs" not in caplog.text


def test_a_client_gone_before_its_body_ended_is_no_error_in_the_log(
    app: FastAPI, api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = api.bearer("ingest")["Authorization"].encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/items",
        "raw_path": b"/v1/items",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", token),
            (b"content-type", b"application/json"),
            (b"content-length", b"9999"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    messages = iter([{"type": "http.request", "body": b'{"items": [', "more_body": True}, {"type": "http.disconnect"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    api.client.run(lambda: app(scope, receive, send))
    assert sent[0]["status"] == 422 and "unhandled error" not in caplog.text


def test_a_heartbeat_the_store_failed_to_record_is_followed_by_the_next(
    settings: Settings, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A beat the store fails to record (a moment's outage) is logged, and the engine beats again on time: had it
    stopped beating, a standby would judge the live engine hung and end its session."""
    monkeypatch.setattr(serving, "BEAT_S", 0.05)
    beats: list[str] = []

    def beat(self: sql.SqlStore) -> None:
        beats.append("recorded" if beats else "failed")
        if beats == ["failed"]:
            raise StoreUnavailable("the store failed (PostgreSQL: the database system is shutting down)")

    with serve(create_app(settings)):
        monkeypatch.setattr(sql.SqlStore, "beat_serving", beat)
        wait_until(lambda: beats.count("recorded") >= 2, lambda: f"the engine stopped beating: {beats}")


def test_a_stopped_engine_leaves_no_background_work_running(
    settings: Settings, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping the engine ends its heartbeat, store watch, learning saves and purges: left running, the beats would
    vouch for a stopped engine, and the watch, finding its store closed, would end a graceful shutdown with status 3.
    The process is told to stop (recorded here instead)."""
    stops: list[str] = []
    monkeypatch.setattr(serving, "stop_at_once", stops.append)
    app = create_app(settings.model_copy(update={"retention_days": 1.0}))
    with serve(app) as client:
        stopping: serving.Serving = app.state.serving
        background = list(stopping._tasks)
        client.run(stopping.stop)
        wait_until(lambda: all(task.done() for task in background), "background work outlived the engine")
    assert len(background) == 4 and all(task.cancelled() for task in background)
    assert stops == []
