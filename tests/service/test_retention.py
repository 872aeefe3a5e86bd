"""Retention over HTTP: a service with `QUEUEOPT_RETENTION_DAYS` purges settled work in the background, keeps open
work, counts what it purged, and answers a purged item or task with 404 and the reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from fastapi import FastAPI

from queueopt.engine import qa_draw
from queueopt.service import serving
from queueopt.service.app import create_app
from queueopt.service.settings import Settings


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
        client.put("/v1/moderators/m1", json=api.profile("m1"), headers=api.bearer("admin")).raise_for_status()
        # An id QA does not sample (at most 10% of a queue's decisions): a QA review left open would keep the item.
        secret = app.state.runtime.engine.qa_secret
        kept = next(f"kept-{n}" for n in range(1000) if qa_draw(secret, f"kept-{n}") >= 0.10)
        task = api.lease("m1", api.text_item(kept))
        decided = client.post(
            f"/v1/tasks/{task['task_id']}/decision",
            json={"lease_token": task["lease_token"], "verdict": "not_violating", "policy": "hate"},
            headers=api.bearer("m1"),
        )
        assert decided.status_code == 200, decided.text
        (waiting,) = api.submit(api.text_item())
        deadline = time.monotonic() + 20.0
        while client.get(f"/v1/items/{task['item_id']}", headers=api.bearer("ingest")).status_code != 404:
            assert time.monotonic() < deadline, "the settled item was not purged"
            time.sleep(0.05)
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
