"""The task lifecycle over HTTP: submit, pull, decide, and every way a lease ends."""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI

from queueopt.clock import VirtualClock
from queueopt.engine import qa_draw
from queueopt.service.app import create_app
from queueopt.service.routes import audit as audit_route
from queueopt.service.settings import Settings


def test_submit_pull_decide_then_the_item_shows_the_decision(api: Any) -> None:
    (result,) = api.submit(api.text_item("flow-1"))
    assert (result["status"], result["queue"], result["action"]) == ("queued", "text_high_en", "review")
    task = api.next("m1")
    assert task is not None and task["item_id"] == "flow-1" and task["holder"] == "m1"
    assert task["item"]["signals"] == {"hate": 0.8}
    body = {"lease_token": task["lease_token"], "verdict": "violating", "policy": "hate", "notes": "slur"}
    decided = api.client.post(f"/v1/tasks/{task['task_id']}/decision", json=body, headers=api.bearer("m1"))
    assert decided.status_code == 200 and decided.json()["state"] == "decided"
    item = api.client.get("/v1/items/flow-1", headers=api.bearer("ingest")).json()
    assert item["status"] == "decided" and item["verdict"] == "violating" and item["decided_by"] == "m1"
    assert item["decision"] == {"verdict": "violating", "policy": "hate", "action": None, "notes": "slur"}


def test_a_copy_names_the_task_that_decides_it_and_the_item_it_rides_on(api: Any) -> None:
    reviewed, copy = api.submit(api.text_item("r1", content_hash="h1"), api.text_item("r2", content_hash="h1"))
    assert (reviewed["task_id"], reviewed["duplicate_of"]) == ("r1", None)
    assert (copy["status"], copy["task_id"], copy["duplicate_of"]) == ("duplicate", "r1", "r1")
    spam = {"signals": {"spam": 0.999}, "content_hash": "h2"}
    removed, removed_copy = api.submit(api.text_item("s1", **spam), api.text_item("s2", **spam))
    assert (removed["status"], removed["task_id"]) == ("auto_actioned", None)
    assert (removed_copy["status"], removed_copy["task_id"], removed_copy["duplicate_of"]) == ("duplicate", None, "s1")
    item = api.client.get("/v1/items/s2", headers=api.bearer("ingest")).json()
    assert (item["task_id"], item["duplicate_of"], item["verdict"]) == (None, "s1", "violating")


def test_next_returns_the_current_lease_until_it_ends(api: Any) -> None:
    api.submit(api.text_item(), api.text_item())
    first = api.next("m1")
    assert first is not None and api.next("m1") == first


def test_an_ineligible_moderator_gets_nothing(api: Any) -> None:
    api.submit(api.text_item())
    assert api.next("m3") is None


def test_a_released_lease_is_stale_409(api: Any) -> None:
    task = api.lease("m1")
    lease = {"lease_token": task["lease_token"]}
    released = api.client.post(f"/v1/tasks/{task['task_id']}/release", json=lease, headers=api.bearer("m1"))
    assert released.status_code == 200 and released.json()["state"] == "queued"
    again = api.client.post(
        f"/v1/tasks/{task['task_id']}/decision", json=lease | {"verdict": "not_violating"}, headers=api.bearer("m1")
    )
    assert again.status_code == 409
    assert again.json()["detail"][0]["field"] == "lease_token"


def test_a_decision_is_applied_once(api: Any) -> None:
    """Sent again, it is answered as the first time (a retry: tests/service/test_decision_retry.py) and applied once;
    another decision under the same lease is refused."""
    task = api.lease("m1")
    body = {"lease_token": task["lease_token"], "verdict": "not_violating"}
    path = f"/v1/tasks/{task['task_id']}/decision"
    first = api.client.post(path, json=body, headers=api.bearer("m1"))
    assert first.status_code == 200
    assert api.client.post(path, json=body, headers=api.bearer("m1")).content == first.content
    other = body | {"verdict": "violating"}
    assert api.client.post(path, json=other, headers=api.bearer("m1")).status_code == 409
    audit = api.client.get("/v1/audit", headers=api.bearer("admin")).text
    assert audit.count('"transition":"decided"') == 1


def test_a_skipped_task_is_never_offered_to_that_moderator_again(api: Any) -> None:
    (result,) = api.submit(api.text_item())
    task = api.next("m1")
    assert task is not None and task["task_id"] == result["task_id"]
    skipped = api.client.post(
        f"/v1/tasks/{task['task_id']}/skip",
        json={"lease_token": task["lease_token"], "reason": "knows the author"},
        headers=api.bearer("m1"),
    )
    assert skipped.status_code == 200
    assert api.next("m1") is None
    other = api.next("m2")
    assert other is not None and other["task_id"] == task["task_id"]


def test_a_moderator_refers_content_of_an_area_they_may_not_decide(api: Any) -> None:
    """Found by a probe: m1, certified for neither child safety nor its clearance, decided a hate task as child
    safety with `report_ncmec` (200). Now a 422 on `policy` saying to refer it; the referral sends it back severe,
    for someone cleared, and never to m1 or m2 (not certified either)."""
    task = api.lease("m1")
    url = f"/v1/tasks/{task['task_id']}"
    token = {"lease_token": task["lease_token"]}
    decision = token | {"verdict": "violating", "policy": "child_safety", "action": "report_ncmec"}
    refused = api.client.post(f"{url}/decision", json=decision, headers=api.bearer("m1"))
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "policy"
    assert f"refer the task to that area instead (POST {url}/refer)" in refused.json()["detail"][0]["reason"]
    unknown = api.client.post(f"{url}/refer", json=token | {"policy": "gore", "reason": "x"}, headers=api.bearer("m1"))
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "policy"
    referral = token | {"policy": "child_safety", "reason": "a child in the second photo"}
    referred = api.client.post(f"{url}/refer", json=referral, headers=api.bearer("m1"))
    assert referred.status_code == 200
    assert (referred.json()["state"], referred.json()["severe"], referred.json()["holder"]) == ("queued", True, None)
    assert api.next("m1") is None and api.next("m2") is None


def test_only_an_admin_drops_a_task_and_only_a_waiting_qa_review(api: Any) -> None:
    (result,) = api.submit(api.text_item())
    url = f"/v1/tasks/{result['task_id']}/cancel"
    body = {"reason": "nobody may take it"}
    assert api.client.post(url, json=body, headers=api.bearer("m1")).status_code == 403
    missing = api.client.post(url, json={}, headers=api.bearer("admin"))
    assert missing.status_code == 422 and missing.json()["detail"][0]["field"] == "reason"
    review = api.client.post(url, json=body, headers=api.bearer("admin"))
    assert review.status_code == 409 and "withdraw its item instead" in review.json()["detail"][0]["reason"]
    unknown = api.client.post("/v1/tasks/nope~qa/cancel", json=body, headers=api.bearer("admin"))
    assert unknown.status_code == 404


def test_going_offline_releases_the_moderators_leases(api: Any) -> None:
    task = api.lease("m1")
    offline = api.client.post("/v1/moderators/m1/status", json={"status": "offline"}, headers=api.bearer("m1"))
    assert offline.status_code == 200 and offline.json()["leases"] == []
    assert offline.json()["status"] == "offline"
    assert api.next("m1") is None
    other = api.next("m2")
    assert other is not None and other["task_id"] == task["task_id"]


def test_extend_moves_the_lease_expiry_later(api: Any) -> None:
    task = api.lease("m1")
    body = {"lease_token": task["lease_token"], "seconds": 4 * 3600}
    extended = api.client.post(f"/v1/tasks/{task['task_id']}/extend", json=body, headers=api.bearer("m1"))
    assert extended.status_code == 200
    assert extended.json()["lease_expires_at"] > task["lease_expires_at"]


def test_extensions_take_a_lease_at_most_four_hours_past_its_own_length(
    settings: Settings, serve: Any, api_for: Any
) -> None:
    """Found over HTTP: each extension was capped at 4 h but could be repeated, and a lease was held for 46 h."""
    clock = VirtualClock(1_000_000.0)
    with serve(create_app(settings, clock=clock)) as client:
        api = api_for(client)
        client.put("/v1/moderators/m1", json=api.profile("m1"), headers=api.bearer("admin")).raise_for_status()
        task = api.lease("m1")
        until = task["lease_expires_at"] + 4 * 3600  # its own length (lease_s, no media) and 4 h

        def extend(seconds: float) -> Any:
            body = {"lease_token": task["lease_token"], "seconds": seconds}
            return client.post(f"/v1/tasks/{task['task_id']}/extend", json=body, headers=api.bearer("m1"))

        assert extend(4 * 3600).status_code == 200
        clock.advance(4 * 3600 - 60)
        refused = extend(4 * 3600)
        assert refused.status_code == 409
        (problem,) = refused.json()["detail"]
        assert problem["field"] == "seconds" and "at most 14400 s past its own 600 s" in problem["reason"]
        held = api.next("m1")
        assert held is not None and held["lease_expires_at"] == until - 600, "the refusal changed nothing"
        assert extend(until - clock.now()).json()["lease_expires_at"] == until


def test_an_admin_follows_a_task_from_lease_to_decision(api: Any) -> None:
    """Found by a review: the docs named `GET /v1/tasks/{task_id}`, which did not exist (every id answered 404)."""
    held = api.lease("m1")

    def read() -> Any:
        return api.client.get(f"/v1/tasks/{held['task_id']}", headers=api.bearer("admin"))

    assert read().status_code == 200
    seen = read().json()
    assert (seen["state"], seen["holder"], seen["item"]["id"]) == ("leased", "m1", held["item_id"])
    body = {"lease_token": held["lease_token"], "verdict": "violating", "policy": "hate"}
    api.client.post(f"/v1/tasks/{held['task_id']}/decision", json=body, headers=api.bearer("m1")).raise_for_status()
    assert (read().json()["state"], read().json()["holder"]) == ("decided", None)
    not_kept = {
        "field": "task_id",
        "reason": "no task 'no-such-task' (never submitted, or settled and purged after the retention period)",
    }
    missing = api.client.get("/v1/tasks/no-such-task", headers=api.bearer("admin"))
    assert missing.status_code == 404 and missing.json()["detail"] == [not_kept]
    # Found by a probe: assigning a purged task said only "no task", where every other route says why it may be gone.
    assign = {"moderator_id": "m1"}
    unassigned = api.client.post("/v1/tasks/no-such-task/assign", json=assign, headers=api.bearer("admin"))
    assert unassigned.status_code == 404 and unassigned.json()["detail"] == [not_kept]


def test_assign_to_an_ineligible_moderator_is_409(api: Any) -> None:
    (result,) = api.submit(api.text_item())
    response = api.client.post(
        f"/v1/tasks/{result['task_id']}/assign", json={"moderator_id": "m3"}, headers=api.bearer("admin")
    )
    assert response.status_code == 409


def test_a_long_poll_returns_work_that_arrives_while_it_waits(api: Any) -> None:
    answers: list[dict[str, Any] | None] = []
    waiting = threading.Thread(target=lambda: answers.append(api.next("m1", wait_s=20)))
    waiting.start()
    (result,) = api.submit(api.text_item())
    waiting.join()
    assert answers[0] is not None and answers[0]["task_id"] == result["task_id"]


def test_a_long_poll_with_nothing_to_do_ends_in_204(api: Any) -> None:
    assert api.next("m1", wait_s=0.2) is None


def test_queues_report_depth_and_leases(api: Any) -> None:
    api.submit(api.text_item(), api.text_item())
    api.next("m1")
    queues = {
        queue["name"]: queue for queue in api.client.get("/v1/queues", headers=api.bearer("admin")).json()["queues"]
    }
    assert (queues["text_high_en"]["depth"], queues["text_high_en"]["leased"]) == (1, 1)
    assert queues["text_high_en"]["oldest_age_s"] >= 0


def test_the_audit_log_streams_as_ndjson_and_filters_by_time(api: Any) -> None:
    task = api.lease("m1")
    response = api.client.get("/v1/audit", headers=api.bearer("admin"))
    assert response.headers["content-type"].startswith("application/x-ndjson")
    entries = [json.loads(line) for line in response.text.splitlines()]
    mine = [entry["transition"] for entry in entries if entry["task_id"] == task["task_id"]]
    assert mine == ["queued", "leased"]
    assert [entry["seq"] for entry in entries] == sorted(entry["seq"] for entry in entries)
    later = api.client.get("/v1/audit", params={"since": entries[-1]["at"] + 1}, headers=api.bearer("admin"))
    assert later.status_code == 200 and later.text == ""


def test_the_audit_export_is_the_same_whatever_its_page_size(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The export is read from the store a page at a time; however the pages fall (a full last page included),
    every entry comes once and in order. Pages are made small here so that a few entries span several."""
    api.submit(api.text_item(), api.text_item(), api.text_item())
    api.lease("m1")
    whole = api.client.get("/v1/audit", headers=api.bearer("admin")).text.splitlines()
    assert len(whole) >= 5
    for page in range(1, len(whole) + 2):
        monkeypatch.setattr(audit_route, "PAGE", page)
        assert api.client.get("/v1/audit", headers=api.bearer("admin")).text.splitlines() == whole, page


def test_a_pull_that_does_not_wait_is_not_counted_as_a_long_poll(api: Any) -> None:
    assert api.next("m1") is None
    text = api.client.get("/metrics", headers=api.bearer("metrics")).text
    assert _sample(text, "queueopt_next_wait_seconds_count") == 0.0


def test_metrics_expose_every_family_in_prometheus_text(api: Any) -> None:
    task = api.lease("m1")
    api.client.post(
        f"/v1/tasks/{task['task_id']}/decision",
        json={"lease_token": task["lease_token"], "verdict": "violating"},
        headers=api.bearer("m1"),
    )
    api.next("m2")
    response = api.client.get("/metrics", headers=api.bearer("metrics"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in (
        'queueopt_queue_depth{queue="text_high_en"}',
        "queueopt_queue_oldest_age_seconds",
        'queueopt_items_submitted_total{action="review",modality="text"} 1.0',
        "queueopt_tasks_leased_total 1.0",
        'queueopt_decisions_total{verdict="violating"} 1.0',
        "queueopt_lease_expiries_total",
        "queueopt_sla_breaches_total",
        "queueopt_solver_seconds_bucket",
        "queueopt_assign_batch_size_bucket",
        'queueopt_http_request_duration_seconds_count{method="POST",route="/v1/tasks/{task_id}/assign",status="200"}',
    ):
        assert name in text, name


def _sample(text: str, series: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(series + " ")]
    return float(line.rsplit(" ", 1)[1])


def test_metrics_export_every_counter_from_zero_and_each_queues_sla(api: Any) -> None:
    """Found by a probe: a labelled counter appeared only at its first event, and Prometheus reads a series first seen
    at 1 as no increase, so the first SLA breach of a queue after a restart never showed."""
    text = api.client.get("/metrics", headers=api.bearer("metrics")).text
    assert _sample(text, 'queueopt_sla_breaches_total{queue="child_safety"}') == 0.0
    assert _sample(text, 'queueopt_qa_reviews_total{agrees="false",queue="video_high_en"}') == 0.0
    assert _sample(text, 'queueopt_decisions_total{verdict="not_violating"}') == 0.0
    assert _sample(text, 'queueopt_items_submitted_total{action="auto_remove",modality="livestream"}') == 0.0
    assert _sample(text, 'queueopt_queue_sla_seconds{queue="text_high_en"}') > 0
    assert 0 < _sample(text, 'queueopt_queue_sla_target_ratio{queue="text_high_en"}') <= 1
    assert _sample(text, "queueopt_serving") == 1.0


def test_a_long_polls_wait_for_work_is_not_counted_as_latency(api: Any) -> None:
    """Found by a probe: with `wait_s` up to 30 s, the p99 latency of `/next` was the wait moderators asked for."""
    assert api.next("m1", wait_s=0.5) is None
    text = api.client.get("/metrics", headers=api.bearer("metrics")).text
    route = 'method="POST",route="/v1/moderators/{moderator_id}/next",status="204"'
    assert _sample(text, f"queueopt_http_request_duration_seconds_sum{{{route}}}") < 0.25
    assert _sample(text, "queueopt_next_wait_seconds_count") == 1.0
    assert _sample(text, "queueopt_next_wait_seconds_sum") >= 0.45


def test_a_long_poll_woken_several_times_counts_its_whole_wait(app: FastAPI, api: Any) -> None:
    """A wait ends early whenever a batch ran or work arrived for someone else, and the pull waits on for what is
    left; the metric sums every such wait (found by a mutation review: keeping only the last one passed)."""
    assigner = app.state.runtime.assigner
    wait: Callable[[float], Awaitable[None]] = assigner.wait_for_work

    async def woken_early(timeout: float) -> None:
        await wait(min(timeout, 0.1))

    assigner.wait_for_work = woken_early
    assert api.next("m1", wait_s=0.5) is None
    text = api.client.get("/metrics", headers=api.bearer("metrics")).text
    assert _sample(text, "queueopt_next_wait_seconds_count") == 1.0
    assert _sample(text, "queueopt_next_wait_seconds_sum") >= 0.45


def test_readiness_and_liveness(api: Any) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"status": "ready"}
    assert [api.client.head(path).status_code for path in ("/healthz", "/readyz")] == [200, 200]


def test_a_moderator_without_the_clearance_never_gets_a_child_safety_task(api: Any) -> None:
    (result,) = api.submit(api.text_item(signals={"child_safety": 0.9}))
    assert result["queue"] == "child_safety"
    assert api.next("m1") is None
    response = api.client.post(
        f"/v1/tasks/{result['task_id']}/assign", json={"moderator_id": "m1"}, headers=api.bearer("admin")
    )
    assert response.status_code == 409


def test_a_copy_removed_automatically_takes_its_contents_review_from_a_moderator_without_the_clearance(
    api: Any,
) -> None:
    """Found by a probe: a re-upload of a photo under nudity review scored for child safety, was removed
    automatically, and the review stayed with m1 (no `csam`), then went to m2 once handed back."""
    photo = {"modality": "photo", "content_hash": "photo-123"}
    task = api.lease("m1", api.text_item("ph1", signals={"nudity": 0.7}, **photo))
    assert not task["severe"]
    (removed,) = api.submit(api.text_item("ph2", signals={"nudity": 0.996, "child_safety": 0.95}, **photo))
    assert (removed["status"], removed["action"], removed["task_id"]) == ("auto_actioned", "auto_remove", None)
    decision = {"lease_token": task["lease_token"], "verdict": "not_violating", "policy": "nudity"}
    refused = api.client.post("/v1/tasks/ph1/decision", json=decision, headers=api.bearer("m1"))
    assert refused.status_code == 409
    assert api.next("m2") is None and api.next("m1") is None
    assign = "/v1/tasks/ph1/assign"
    assert api.client.post(assign, json={"moderator_id": "m2"}, headers=api.bearer("admin")).status_code == 409
    cleared = api.profile("m4", policy_areas=["nudity", "child_safety"], clearance=["csam"])
    api.client.put("/v1/moderators/m4", json=cleared, headers=api.bearer("admin")).raise_for_status()
    given = api.client.post(assign, json={"moderator_id": "m4"}, headers=api.bearer("admin"))
    assert given.status_code == 200 and given.json()["severe"]
    released = [
        json.loads(line)
        for line in api.client.get("/v1/audit", headers=api.bearer("admin")).text.splitlines()
        if json.loads(line)["transition"] == "released"
    ]
    assert [(entry["actor"], entry["note"]) for entry in released] == [
        ("ingest", "lease of m1: the same content now asks more of its reviewer, severe")
    ]


def test_readiness_fails_with_503_when_the_store_does_not_answer(app: Any, api: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(app.state.runtime.engine, "ready", lambda: False)
    response = api.client.get("/readyz")
    assert response.status_code == 503 and response.json()["detail"][0]["reason"]


def test_an_item_is_cancelled_while_it_waits_and_not_once_decided(api: Any) -> None:
    (queued,) = api.submit(api.text_item())
    cancelled = api.client.post(f"/v1/items/{queued['id']}/cancel", headers=api.bearer("ingest"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.client.post(f"/v1/items/{queued['id']}/cancel", headers=api.bearer("ingest"))
    assert again.status_code == 409 and again.json()["detail"][0]["field"] == "item_id"
    audit = [json.loads(line) for line in api.client.get("/v1/audit", headers=api.bearer("admin")).text.splitlines()]
    assert [entry["actor"] for entry in audit if entry["transition"] == "cancelled"] == ["ingest"]


def test_an_item_an_admin_submits_and_cancels_is_audited_as_the_admins(api: Any) -> None:
    """The audit says who did it: an admin acting on the pipelines' routes is not the pipeline."""
    item = api.text_item()
    submitted = api.client.post("/v1/items", json={"items": [item]}, headers=api.bearer("admin"))
    assert submitted.status_code == 202, submitted.text
    api.client.post(f"/v1/items/{item['id']}/cancel", headers=api.bearer("admin")).raise_for_status()
    audit = [json.loads(line) for line in api.client.get("/v1/audit", headers=api.bearer("admin")).text.splitlines()]
    mine = [(entry["transition"], entry["actor"]) for entry in audit if entry["item_id"] == item["id"]]
    assert mine == [("queued", "admin"), ("cancelled", "admin")]


def test_a_release_an_admin_causes_is_audited_as_the_admins(api: Any) -> None:
    api.lease("m1")
    api.lease("m2")
    offline = {"status": "offline"}
    assert api.client.post("/v1/moderators/m1/status", json=offline, headers=api.bearer("admin")).status_code == 200
    assert api.client.post("/v1/moderators/m2/status", json=offline, headers=api.bearer("m2")).status_code == 200
    audit = [json.loads(line) for line in api.client.get("/v1/audit", headers=api.bearer("admin")).text.splitlines()]
    released = [(entry["actor"], entry["note"]) for entry in audit if entry["transition"] == "released"]
    assert released == [
        ("admin", "lease of m1: moderator went offline"),
        ("moderator:m2", "lease of m2: moderator went offline"),
    ]


def test_a_moderator_shows_the_estimates_assignment_uses_and_their_accuracy_only_to_an_admin(api: Any) -> None:
    """Found by a probe: a moderator reading their own accuracy after each QA outcome learned which of their
    decisions QA sampled and what it found (one wrong verdict took the estimate from 0.9 to 0.708)."""
    shown = api.client.get("/v1/moderators/m1", headers=api.bearer("admin")).json()
    assert shown["accuracy"] and all(
        0.0 < value["estimate"] < 1.0 and value["qa_reviews"] == 0 for value in shown["accuracy"].values()
    )
    assert set(shown["expected_handling_s"]) == set(shown["profile"]["modalities"])
    assert all(seconds > 0 for seconds in shown["expected_handling_s"].values())
    own = api.client.get("/v1/moderators/m1", headers=api.bearer("m1")).json()
    assert own == {**shown, "accuracy": None}
    available = api.client.post("/v1/moderators/m1/status", json={"status": "available"}, headers=api.bearer("m1"))
    assert available.status_code == 200 and available.json()["accuracy"] is None


def test_what_the_model_learned_is_kept_when_the_service_stops(settings: Any, serve: Any, api_for: Any) -> None:
    """A deploy (stop, start) keeps the handling times and QA outcomes learned, not just the decisions."""
    from queueopt.service.app import create_app

    with serve(create_app(settings)) as client:
        api = api_for(client)
        client.put("/v1/moderators/m1", json=api.profile("m1"), headers=api.bearer("admin")).raise_for_status()
        task = api.lease("m1")
        body = {"lease_token": task["lease_token"], "verdict": "not_violating"}
        decided = client.post(f"/v1/tasks/{task['task_id']}/decision", json=body, headers=api.bearer("m1"))
        assert decided.status_code == 200
        learned = client.get("/v1/moderators/m1", headers=api.bearer("m1")).json()["expected_handling_s"]
    with serve(create_app(settings)) as client:
        again = client.get("/v1/moderators/m1", headers=api.bearer("m1")).json()["expected_handling_s"]
    assert again == learned and learned["text"] != 60.0  # 60 s is the prior, before any decision


def test_a_qa_review_waits_behind_live_unreviewed_content(api: Any, app: Any) -> None:
    """Found over HTTP: the QA re-review of a viral item, already decided, kept the item's harm rate and was leased
    before a fresh, unreviewed item of the same queue."""
    viral = _self_harm_sampled_for_qa(api, app, "viral")
    api.submit(api.text_item(viral, signals={"self_harm": 0.9}, views_per_hour=100_000))
    held = api.next("m1")
    assert held is not None and held["queue"] == "self_harm"
    decision = {"lease_token": held["lease_token"], "verdict": "violating", "policy": "self_harm"}
    api.client.post(f"/v1/tasks/{viral}/decision", json=decision, headers=api.bearer("m1")).raise_for_status()
    (fresh,) = api.submit(api.text_item(signals={"self_harm": 0.9}, views_per_hour=10))
    offered = api.next("m2")
    assert offered is not None and offered["task_id"] == fresh["task_id"]
    decision = {"lease_token": offered["lease_token"], "verdict": "violating", "policy": "self_harm"}
    api.client.post(
        f"/v1/tasks/{fresh['task_id']}/decision", json=decision, headers=api.bearer("m2")
    ).raise_for_status()
    qa = api.next("m2")
    assert qa is not None and qa["task_id"] == f"{viral}~qa" and qa["priority"] == 0.0


def test_the_pipeline_reads_what_qa_found_on_the_item_and_a_moderator_may_not(api: Any, app: Any) -> None:
    """QA does not overturn: the pipeline reads the finding on the item, to escalate a violation the decision missed.
    A moderator may not read items, so never learns which of their decisions were sampled."""
    sampled = _self_harm_sampled_for_qa(api, app, "s")
    task = api.lease("m1", api.text_item(sampled, signals={"self_harm": 0.9}))
    decision = {"lease_token": task["lease_token"], "verdict": "not_violating"}
    api.client.post(f"/v1/tasks/{sampled}/decision", json=decision, headers=api.bearer("m1")).raise_for_status()
    url = f"/v1/items/{sampled}"
    assert api.client.get(url, headers=api.bearer("ingest")).json()["qa"] == {
        "state": "queued",
        "decision": None,
        "agrees": None,
    }
    qa = api.next("m2")
    assert qa is not None and qa["task_id"] == f"{sampled}~qa"
    found = {"verdict": "violating", "policy": "self_harm", "action": "remove", "notes": "method shown"}
    body = {"lease_token": qa["lease_token"]} | found
    api.client.post(f"/v1/tasks/{sampled}~qa/decision", json=body, headers=api.bearer("m2")).raise_for_status()
    item = api.client.get(url, headers=api.bearer("ingest")).json()
    assert (item["verdict"], item["decided_by"]) == ("not_violating", "m1")  # the decision stands
    assert item["qa"] == {"state": "decided", "decision": found, "agrees": False}
    assert api.client.get(url, headers=api.bearer("m1")).status_code == 403
    text = api.client.get("/metrics", headers=api.bearer("metrics")).text  # the queue's quality, for operations
    assert _sample(text, 'queueopt_qa_reviews_total{agrees="false",queue="self_harm"}') == 1.0
    assert _sample(text, 'queueopt_qa_reviews_total{agrees="true",queue="self_harm"}') == 0.0


def _self_harm_sampled_for_qa(api: Any, app: Any, prefix: str) -> str:
    """An id whose review in the `self_harm` queue QA samples (5%), with m1 and m2 certified in self harm only."""
    for moderator_id in ("m1", "m2"):
        api.client.put(
            f"/v1/moderators/{moderator_id}",
            json=api.profile(moderator_id, policy_areas=["self_harm"]),
            headers=api.bearer("admin"),
        ).raise_for_status()
    secret = app.state.runtime.engine.qa_secret
    return next(f"{prefix}-{index}" for index in range(1000) if qa_draw(secret, f"{prefix}-{index}") < 0.05)


def test_a_severe_budget_set_to_0_hands_back_the_severe_tasks_held(api: Any) -> None:
    """Found over HTTP: a wellbeing intervention (severe_per_hour 0) left the moderator holding, seeing and deciding
    a severe item. A lowered budget that is not 0 keeps the lease: it was counted when leased."""
    task = api.lease("m1", api.text_item(modality="video", signals={"violence": 0.8}))
    assert task["severe"]
    for budget, leases in ((1, [task["task_id"]]), (0, [])):
        changed = api.client.put(
            "/v1/moderators/m1", json=api.profile("m1", severe_per_hour=budget), headers=api.bearer("admin")
        )
        assert changed.status_code == 200 and changed.json()["leases"] == leases
    assert api.next("m1") is None
    decision = {"lease_token": task["lease_token"], "verdict": "violating", "policy": "violence"}
    refused = api.client.post(f"/v1/tasks/{task['task_id']}/decision", json=decision, headers=api.bearer("m1"))
    assert refused.status_code == 409
    released = [
        json.loads(line)
        for line in api.client.get("/v1/audit", headers=api.bearer("admin")).text.splitlines()
        if json.loads(line)["transition"] == "released"
    ]
    assert [(entry["actor"], entry["note"]) for entry in released] == [
        ("admin", "lease of m1: moderator may see no severe items (severe_per_hour is 0)")
    ]


def test_a_profile_put_without_a_status_keeps_the_moderators_status(api: Any) -> None:
    """Found over HTTP: an admin adding a language to an offline moderator's profile made them available again."""
    offline = api.client.post("/v1/moderators/m1/status", json={"status": "offline"}, headers=api.bearer("admin"))
    assert offline.status_code == 200
    changed = api.client.put(
        "/v1/moderators/m1", json=api.profile("m1", languages={"en": 1.0, "fr": 0.5}), headers=api.bearer("admin")
    )
    assert changed.status_code == 200 and changed.json()["status"] == "offline"
    assert changed.json()["profile"]["languages"] == {"en": 1.0, "fr": 0.5}
    named = api.client.put("/v1/moderators/m1", json=api.profile("m1", status="available"), headers=api.bearer("admin"))
    assert named.json()["status"] == "available"


def test_a_suspended_moderator_gets_nothing_and_only_an_admin_lifts_it(api: Any) -> None:
    """Found by a probe: a moderator set offline by an admin could set themselves available again; an admin had
    no status the moderator could not undo."""
    task = api.lease("m1")
    path = "/v1/moderators/m1/status"
    suspended = api.client.post(path, json={"status": "suspended"}, headers=api.bearer("admin"))
    assert suspended.status_code == 200 and suspended.json()["leases"] == []
    assert api.next("m1") is None
    for status in ("available", "offline", "suspended"):
        refused = api.client.post(path, json={"status": status}, headers=api.bearer("m1"))
        assert refused.status_code == 403 and refused.json()["detail"][0]["field"] == "status", refused.text
    assert api.client.post(path, json={"status": "suspended"}, headers=api.bearer("m2")).status_code == 403
    own = api.client.post("/v1/moderators/m2/status", json={"status": "suspended"}, headers=api.bearer("m2"))
    assert own.status_code == 403 and "only an admin" in own.text
    lifted = api.client.post(path, json={"status": "available"}, headers=api.bearer("admin"))
    assert lifted.status_code == 200 and lifted.json()["status"] == "available"
    again = api.next("m1")
    assert again is not None and again["task_id"] == task["task_id"]
