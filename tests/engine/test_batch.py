"""A batch's candidate window: work nobody free may take does not block the eligible work behind it."""

from __future__ import annotations

from tests.engine.conftest import profile, video

from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.engine import Engine
from queueopt.store import MemoryStore


def narrow(config: OpsConfig, top_k: int) -> OpsConfig:
    """The same operations with a candidate window of `top_k` tasks per queue."""
    data = config.model_dump()
    data["queues"] = [{**queue, "top_k": top_k} for queue in data["queues"]]
    return OpsConfig.model_validate(data)


def test_severe_work_nobody_free_may_see_does_not_block_the_queue(example_config: OpsConfig) -> None:
    engine = Engine(MemoryStore(), VirtualClock(1_000.0), narrow(example_config, 2))
    severe = [video(f"severe{index}", views_per_hour=10_000.0) for index in range(5)]
    mild = video("mild", signals={"nudity": 0.7}, views_per_hour=10.0)
    engine.submit([*severe, mild])
    queues = {engine.task(item.id).queue for item in [*severe, mild]}
    assert len(queues) == 1, "the premise: one queue, the severe items first in it"
    assert all(engine.task(item.id).severe for item in severe) and not engine.task("mild").severe
    engine.upsert_moderator(profile("spent", severe_per_hour=0))
    (lease,) = engine.assign_batch()
    assert lease.task_id == "mild"
    engine.upsert_moderator(profile("fresh"))
    (lease,) = engine.assign_batch()
    assert lease.task_id.startswith("severe")


def test_work_skipped_by_everyone_free_does_not_block_the_queue(example_config: OpsConfig) -> None:
    engine = Engine(MemoryStore(), VirtualClock(1_000.0), narrow(example_config, 1))
    engine.submit([video("first", views_per_hour=10_000.0), video("second", views_per_hour=10.0)])
    engine.upsert_moderator(profile("m1"))
    (lease,) = engine.assign_batch()
    assert lease.task_id == "first"
    engine.skip("first", lease.lease_token, "m1", "conflict of interest")
    (lease,) = engine.assign_batch()
    assert lease.task_id == "second"
