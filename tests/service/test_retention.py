"""Retention over HTTP: a service with `QUEUEOPT_RETENTION_DAYS` purges settled work in the background, keeps open
work, counts what it purged, and answers a purged item or task with 404 and the reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from fastapi import FastAPI
from tests.waits import wait_until

from queueopt.engine import Engine, qa_draw
from queueopt.errors import StoreUnavailable
from queueopt.service import serving
from queueopt.service.app import create_app
from queueopt.service.settings import Settings
from queueopt.store.retention import Purged


def test_a_service_with_retention_purges_settled_work_and_keeps_open_work(
    settings: Settings,
    serve: Callable[[FastAPI], AbstractContextManager[Any]],
    api_for: Callable[[Any], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serving, "PURGE_EVERY_S", 0.05)
    retained = settings.model_copy(update={"retention_days": 0.5 / 86400})  # half a second
    app = create_app(retained)
    with serve(app) as client:
        api = api_for(client)
        task = _decided(app, client, api)
        (waiting,) = api.submit(api.text_item())
        item = f"/v1/items/{task['item_id']}"
        wait_until(
            lambda: client.get(item, headers=api.bearer("ingest")).status_code == 404, "the settled item was not purged"
        )
        gone = client.get(f"/v1/items/{task['item_id']}", headers=api.bearer("ingest"))
        assert gone.json()["detail"][0]["reason"].endswith(
            "(never submitted, or settled and purged after the retention period)"
        )
        assert client.get(f"/v1/tasks/{task['task_id']}", headers=api.bearer("admin")).status_code == 404
        assert client.get(f"/v1/items/{waiting['id']}", headers=api.bearer("ingest")).json()["status"] == "queued"
        metrics = client.get("/metrics", headers=api.bearer("metrics")).text
        assert "queueopt_items_purged_total 1.0" in metrics
        again = client.post(
            f"/v1/tasks/{task['task_id']}/decision",
            json={"lease_token": task["lease_token"], "verdict": "not_violating", "policy": "hate"},
            headers=api.bearer("m1"),
        )
        assert again.status_code == 409  # a retry of a purged decision is refused as any stale lease, not a 500


def test_a_retention_period_that_is_not_a_positive_number_is_refused_at_start(settings: Settings) -> None:
    for value in ("0", "-1", "nan", "a week", "1e6"):
        with pytest.raises(ValueError, match="retention_days"):
            Settings.model_validate({**settings.model_dump(), "retention_days": value})


def test_settled_work_younger_than_the_retention_period_is_kept(
    settings: Settings,
    serve: Callable[[FastAPI], AbstractContextManager[Any]],
    api_for: Callable[[Any], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Purged is what settled more than `retention_days` ago, not what will have by then: a cut-off a
    period ahead of now would purge every decision at the next run, the minute it was made."""
    monkeypatch.setattr(serving, "PURGE_EVERY_S", 0.05)
    runs = _counted_runs(monkeypatch)
    app = create_app(settings.model_copy(update={"retention_days": 1.0}))
    with serve(app) as client:
        api = api_for(client)
        item_id = _decided(app, client, api)["item_id"]
        _wait_for_runs(runs, len(runs) + 2)
        shown = client.get(f"/v1/items/{item_id}", headers=api.bearer("ingest"))
        assert shown.status_code == 200 and shown.json()["status"] == "decided"


def test_a_purge_the_store_failed_runs_again_at_the_next_period(
    settings: Settings,
    serve: Callable[[FastAPI], AbstractContextManager[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A purge the store fails (a moment's outage) is logged and tried again a period later: were the purging to
    end with it, settled work would pile up until the next restart."""
    monkeypatch.setattr(serving, "PURGE_EVERY_S", 0.05)
    runs = _counted_runs(monkeypatch, failing=1)
    with serve(create_app(settings.model_copy(update={"retention_days": 1.0}))):
        _wait_for_runs(runs, 2)


def test_a_purge_that_fails_with_a_defect_is_logged_and_runs_again(
    settings: Settings,
    serve: Callable[[FastAPI], AbstractContextManager[Any]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Found by a probe reading the source: any failure but the store's ended the purging loop, so retention stopped
    for the rest of the process's life without a word."""
    monkeypatch.setattr(serving, "PURGE_EVERY_S", 0.05)
    runs = _counted_runs(monkeypatch, failing=1, error=RuntimeError("a defect in the purge"))
    with (
        caplog.at_level("ERROR", logger="queueopt.service"),
        serve(create_app(settings.model_copy(update={"retention_days": 1.0}))),
    ):
        _wait_for_runs(runs, 2)
    assert "the retention purge failed; it runs again in 0.05 s" in caplog.text
    assert "a defect in the purge" in caplog.text  # the traceback's last line


def _counted_runs(
    monkeypatch: pytest.MonkeyPatch,
    failing: int = 0,
    error: Exception | None = None,
) -> list[float]:
    """Each run of the retention purge (its first batch), by when it began; the first `failing` runs fail with
    `error`, by default as a store that went away for a moment."""
    runs: list[float] = []
    purge = Engine.purge

    def counted(self: Engine, before: float, after_seq: int, limit: int) -> Purged:
        if after_seq == 0:
            runs.append(time.monotonic())
            if len(runs) <= failing:
                raise error or StoreUnavailable("the store failed (PostgreSQL: the database system is shutting down)")
        return purge(self, before, after_seq, limit)

    monkeypatch.setattr(Engine, "purge", counted)
    return runs


def _wait_for_runs(runs: list[float], count: int) -> None:
    wait_until(lambda: len(runs) >= count, lambda: f"the purge ran {len(runs)} times, not {count}")


def _decided(app: FastAPI, client: Any, api: Any) -> dict[str, Any]:
    """The task of an item decided now, of an id QA does not sample (a QA review left open, at most 10% of a queue's
    decisions, would keep it from any purge)."""
    client.put("/v1/moderators/m1", json=api.profile("m1"), headers=api.bearer("admin")).raise_for_status()
    secret = app.state.runtime.engine.qa_secret
    item_id = next(f"kept-{n}" for n in range(1000) if qa_draw(secret, f"kept-{n}") >= 0.10)
    task: dict[str, Any] = api.lease("m1", api.text_item(item_id))
    decided = client.post(
        f"/v1/tasks/{task['task_id']}/decision",
        json={"lease_token": task["lease_token"], "verdict": "not_violating", "policy": "hate"},
        headers=api.bearer("m1"),
    )
    assert decided.status_code == 200, decided.text
    return task
