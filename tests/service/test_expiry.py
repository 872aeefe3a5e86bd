"""Lease expiry over HTTP, on a virtual clock handed to the app: no sleeping."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from tests.service.conftest import REPO

from queueopt.clock import VirtualClock
from queueopt.service.app import create_app
from queueopt.service.settings import Settings


def test_an_expired_lease_goes_back_and_its_token_is_refused(
    settings: Settings, serve: Callable[[FastAPI], AbstractContextManager[Any]], api_for: Callable[[Any], Any]
) -> None:
    clock = VirtualClock(1_800_000_000.0)
    with serve(create_app(settings, clock=clock)) as client:
        api = api_for(client)
        task = _lease_to_m1_and_let_it_expire(api, clock)
        taken_over = api.next("m2")
        assert taken_over is not None and taken_over["task_id"] == task["task_id"]
        late = api.client.post(
            f"/v1/tasks/{task['task_id']}/decision",
            json={"lease_token": task["lease_token"], "verdict": "violating"},
            headers=api.bearer("m1"),
        )
        assert late.status_code == 409
        assert "queueopt_lease_expiries_total 1.0" in api.client.get("/metrics", headers=api.bearer("metrics")).text


def test_a_moderator_whose_lease_expired_is_pushed_no_work_until_they_act(
    durable_settings: Settings, serve: Callable[[FastAPI], AbstractContextManager[Any]], api_for: Callable[[Any], Any]
) -> None:
    """Found by a probe: an absent moderator kept a free slot, so every batch leased them a task that then waited out
    its lease. After one expiry the assigner passes them by until they act (here, ask for work), across a restart."""
    clock = VirtualClock(1_800_000_000.0)
    app = create_app(durable_settings, clock=clock)
    with serve(app) as client:
        api = api_for(client)
        _lease_to_m1_and_let_it_expire(api, clock)
        api.submit(api.text_item(), api.text_item())
        client.run(app.state.runtime.assigner.run_once)  # expires m1's lease, then leases to m2 alone
        m1 = client.get("/v1/moderators/m1", headers=api.bearer("m1")).json()
        assert m1["idle_after_expiry"] is True and m1["leases"] == []
        m2 = client.get("/v1/moderators/m2", headers=api.bearer("admin")).json()
        assert m2["idle_after_expiry"] is False and len(m2["leases"]) == 1
        assert _idle_gauge(api) == 1.0
    restarted = create_app(durable_settings, clock=clock)
    with serve(restarted) as client:
        api = api_for(client)
        client.run(restarted.state.runtime.assigner.run_once)
        assert client.get("/v1/moderators/m1", headers=api.bearer("admin")).json()["idle_after_expiry"] is True
        assert client.get("/v1/moderators/m1", headers=api.bearer("admin")).json()["leases"] == []
        assert _idle_gauge(api) == 1.0
        assert api.next("m1") is not None
        assert client.get("/v1/moderators/m1", headers=api.bearer("m1")).json()["idle_after_expiry"] is False
        assert _idle_gauge(api) == 0.0


def _lease_to_m1_and_let_it_expire(api: Any, clock: VirtualClock) -> Any:
    """Moderators m1 and m2 on the roster, and m1's lease of a task run out (the clock past it, not yet swept)."""
    for moderator_id in ("m1", "m2"):
        api.client.put(
            f"/v1/moderators/{moderator_id}", json=api.profile(moderator_id), headers=api.bearer("admin")
        ).raise_for_status()
    task = api.lease("m1")
    clock.advance(task["lease_expires_at"] - clock.now() + 1)
    return task


def _make_m1_idle_after_expiry(client: Any, app: FastAPI, api: Any, clock: VirtualClock) -> None:
    """m1's lease run out and swept by the assigner: m1 idle after an expiry."""
    _lease_to_m1_and_let_it_expire(api, clock)
    client.run(app.state.runtime.assigner.run_once)


def _idle_gauge(api: Any) -> float:
    """`queueopt_moderators_idle_after_expiry` as scraped: the count an operator alerts on."""
    text: str = api.client.get("/metrics", headers=api.bearer("metrics")).text
    line = next(line for line in text.splitlines() if line.startswith("queueopt_moderators_idle_after_expiry "))
    return float(line.split()[1])


def test_an_admin_putting_back_a_profile_with_its_status_unchanged_leaves_the_moderator_idle(
    settings: Settings, serve: Callable[[FastAPI], AbstractContextManager[Any]], api_for: Callable[[Any], Any]
) -> None:
    """Found by a reviewer: an admin's read-modify-write of a profile (GET, change a skill, PUT) sends the status it
    read back unchanged, and that counted as the moderator's return: batches pushed an absent moderator work again,
    and the audit said they were back. A status set (`/status`), or a profile whose status changes, still does."""
    clock = VirtualClock(1_800_000_000.0)
    app = create_app(settings, clock=clock)
    with serve(app) as client:
        api = api_for(client)
        _make_m1_idle_after_expiry(client, app, api, clock)
        read = client.get("/v1/moderators/m1", headers=api.bearer("admin")).json()
        assert read["idle_after_expiry"] is True and read["profile"]["status"] == "available"
        edited = read["profile"] | {"severe_per_hour": 10}
        client.put("/v1/moderators/m1", json=edited, headers=api.bearer("admin")).raise_for_status()
        assert client.get("/v1/moderators/m1", headers=api.bearer("admin")).json()["idle_after_expiry"] is True
        assert '"transition":"present"' not in client.get("/v1/audit", headers=api.bearer("admin")).text
        client.post(
            "/v1/moderators/m1/status", json={"status": "available"}, headers=api.bearer("admin")
        ).raise_for_status()
        assert client.get("/v1/moderators/m1", headers=api.bearer("admin")).json()["idle_after_expiry"] is False


def test_a_moderator_who_acts_after_a_lease_of_theirs_ran_out_is_not_idle_when_it_is_swept_later(
    settings: Settings, serve: Callable[[FastAPI], AbstractContextManager[Any]], api_for: Callable[[Any], Any]
) -> None:
    """Found by a reviewer: a moderator holding two leases works on one while the other runs out; their action on the
    first, after the second's expiry but before the sweep, showed them present, then the sweep marked them idle, so
    batches passed over a moderator who had just acted. An action now sweeps what has run out first."""
    clock = VirtualClock(1_800_000_000.0)
    app = create_app(settings, clock=clock)
    with serve(app) as client:
        api = api_for(client)
        two = api.profile("m1", capacity=2)
        client.put("/v1/moderators/m1", json=two, headers=api.bearer("admin")).raise_for_status()
        forgotten = api.lease("m1")
        clock.advance(60)
        worked = api.lease("m1")
        extended = client.post(
            f"/v1/tasks/{worked['task_id']}/extend",
            json={"lease_token": worked["lease_token"], "seconds": 600},
            headers=api.bearer("m1"),
        )
        assert extended.status_code == 200, extended.text
        clock.advance(forgotten["lease_expires_at"] - clock.now() + 1)  # the first ran out, not yet swept
        decided = client.post(
            f"/v1/tasks/{worked['task_id']}/decision",
            json={"lease_token": worked["lease_token"], "verdict": "violating", "policy": "hate"},
            headers=api.bearer("m1"),
        )
        assert decided.status_code == 200, decided.text
        client.run(app.state.runtime.assigner.run_once)  # sweeps the first
        m1 = client.get("/v1/moderators/m1", headers=api.bearer("admin")).json()
        assert m1["idle_after_expiry"] is False


def test_a_refused_profile_leaves_the_moderator_idle_and_audits_no_return(
    settings: Settings, serve: Callable[[FastAPI], AbstractContextManager[Any]], api_for: Callable[[Any], Any]
) -> None:
    """Found by a reviewer: an admin's profile that changed the status of a moderator idle after an expiry, refused
    with a 422 (an unknown policy area), still brought them back and audited their return."""
    clock = VirtualClock(1_800_000_000.0)
    app = create_app(settings, clock=clock)
    with serve(app) as client:
        api = api_for(client)
        _make_m1_idle_after_expiry(client, app, api, clock)
        refused = client.put(
            "/v1/moderators/m1",
            json=api.profile("m1", status="away", policy_areas=["no_such_area"]),
            headers=api.bearer("admin"),
        )
        assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "policy_areas.0", refused.text
        m1 = client.get("/v1/moderators/m1", headers=api.bearer("admin")).json()
        assert m1["idle_after_expiry"] is True and m1["status"] == "available"
        assert '"transition":"present"' not in client.get("/v1/audit", headers=api.bearer("admin")).text


def test_a_moderator_off_the_roster_is_not_counted_idle_for_good(
    settings: Settings,
    tmp_path: Path,
    serve: Callable[[FastAPI], AbstractContextManager[Any]],
    api_for: Callable[[Any], Any],
) -> None:
    """Found by a reviewer: the holder of a lease that ran out, whose stored profile no longer loads after a restart
    (a clearance tier renamed), was counted in the gauge until a restart an hour later: off the roster, they could
    not act to leave it, so an alert on it could not clear."""
    clock = VirtualClock(1_800_000_000.0)
    with serve(create_app(settings, clock=clock)) as client:
        api = api_for(client)
        cleared = api.profile("m2", policy_areas=["violent_extremism"], clearance=["terrorism"])
        client.put("/v1/moderators/m2", json=cleared, headers=api.bearer("admin")).raise_for_status()
        api.submit(api.text_item("ve", modality="photo", signals={"violent_extremism": 0.9}))
        held = api.next("m2")
        assert held is not None and held["task_id"] == "ve"
        clock.advance(held["lease_expires_at"] - clock.now() + 1)  # runs out while the service is down
    text = (REPO / "examples" / "ops.toml").read_text(encoding="utf-8")
    changed = tmp_path / "changed.toml"
    changed.write_text(text.replace('"terrorism"', '"terror2"'), encoding="utf-8")
    with serve(create_app(settings.model_copy(update={"config": changed}), clock=clock)) as client:
        api = api_for(client)
        assert client.get("/v1/moderators/m2", headers=api.bearer("admin")).status_code == 404
        assert _idle_gauge(api) == 0.0
    with serve(create_app(settings.model_copy(update={"config": changed}), clock=clock)) as client:
        assert _idle_gauge(api_for(client)) == 0.0  # read back from the audit as well
