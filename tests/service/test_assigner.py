"""When the assigner runs a batch: at its tick, and at once only when work arrives while a moderator waits.

A moderator asking for work never starts a batch by itself: `/next` already leased them whatever they could get, so
a batch could add nothing for them. Before this rule, one moderator long-polling an empty queue kept the assigner
running batches back to back for the whole wait.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI

from queueopt.service.assigner import Assigner
from queueopt.service.metrics import ServiceMetrics


def _count_batches(app: FastAPI) -> list[int]:
    """Wrap the running engine's `assign_batch`; the list grows by one per batch."""
    engine = app.state.runtime.engine
    calls: list[int] = []
    batch: Callable[[], Any] = engine.assign_batch

    def counted() -> Any:
        calls.append(1)
        return batch()

    engine.assign_batch = counted
    return calls


def _while_m2_waits(app: FastAPI, api: Any, act: Callable[[], object]) -> dict[str, Any] | None:
    """m2's long-poll, with `act` done once m2 is known to wait (not most likely waiting): its wait is wrapped to
    say so. A batch first takes any work a submission left pending, so that only `act` can start the next one."""
    assigner = app.state.runtime.assigner

    async def batch() -> None:
        await assigner.run_once()

    api.client.run(batch)
    waiting = threading.Event()
    wait: Callable[[float], Awaitable[None]] = assigner.wait_for_work

    async def signalled(timeout: float) -> None:
        waiting.set()
        await wait(timeout)

    assigner.wait_for_work = signalled
    answers: list[dict[str, Any] | None] = []
    waiter = threading.Thread(target=lambda: answers.append(api.next("m2", wait_s=10)))
    waiter.start()
    assert waiting.wait(10)
    act()
    waiter.join()
    return answers[0]


def _last_lease(api: Any) -> tuple[str, str]:
    """Who made the last lease and to whom: the assigner's batch, or a moderator's own look (`moderator:<id>`)."""
    audit = [json.loads(line) for line in api.client.get("/v1/audit", headers=api.bearer("admin")).text.splitlines()]
    leases = [(entry["actor"], entry["note"]) for entry in audit if entry["transition"] == "leased"]
    return leases[-1]


def test_a_long_poll_on_an_empty_queue_runs_no_batch(app: FastAPI, api: Any) -> None:
    batches = _count_batches(app)
    assert api.next("m1", wait_s=1.0) is None
    assert batches == []


def test_a_long_poll_for_work_nobody_can_take_runs_no_batch_after_the_first(app: FastAPI, api: Any) -> None:
    (result,) = api.submit(api.text_item())
    api.client.post(
        f"/v1/tasks/{result['task_id']}/assign", json={"moderator_id": "m1"}, headers=api.bearer("admin")
    ).raise_for_status()
    api.submit(api.text_item(), api.text_item())  # English: never for m3; m2 can take one of them
    batches = _count_batches(app)
    assert api.next("m3", wait_s=1.0) is None
    assert len(batches) == 1  # the submission had not been seen by a batch yet; nothing after it


def test_a_skipped_task_reaches_a_moderator_who_is_waiting(api: Any) -> None:
    task = api.lease("m1")
    answers: list[dict[str, Any] | None] = []
    waiting = threading.Thread(target=lambda: answers.append(api.next("m2", wait_s=5)))
    waiting.start()
    time.sleep(0.5)  # m2 is most likely waiting by now; if not, its first look finds the task itself
    skipped = api.client.post(
        f"/v1/tasks/{task['task_id']}/skip",
        json={"lease_token": task["lease_token"], "reason": "conflict of interest"},
        headers=api.bearer("m1"),
    )
    assert skipped.status_code == 200
    waiting.join()
    assert answers[0] is not None and answers[0]["task_id"] == task["task_id"]


@pytest.mark.parametrize(
    ("path", "body", "who"),
    [
        ("/v1/moderators/m1/status", {"status": "offline"}, "m1"),
        ("/v1/moderators/m1/status", {"status": "suspended"}, "admin"),
        ("/v1/tasks/{task_id}/release", {"lease_token": "{lease_token}"}, "m1"),
        ("/v1/tasks/{task_id}/skip", {"lease_token": "{lease_token}", "reason": "conflict of interest"}, "m1"),
    ],
    ids=["offline", "suspended", "released", "skipped"],
)
def test_a_task_handed_back_starts_a_batch_for_a_moderator_who_is_waiting(
    app: FastAPI, api: Any, path: str, body: dict[str, str], who: str
) -> None:
    """Without the batch, the waiting moderator would find the task only when their wait ran out, leasing it
    themselves. m1 goes away first (keeping its lease) so that the batch has nobody but m2 to give the task to."""
    task = api.lease("m1")
    api.client.post("/v1/moderators/m1/status", json={"status": "away"}, headers=api.bearer("m1")).raise_for_status()
    sent = {key: value.format(**task) for key, value in body.items()}
    hand_back = partial(api.client.post, path.format(**task), json=sent, headers=api.bearer(who))
    answer = _while_m2_waits(app, api, lambda: hand_back().raise_for_status())
    assert answer is not None and answer["task_id"] == task["task_id"]
    assert _last_lease(api) == ("assigner", "to m2")


def test_a_moderator_who_becomes_available_is_given_waiting_work_by_a_batch_at_once(app: FastAPI, api: Any) -> None:
    """Not at the next tick (a minute here): the work is leased to them before they ask for it."""
    for moderator in ("m1", "m2"):
        api.client.post(
            f"/v1/moderators/{moderator}/status", json={"status": "away"}, headers=api.bearer(moderator)
        ).raise_for_status()
    (result,) = api.submit(api.text_item())
    engine = app.state.runtime.engine
    batched = threading.Event()
    batch: Callable[[], Any] = engine.assign_batch

    def signalled() -> Any:
        try:
            return batch()
        finally:
            batched.set()

    engine.assign_batch = signalled
    api.client.post(
        "/v1/moderators/m1/status", json={"status": "available"}, headers=api.bearer("m1")
    ).raise_for_status()
    assert batched.wait(10)
    assert api.client.get("/v1/moderators/m1", headers=api.bearer("m1")).json()["leases"] == [result["task_id"]]


class _Stats:
    batches = 0

    def drain_solver_seconds(self) -> Iterator[float]:
        return iter(())


class _Engine:
    """Just what the assigner calls; every batch leases one task."""

    def __init__(self) -> None:
        self.batches = 0
        self.stats = _Stats()

    def assign_batch(self) -> list[object]:
        self.batches += 1
        return [object()]


def test_work_that_arrived_before_a_moderator_started_waiting_starts_a_batch() -> None:
    """A submission that lands between a moderator's empty look and their wait is not left for the next tick."""

    async def scenario() -> tuple[int, int, float]:
        engine = _Engine()
        assigner = Assigner(engine, tick_s=60.0, metrics=ServiceMetrics())  # type: ignore[arg-type]
        assigner.start()
        try:
            assigner.work_arrived()  # nobody waits yet: no batch
            await asyncio.sleep(0.1)
            before = engine.batches
            started = time.monotonic()
            await assigner.wait_for_work(30.0)
            return before, engine.batches, time.monotonic() - started
        finally:
            await assigner.stop()

    before, after, waited = asyncio.run(scenario())
    assert (before, after) == (0, 1)
    assert waited < 10.0


class _RefusedEngine:
    """A batch that had work and leased nothing: every pair it chose was taken meanwhile."""

    def __init__(self) -> None:
        self.stats = _Stats()

    def assign_batch(self) -> list[object]:
        self.stats.batches += 1
        return []


def test_a_batch_that_leased_nothing_counts_in_the_batch_sizes() -> None:
    """Found by a probe: only batches that leased something were observed, so the size histogram's count disagreed
    with `queueopt_assign_batches_total` and its 0 bucket stayed empty."""
    metrics = ServiceMetrics()
    assigner = Assigner(_RefusedEngine(), tick_s=60.0, metrics=metrics)  # type: ignore[arg-type]
    assert asyncio.run(assigner.run_once()) == 0
    assert metrics.registry.get_sample_value("queueopt_assign_batch_size_count") == 1.0
    assert metrics.registry.get_sample_value("queueopt_assign_batch_size_bucket", {"le": "0.0"}) == 1.0
