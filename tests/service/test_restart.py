"""Restarting the service on a changed config: the leases and tasks the store holds meet the new rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.service.conftest import REPO, bearer, profile, text_item

from queueopt.errors import Conflict
from queueopt.service.app import create_app
from queueopt.service.settings import Settings
from queueopt.store import open_store


def _refusal(settings: Settings, serve: Any, config: Path) -> Conflict:
    """Why an engine refused to start on the store of `settings` with `config`."""
    with pytest.raises(Conflict) as refused, serve(create_app(settings.model_copy(update={"config": config}))):
        pass
    return refused.value


def _changed_config(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    """The example config with each (old, new) text replaced."""
    text = (REPO / "examples" / "ops.toml").read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "changed.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _audit(client: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/audit", headers=bearer("admin"))
    return [json.loads(line) for line in response.text.splitlines()]


def test_a_restart_hands_back_the_leases_their_holders_may_no_longer_hold(
    durable_settings: Settings, tmp_path: Path, serve: Any, api_for: Any
) -> None:
    """Found over HTTP: after ops added a clearance to self harm, a holder without it still saw and decided the item;
    a holder whose stored profile no longer loads (a clearance tier renamed) was off the roster, yet decided."""
    with serve(create_app(durable_settings)) as client:
        api = api_for(client)
        for moderator_id, changes in (
            ("m1", {"policy_areas": ["self_harm"]}),
            ("m2", {"policy_areas": ["violent_extremism"], "clearance": ["terrorism"]}),
        ):
            client.put(
                f"/v1/moderators/{moderator_id}", json=profile(moderator_id, **changes), headers=bearer("admin")
            ).raise_for_status()
        api.submit(
            text_item("sh", modality="photo", signals={"self_harm": 0.9}),
            text_item("ve", modality="photo", signals={"violent_extremism": 0.9}),
        )
        self_harm, extremism = api.next("m1"), api.next("m2")
        assert self_harm["task_id"] == "sh" and extremism["task_id"] == "ve"
    changed = _changed_config(
        tmp_path,
        ("severity = 7.0\nsevere = true\n", 'severity = 7.0\nsevere = true\nclearance = "selfharm"\n'),
        ('"terrorism"', '"terror2"'),
    )
    with serve(create_app(durable_settings.model_copy(update={"config": changed}))) as client:
        api = api_for(client)
        assert client.get("/v1/moderators/m1", headers=bearer("m1")).json()["leases"] == []
        assert api.next("m1") is None
        refused = client.post(
            "/v1/tasks/sh/decision",
            json={"lease_token": self_harm["lease_token"], "verdict": "violating"},
            headers=bearer("m1"),
        )
        assert refused.status_code == 409
        unknown = client.post(
            "/v1/tasks/ve/decision",
            json={"lease_token": extremism["lease_token"], "verdict": "violating"},
            headers=bearer("m2"),
        )
        assert unknown.status_code == 404
        assert unknown.json()["detail"] == [{"field": "moderator_id", "reason": "no moderator 'm2'"}]
        for item_id in ("sh", "ve"):
            assert client.get(f"/v1/items/{item_id}", headers=bearer("ingest")).json()["status"] == "queued"
        released = [
            (entry["task_id"], entry["actor"], entry["note"])
            for entry in _audit(client)
            if entry["transition"] == "released"
        ]
        assert sorted(released) == [
            ("sh", "recovery", "lease of m1: moderator no longer qualified for the task"),
            ("ve", "recovery", "lease of m2: moderator not on the roster"),
        ]


def test_a_config_without_a_queue_that_holds_open_tasks_is_refused_at_start(
    durable_settings: Settings, tmp_path: Path, serve: Any, api_for: Any
) -> None:
    """Found over HTTP: restarted with `audio` renamed, the queued audio task was never offered nor shown, and the
    decision on the held one answered 500."""
    audio = {"modality": "audio", "signals": {"harassment": 0.7}}
    with serve(create_app(durable_settings)) as client:
        api = api_for(client)
        client.put("/v1/moderators/m1", json=profile("m1", modalities=["audio"]), headers=bearer("admin"))
        api.submit(text_item("au1", **audio), text_item("au2", **audio))
        held = api.next("m1")
        assert held is not None and held["queue"] == "audio"
    renamed = _changed_config(
        tmp_path, ('name = "audio"\nsla_s', 'name = "audio2"\nsla_s'), ('queue = "audio"', 'queue = "audio2"')
    )
    refused = _refusal(durable_settings, serve, renamed)
    assert refused.field == "queues"
    assert refused.message.startswith(
        "the store has open tasks in queues this config does not have: 'audio' (2 open tasks); keep each queue"
    )
    with serve(create_app(durable_settings)) as client:  # nothing was lost, nor changed, by the refused start
        decided = client.post(
            f"/v1/tasks/{held['task_id']}/decision",
            json={"lease_token": held["lease_token"], "verdict": "violating"},
            headers=bearer("m1"),
        )
        assert decided.status_code == 200, decided.text
        queues = client.get("/v1/queues", headers=bearer("admin")).json()["queues"]
        assert {queue["name"]: queue["depth"] for queue in queues}["audio"] == 1


def test_a_config_without_a_policy_area_open_tasks_are_in_is_refused_at_start(
    durable_settings: Settings, tmp_path: Path, serve: Any, api_for: Any
) -> None:
    """Found by a review: restarted with `harassment` renamed, its open tasks stayed queued for ever, counted only as
    unstaffed, since no moderator may be certified in an area the config lacks; a queue renamed was refused."""
    with serve(create_app(durable_settings)) as client:
        api_for(client).submit(text_item("ha1", modality="audio", signals={"harassment": 0.7}))
    renamed = _changed_config(tmp_path, ("harassment", "bullying"))
    refused = _refusal(durable_settings, serve, renamed)
    assert refused.field == "policy_areas"
    assert refused.message.startswith(
        "the store has open tasks in policy areas this config does not have: 'harassment' (1 open task); keep each "
        "policy area in the config until its tasks are decided"
    )


def test_a_config_without_a_clearance_tier_an_open_task_needs_is_refused_at_start(
    durable_settings: Settings, tmp_path: Path, serve: Any, api_for: Any
) -> None:
    """Found by a review: open tasks keep every tier they were routed or widened with (a protection is never taken
    off open work), and no profile may name a tier the config lacks, so renaming `terrorism` stranded them."""
    both = {"child_safety": 0.9, "violent_extremism": 0.9}
    with serve(create_app(durable_settings)) as client:
        (result,) = api_for(client).submit(text_item("ce1", modality="video", signals=both))
        task = client.get(f"/v1/tasks/{result['task_id']}", headers=bearer("admin")).json()
        assert task["policy"] == "child_safety"
    renamed = _changed_config(
        tmp_path,
        ('clearance = "terrorism"', 'clearance = "extremism"'),
        ('clearance = ["terrorism"]', 'clearance = ["extremism"]'),
    )
    refused = _refusal(durable_settings, serve, renamed)
    assert refused.field == "policy_areas"
    assert refused.message.startswith(
        "the store has open tasks in clearance tiers this config does not have: 'terrorism' (1 open task); keep each "
        "clearance tier in the config until its tasks are decided"
    )


def test_what_the_engine_learned_is_saved_when_it_stops(settings: Settings, serve: Any) -> None:
    """The learned estimates are saved every minute and when the engine stops, so a restart within the minute, as
    here, forgets none of the handling times and QA outcomes learned since the last save."""
    with serve(create_app(settings)) as client:
        client.put("/v1/moderators/m1", json=profile("m1"), headers=bearer("admin")).raise_for_status()
        submitted = client.post("/v1/items", json={"items": [text_item()]}, headers=bearer("ingest"))
        task_id = submitted.json()["results"][0]["task_id"]
        task = client.post(f"/v1/tasks/{task_id}/assign", json={"moderator_id": "m1"}, headers=bearer("admin"))
        decision = {"lease_token": task.json()["lease_token"], "verdict": "violating", "policy": "hate"}
        client.post(f"/v1/tasks/{task_id}/decision", json=decision, headers=bearer("m1")).raise_for_status()
    store = open_store(settings.database_url)
    try:
        learned = store.learning()
    finally:
        store.close()
    assert learned is not None and '"m1"' in learned
