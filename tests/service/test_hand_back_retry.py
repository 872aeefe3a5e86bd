"""A release or skip posted twice over HTTP (a review tool retrying after a timeout): the retry is answered with the
first answer's very body, another hand-back under that lease names the one recorded, anyone else learns nothing."""

from __future__ import annotations

from typing import Any


def _hand_back(api: Any, task_id: str, token: str, moderator_id: str, reason: str | None = None) -> Any:
    action, body = ("release", {}) if reason is None else ("skip", {"reason": reason})
    return api.client.post(
        f"/v1/tasks/{task_id}/{action}", json={"lease_token": token, **body}, headers=api.bearer(moderator_id)
    )


def test_a_skip_posted_again_is_answered_with_the_same_body_even_once_someone_else_holds_the_task(api: Any) -> None:
    task = api.lease("m1")
    first = _hand_back(api, task["task_id"], task["lease_token"], "m1", "wrong language")
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "queued" and first.json()["holder"] is None
    taken = api.client.post(
        f"/v1/tasks/{task['task_id']}/assign", json={"moderator_id": "m2"}, headers=api.bearer("admin")
    )
    assert taken.status_code == 200 and taken.json()["holder"] == "m2"
    again = _hand_back(api, task["task_id"], task["lease_token"], "m1", "wrong language")
    assert again.status_code == 200 and again.content == first.content
    released = _hand_back(api, task["task_id"], task["lease_token"], "m1")
    assert released.status_code == 409
    assert released.json() == {
        "detail": [
            {
                "field": "lease_token",
                "reason": f"you already skipped task {task['task_id']!r} under this lease, otherwise: the hand-back "
                'recorded is {"transition":"skipped","reason":"wrong language"}',
            }
        ]
    }
    audit = api.client.get("/v1/audit", headers=api.bearer("admin")).text
    assert audit.count('"transition":"skipped"') == 1 and '"transition":"released"' not in audit


def test_a_release_posted_again_is_answered_with_the_same_body(api: Any) -> None:
    task = api.lease("m1")
    first = _hand_back(api, task["task_id"], task["lease_token"], "m1")
    assert first.status_code == 200, first.text
    again = _hand_back(api, task["task_id"], task["lease_token"], "m1")
    assert again.status_code == 200 and again.content == first.content
    skipped = _hand_back(api, task["task_id"], task["lease_token"], "m1", "graphic")
    assert skipped.status_code == 409 and "you already released" in skipped.json()["detail"][0]["reason"]
    audit = api.client.get("/v1/audit", headers=api.bearer("admin")).text
    assert audit.count('"transition":"released"') == 1 and '"transition":"skipped"' not in audit


def test_a_retry_by_anyone_else_gets_the_answer_of_any_task_not_theirs(api: Any) -> None:
    task = api.lease("m1")
    waiting = api.submit(api.text_item())[0]["task_id"]
    assert _hand_back(api, task["task_id"], task["lease_token"], "m1").status_code == 200
    refusals = {
        (response.status_code, response.text.replace(task_id, "?"))
        for task_id, reason in ((task["task_id"], None), (waiting, None), ("missing", None), (task["task_id"], "x"))
        for response in (
            _hand_back(api, task_id, task["lease_token"].replace(task["task_id"], task_id), "m2", reason),
            _hand_back(api, task_id, f"{task_id}.9", "m1", reason),
        )
    }
    assert len(refusals) == 1 and next(iter(refusals))[0] == 409
