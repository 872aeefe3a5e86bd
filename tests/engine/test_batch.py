"""A batch's candidate window: work nobody free may take does not block the eligible work behind it."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.conftest import profile, video

from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.domain import Item, ModeratorStatus, TaskState
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


LANGUAGES = ["en", "es", "fr"]
AREAS = ["violence", "nudity", "spam", "child_safety"]


@st.composite
def floors(draw: st.DrawFn) -> tuple[list[Item], list[dict[str, Any]], int, list[int]]:
    """Waiting items (some needing a clearance, some severe, in several languages), moderators (some cleared, some
    with their severe budget spent, some away), a window width, and which tasks the first moderator skipped."""
    item_list = [
        video(
            f"i{index}",
            language=draw(st.sampled_from(LANGUAGES)),
            signals={draw(st.sampled_from(AREAS)): draw(st.floats(0.35, 0.9))},
            views_per_hour=draw(st.floats(1.0, 10_000.0)),
        )
        for index in range(draw(st.integers(1, 30)))
    ]
    moderators = [
        {
            "moderator_id": f"m{index}",
            "languages": dict.fromkeys(
                draw(st.lists(st.sampled_from(LANGUAGES), min_size=1, max_size=2, unique=True)), 1.0
            ),
            "policy_areas": AREAS,
            "clearance": draw(st.sampled_from([[], ["csam"]])),
            "severe_per_hour": draw(st.sampled_from([0, 20])),
            "status": draw(st.sampled_from(["available", "available", "away"])),
        }
        for index in range(draw(st.integers(2, 6)))
    ]
    skipped = draw(st.lists(st.integers(0, len(item_list) - 1), max_size=4, unique=True))
    return item_list, moderators, draw(st.integers(1, 4)), skipped


@settings(max_examples=60, deadline=None)
@given(floor=floors())
def test_deeper_window_reuses_rows_and_equals_the_window_walked_with_takers(
    example_config: OpsConfig, floor: tuple[list[Item], list[dict[str, Any]], int, list[int]]
) -> None:
    """The batch's second look past untakeable work keeps the rows it valued and values only new tasks: the window
    and matrix must be those of walking every queue with `Takers` and valuing the result from scratch."""
    item_list, moderators, top_k, skipped = floor
    everything = {"languages": dict.fromkeys(LANGUAGES, 1.0), "policy_areas": AREAS, "clearance": ["csam"]}
    engine = Engine(MemoryStore(), VirtualClock(1_000.0), narrow(example_config, top_k))
    engine.submit(item_list)
    engine.upsert_moderator(profile("skipper", **everything))
    for index in skipped:
        task = engine.task(f"i{index}")
        if task.state is TaskState.QUEUED:
            engine.assign_to(task.id, "skipper")
            engine.skip(task.id, engine.task(task.id).lease_token or "", "skipper", "test")
    engine.set_status("skipper", ModeratorStatus.AWAY)
    for fields in moderators:
        engine.upsert_moderator(profile(**fields))
    now = 1_000.0
    free, _ = engine._free_moderators()
    if len(free) < 2:
        return
    first = engine._candidates()
    value = engine.model.value(first, free, now)
    window, reused = engine._past_untakeable(first, value, free, now)
    expected = engine._candidates(takers=engine.model.takers(free, now))
    assert [task.id for task in window] == [task.id for task in expected]
    assert np.array_equal(reused.toarray(), engine.model.value(expected, free, now).toarray())
