"""A batch's candidate window: work nobody free may take does not block the eligible work behind it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.conftest import profile, video

from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.domain import Item
from queueopt.engine import Engine
from queueopt.store import MemoryStore

AREAS = ["child_safety", "violent_extremism", "self_harm", "violence", "hate", "nudity", "spam"]


@st.composite
def items(draw: st.DrawFn, index: int) -> Item:
    return Item(
        id=f"i{index}",
        modality=draw(st.sampled_from(["video", "photo", "text", "audio", "livestream"])),
        language=draw(st.sampled_from(["en", "es", "ar"])),
        region=draw(st.sampled_from(["us", "eu"])),
        signals={area: draw(st.floats(0.0, 1.0)) for area in draw(st.lists(st.sampled_from(AREAS), unique=True))},
        views_per_hour=draw(st.floats(0.0, 1000.0)),
    )


@st.composite
def moderators(draw: st.DrawFn, index: int) -> dict[str, Any]:
    return {
        "moderator_id": f"m{index}",
        "languages": dict.fromkeys(draw(st.lists(st.sampled_from(["en", "es", "ar"]), min_size=1)), 1.0),
        "policy_areas": draw(st.lists(st.sampled_from(AREAS), unique=True)),
        "clearance": draw(st.lists(st.sampled_from(["csam", "terrorism"]), unique=True)),
        "severe_per_hour": draw(st.integers(0, 2)),
    }


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


def test_a_batch_takes_no_more_of_a_queue_than_its_window(example_config: OpsConfig) -> None:
    """A queue puts its first `top_k` tasks before a batch, however many slots are free (found by a hand-run
    mutation review: a window one task wider passed every test, as none had more free slots than a window)."""
    engine = Engine(MemoryStore(), VirtualClock(1_000.0), narrow(example_config, 2))
    mild = [video(f"n{index}", signals={"nudity": 0.7}, views_per_hour=10.0 * (index + 1)) for index in range(3)]
    engine.submit(mild)
    assert len({engine.task(item.id).queue for item in mild}) == 1, "the premise: one queue"
    engine.upsert_moderator(profile("m1", capacity=3))
    assert sorted(lease.task_id for lease in engine.assign_batch()) == ["n1", "n2"]  # the two most urgent
    assert [lease.task_id for lease in engine.assign_batch()] == ["n0"]


@pytest.mark.parametrize("strategy", ["optimal", "priority", "fifo"])
def test_a_pull_finds_the_work_a_moderator_may_take_behind_a_window_they_may_not(
    example_config: OpsConfig, strategy: str
) -> None:
    """Found by a probe: `/next` answered 204 to a moderator whose only work sat behind a queue's `top_k` tasks they
    could not take, though the next batch leased it to them."""
    engine = Engine(MemoryStore(), VirtualClock(1_000.0), narrow(example_config, 2), strategy=strategy)
    severe = [video(f"severe{index}", views_per_hour=10_000.0) for index in range(5)]
    engine.submit([*severe, video("mild", signals={"nudity": 0.7}, views_per_hour=10.0)])  # one queue: see above
    engine.upsert_moderator(profile("spent", severe_per_hour=0))
    lease = engine.next_for("spent")
    assert lease is not None and lease.id == "mild"


@pytest.mark.parametrize("strategy", ["optimal", "priority"])
def test_a_pull_reads_past_a_window_it_may_not_take_in_each_queue(strategy: str) -> None:
    """Found by a probe: under `optimal` the pull read past a queue's window only when no queue offered the
    moderator anything, so an urgent English task behind French ones lost to a near-worthless one elsewhere."""
    config = OpsConfig.model_validate(
        {
            "policy_areas": [{"name": "violence", "severity": 6.0}, {"name": "spam", "severity": 0.5}],
            "queues": [{"name": "urgent", "sla_s": 600, "top_k": 2}, {"name": "slow", "sla_s": 86400, "top_k": 2}],
            "rules": [
                {"name": "urgent", "queue": "urgent", "when": {"min_signal": {"violence": 0.5}}},
                {"name": "rest", "queue": "slow"},
            ],
        }
    )
    engine = Engine(MemoryStore(), VirtualClock(1_000.0), config, strategy=strategy)
    french = [video(f"fr{index}", language="fr", views_per_hour=1e5) for index in range(3)]
    engine.submit([*french, video("urgent", views_per_hour=5e4), video("slow", signals={"spam": 0.2})])
    engine.upsert_moderator(profile("en", languages={"en": 1.0}, policy_areas=["violence", "spam"]))
    lease = engine.next_for("en")
    assert lease is not None and lease.id == "urgent"


def test_work_skipped_by_everyone_free_does_not_block_the_queue(example_config: OpsConfig) -> None:
    engine = Engine(MemoryStore(), VirtualClock(1_000.0), narrow(example_config, 1))
    engine.submit([video("first", views_per_hour=10_000.0), video("second", views_per_hour=10.0)])
    engine.upsert_moderator(profile("m1"))
    (lease,) = engine.assign_batch()
    assert lease.task_id == "first"
    engine.skip("first", lease.lease_token, "m1", "conflict of interest")
    (lease,) = engine.assign_batch()
    assert lease.task_id == "second"


@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    count=st.integers(0, 40),
    staff=st.integers(1, 5),
    wanted=st.integers(1, 8),
    later=st.sampled_from([0.0, 400.0, 1000.0, 2000.0, 8000.0]),
)
def test_a_window_is_the_first_tasks_a_free_moderator_may_take(
    example_config: OpsConfig, data: st.DataObject, count: int, staff: int, wanted: int, later: float
) -> None:
    """The lane walk against the straightforward one: every task in queue order, kept when `Takers.take` says so,
    until `wanted` are kept. Tasks are submitted at different times (escalation steps passed or not), some are
    skipped, severe budgets are partly spent, and a moderator joins between two walks."""
    clock = VirtualClock(1_000.0)
    engine = Engine(MemoryStore(), clock, example_config)
    offsets = sorted(data.draw(st.lists(st.floats(0.0, later), min_size=count, max_size=count)))
    for index, offset in enumerate(offsets):
        clock.set(1_000.0 + offset)
        engine.submit([data.draw(items(index))])
    clock.set(1_000.0 + later)
    for index in range(staff):
        fields = data.draw(moderators(index))
        engine.upsert_moderator(profile(fields.pop("moderator_id"), **fields))
    for _ in range(data.draw(st.integers(0, 3))):
        leases = engine.assign_batch()
        for lease in leases[: data.draw(st.integers(0, len(leases)))]:
            engine.skip(lease.task_id, lease.lease_token, lease.moderator_id, "conflict of interest")
    for joined in range(staff, staff + 2):  # then once more after someone joins, maybe with skills new to the roster
        free, _ = engine._leases.free_slots()
        takers = engine.model.takers(free, clock.now())
        for queue in example_config.queues:
            tasks = [engine._tasks[task_id] for task_id in engine._waiting.queues.ordered(queue.name)]
            window = [task for task in tasks if takers.take(task)][:wanted]
            assert engine._waiting.window(queue.name, wanted, takers) == window
        fields = data.draw(moderators(joined))
        engine.upsert_moderator(profile(fields.pop("moderator_id"), **fields))


def test_a_deep_queue_offers_its_tasks_once_their_escalation_passes(example_config: OpsConfig) -> None:
    """Tasks in a language nobody free speaks wait in a lane nobody may take; once their queue's escalation relaxes
    the language, they move to the next step's lane and the batch offers them, most urgent first."""
    clock = VirtualClock(1_000.0)
    engine = Engine(MemoryStore(), clock, narrow(example_config, 1))
    engine.submit([video(f"es{index}", language="es", views_per_hour=10.0 * (index + 1)) for index in range(3)])
    assert len({engine.task(f"es{index}").queue for index in range(3)}) == 1, "the premise: one queue, deeper than 1"
    engine.upsert_moderator(profile("plain", languages={"en": 1.0}))
    assert engine.assign_batch() == []
    clock.advance(7200 + 1)  # video_standard relaxes its language requirement after two hours
    (lease,) = engine.assign_batch()
    assert lease.task_id == "es2" and lease.moderator_id == "plain"


def test_a_task_whose_wait_has_passed_is_offered_though_arrival_plus_wait_rounds_later(
    example_config: OpsConfig,
) -> None:
    """Arrival 1856.19..., wait 9889.67...: at 11745.86... the task has waited its step (now - arrival >= wait, as
    the model decides it), yet arrival + wait rounds to a float just after now. The step is due at that instant
    within rounding and must be passed then, or the task waits a batch longer in a lane nobody free may take."""
    arrival, wait, now = 1856.1907394052605, 9889.670441246217, 11745.861180651476
    assert now - arrival >= wait and arrival + wait > now, "the premise: the two roundings disagree"
    data = narrow(example_config, 1).model_dump()
    for queue in data["queues"]:
        for step in queue["escalation"]:
            step["after_s"] = wait
    clock = VirtualClock(arrival)
    engine = Engine(MemoryStore(), clock, OpsConfig.model_validate(data))
    engine.submit([video("es", language="es", views_per_hour=10.0)])
    engine.upsert_moderator(profile("plain", languages={"en": 1.0}))
    assert engine.assign_batch() == []
    clock.set(now)
    (lease,) = engine.assign_batch()
    assert lease.task_id == "es" and lease.moderator_id == "plain"
