"""Lease expiry over HTTP, on a virtual clock handed to the app: no sleeping."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from fastapi import FastAPI

from queueopt.clock import VirtualClock
from queueopt.service.app import create_app
from queueopt.service.settings import Settings


def test_an_expired_lease_goes_back_and_its_token_is_refused(
    settings: Settings, serve: Callable[[FastAPI], AbstractContextManager[Any]], api_for: Callable[[Any], Any]
) -> None:
    clock = VirtualClock(1_800_000_000.0)
    with serve(create_app(settings, clock=clock)) as client:
        api = api_for(client)
        for moderator_id in ("m1", "m2"):
            api.client.put(
                f"/v1/moderators/{moderator_id}", json=api.profile(moderator_id), headers=api.bearer("admin")
            ).raise_for_status()
        task = api.lease("m1")
        clock.advance(task["lease_expires_at"] - clock.now() + 1)
        taken_over = api.next("m2")
        assert taken_over is not None and taken_over["task_id"] == task["task_id"]
        late = api.client.post(
            f"/v1/tasks/{task['task_id']}/decision",
            json={"lease_token": task["lease_token"], "verdict": "violating"},
            headers=api.bearer("m1"),
        )
        assert late.status_code == 409
        assert "queueopt_lease_expiries_total 1.0" in api.client.get("/metrics", headers=api.bearer("metrics")).text
