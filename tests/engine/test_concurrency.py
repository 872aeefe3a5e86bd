"""Many threads submitting, leasing, deciding and expiring at once, on every store; then the store's final
state is checked: every acknowledged item exactly once, and the audit log never shows a task leased twice
without the first lease ending in between."""

from __future__ import annotations

import threading

from tests.engine.conftest import EngineFactory, assert_never_leased_twice, profile, video

from queueopt.clock import VirtualClock
from queueopt.domain import Decision, TaskState, Verdict
from queueopt.engine import Engine
from queueopt.errors import QueueoptError


def test_threads_never_double_lease_or_lose_items(engine_factory: EngineFactory, clock: VirtualClock) -> None:
    engine: Engine = engine_factory()
    moderators = [f"m{index}" for index in range(6)]
    for moderator in moderators:
        engine.upsert_moderator(profile(moderator, capacity=2))
    acknowledged: list[str] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def submitter(worker: int) -> None:
        for batch in range(15):
            ids = [f"w{worker}-b{batch}-{index}" for index in range(10)]
            engine.submit([video(item_id, content_hash=None) for item_id in ids])
            acknowledged.extend(ids)

    def reviewer(moderator: str) -> None:
        while not stop.is_set():
            task = engine.next_for(moderator)
            if task is None or task.lease_token is None:
                continue
            try:
                if hash(task.id) % 5 == 0:
                    engine.release(task.id, task.lease_token, moderator)
                else:
                    engine.decide(task.id, task.lease_token, moderator, Decision(verdict=Verdict.VIOLATING))
            except QueueoptError:
                pass  # the lease expired under us: exactly what the sweeper is for

    def sweeper() -> None:
        while not stop.is_set():
            clock.advance(50.0)
            engine.expire()
            engine.assign_batch()

    def guarded(target: object, *args: object) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)  # type: ignore[operator]
            except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
                failures.append(error)

        return threading.Thread(target=run)

    submitters = [guarded(submitter, worker) for worker in range(4)]
    others = [guarded(reviewer, moderator) for moderator in moderators] + [guarded(sweeper)]
    for thread in submitters + others:
        thread.start()
    for thread in submitters:
        thread.join()
    stop.set()
    for thread in others:
        thread.join()
    assert failures == []

    store_items = engine.audit(limit=10**6)
    assert len(acknowledged) == len(set(acknowledged)) == 600
    for item_id in acknowledged:
        assert engine.item(item_id).id == item_id
    assert_never_leased_twice(store_items)
    for moderator in moderators:
        assert len(engine.moderator(moderator).leases) <= 2
    leased = [task for task in (engine.task(item_id) for item_id in acknowledged) if task.state is TaskState.LEASED]
    assert len({task.id for task in leased}) == len(leased)
