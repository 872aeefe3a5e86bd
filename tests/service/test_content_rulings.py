"""Over HTTP, on each durable store and across a restart: a re-upload reads as carrying its content's current
decision, the one an appeal or escalation made since the first review, naming that appeal or escalation; an appeal
still under review changes nothing."""

from __future__ import annotations

from typing import Any

from tests.service.conftest import bearer, profile, text_item

from queueopt.service.app import create_app
from queueopt.service.settings import Settings


def _decide(client: Any, api: Any, moderator_id: str, item: dict[str, Any], **decision: str) -> None:
    """Submit `item`, have an admin lease it to the moderator, and send their decision."""
    task = api.lease(moderator_id, item)
    body = {"lease_token": task["lease_token"], **decision}
    response = client.post(f"/v1/tasks/{task['task_id']}/decision", json=body, headers=bearer(moderator_id))
    assert response.status_code == 200, response.text


def _item(client: Any, item_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/items/{item_id}", headers=bearer("ingest"))
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


def test_a_re_upload_carries_what_an_escalation_decided_and_the_decision_in_force_while_an_appeal_waits(
    durable_settings: Settings, serve: Any, api_for: Any
) -> None:
    with serve(create_app(durable_settings)) as client:
        api = api_for(client)
        for moderator_id in ("m1", "m2", "m3"):
            client.put(
                f"/v1/moderators/{moderator_id}", json=profile(moderator_id), headers=bearer("admin")
            ).raise_for_status()
        _decide(client, api, "m1", text_item("first", content_hash="h"), verdict="not_violating")
        escalation = text_item("escalation", source="escalation", content_hash="h")
        _decide(client, api, "m2", escalation, verdict="violating", policy="hate", action="remove")
    with serve(create_app(durable_settings)) as client:
        api = api_for(client)
        (copy,) = api.submit(text_item("copy", content_hash="h"))
        assert (copy["status"], copy["duplicate_of"], copy["task_id"]) == ("duplicate", "escalation", "escalation")
        read = _item(client, "copy")
        assert (read["verdict"], read["decided_by"], read["decision"]["action"]) == ("violating", "m2", "remove")
        assert _item(client, "first")["verdict"] == "not_violating"
        api.submit(text_item("appeal", source="appeal", content_hash="h"))
        (waiting,) = api.submit(text_item("waiting", content_hash="h"))
        assert (waiting["status"], waiting["duplicate_of"]) == ("duplicate", "escalation")
        assert _item(client, "waiting")["verdict"] == "violating"  # the removal reaches it now, not after the appeal
        task = api.next("m3")
        assert task is not None and task["task_id"] == "appeal"
        body = {"lease_token": task["lease_token"], "verdict": "not_violating", "action": "restore"}
        client.post("/v1/tasks/appeal/decision", json=body, headers=bearer("m3")).raise_for_status()
        (after,) = api.submit(text_item("after", content_hash="h"))
        read = _item(client, "after")
        assert (after["duplicate_of"], read["verdict"], read["decided_by"]) == ("appeal", "not_violating", "m3")
