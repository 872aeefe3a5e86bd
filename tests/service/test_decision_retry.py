"""A decision posted twice over HTTP (a review tool retrying after a timeout), found by a reviewer probing the service:
the retry is answered as the first time, a different decision names the one recorded, anyone else learns nothing."""

from __future__ import annotations

from typing import Any


def _decide(api: Any, task_id: str, token: str, moderator_id: str, **decision: Any) -> Any:
    return api.client.post(
        f"/v1/tasks/{task_id}/decision",
        json={"lease_token": token, **decision},
        headers=api.bearer(moderator_id),
    )


def test_the_same_decision_posted_again_is_answered_with_the_same_body(api: Any) -> None:
    task = api.lease("m1")
    sent = {"verdict": "violating", "policy": "hate", "notes": "slur"}
    first = _decide(api, task["task_id"], task["lease_token"], "m1", **sent)
    assert first.status_code == 200, first.text
    again = _decide(api, task["task_id"], task["lease_token"], "m1", **sent)
    assert again.status_code == 200 and again.content == first.content
    other = _decide(api, task["task_id"], task["lease_token"], "m1", verdict="not_violating")
    assert other.status_code == 409
    assert other.json() == {
        "detail": [
            {
                "field": "lease_token",
                "reason": f"you already decided task {task['task_id']!r} under this lease, otherwise: the decision "
                'recorded is {"verdict":"violating","policy":"hate","action":null,"notes":"slur"}',
            }
        ]
    }
    audit = api.client.get("/v1/audit", headers=api.bearer("admin")).text
    assert audit.count('"transition":"decided"') == 1


def test_a_retry_by_anyone_else_gets_the_answer_of_any_task_not_theirs(api: Any) -> None:
    task = api.lease("m1")
    waiting = api.submit(api.text_item())[0]["task_id"]
    sent = {"verdict": "violating", "policy": "hate"}
    assert _decide(api, task["task_id"], task["lease_token"], "m1", **sent).status_code == 200
    refusals = {
        (response.status_code, response.text.replace(task_id, "?"))
        for task_id, response in (
            (task["task_id"], _decide(api, task["task_id"], task["lease_token"], "m2", **sent)),
            (task["task_id"], _decide(api, task["task_id"], f"{task['task_id']}.9", "m1", **sent)),
            (waiting, _decide(api, waiting, f"{waiting}.1", "m2", **sent)),
            ("missing", _decide(api, "missing", "missing.1", "m2", **sent)),
        )
    }
    assert len(refusals) == 1 and next(iter(refusals))[0] == 409
