"""Open reviews of some content ask what the content asks: a copy actioned without a review widens them as a
reviewed copy does, and a lease taken back because its task turned severe is charged to its holder."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import StoreFactory
from tests.engine.conftest import EngineFactory, profile, video

from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.domain import Decision, Item, ItemStatus, TaskState, Verdict
from queueopt.engine import Engine, qa_draw
from queueopt.engine.views import TaskView
from queueopt.enqueue import Router
from queueopt.errors import NotFound, StaleLease
from queueopt.store import MemoryStore

CERTIFIED = ["nudity", "child_safety", "violence", "hate"]
TAKEN_BACK = "lease of plain: the same content now asks more of its reviewer, severe"


def photo(item_id: str, **fields: Any) -> Item:
    """A copy of one photo, scored as `fields` says (its signals, and any other field of the item)."""
    signals = {name: score for name, score in fields.items() if isinstance(score, float)}
    rest = {name: value for name, value in fields.items() if name not in signals}
    return video(item_id, modality="photo", content_hash="photo-123", signals=signals, **rest)


def released_notes(engine: Engine, task_id: str) -> list[str]:
    return [entry.note for entry in engine.audit() if entry.task_id == task_id and entry.transition == "released"]


def test_an_automatically_removed_copy_takes_the_open_review_of_its_content_from_an_uncleared_moderator(
    engine_factory: EngineFactory,
) -> None:
    """Found by a probe: a photo's nudity review stayed with a moderator without `csam` when a re-upload of it scored
    for child safety and was removed automatically, and once handed back went to another moderator without it."""
    engine = engine_factory()
    for name in ("plain", "plain2"):
        engine.upsert_moderator(profile(name, policy_areas=CERTIFIED))
    engine.submit([photo("ph1", nudity=0.7)])
    held = engine.next_for("plain")
    assert held is not None and held.id == "ph1" and not held.severe and held.lease_token is not None
    (removed,) = engine.submit([photo("ph2", nudity=0.996, child_safety=0.95)])
    assert removed.status is ItemStatus.AUTO_ACTIONED and removed.task_id is None
    with pytest.raises(StaleLease):
        engine.decide("ph1", held.lease_token, "plain", Decision(verdict=Verdict.NOT_VIOLATING, policy="nudity"))
    assert released_notes(engine, "ph1") == [TAKEN_BACK]
    restarted = engine_factory()
    for each in (engine, restarted):
        task = each.task("ph1")
        assert (task.state, task.holder, task.severe) == (TaskState.QUEUED, None, True)
    assert restarted.next_for("plain2") is None
    restarted.upsert_moderator(profile("cleared", policy_areas=CERTIFIED, clearance=["csam"]))
    lease = restarted.next_for("cleared")
    assert lease is not None and lease.id == "ph1"


def test_a_copy_removed_automatically_in_the_same_batch_widens_the_review_made_in_it(
    engine_factory: EngineFactory,
) -> None:
    engine = engine_factory()
    engine.upsert_moderator(profile("plain", policy_areas=CERTIFIED))
    reviewed, removed = engine.submit([photo("ph1", nudity=0.7), photo("ph2", nudity=0.996, child_safety=0.95)])
    assert (reviewed.status, removed.status) == (ItemStatus.QUEUED, ItemStatus.AUTO_ACTIONED)
    assert engine_factory().task("ph1").severe  # as written
    assert engine.next_for("plain") is None


def test_a_copy_inheriting_an_automatic_removal_widens_the_open_review_too(engine_factory: EngineFactory) -> None:
    """A removal covers any later copy, which inherits it unreviewed; it is still the same content, so the review
    still open asks what that copy's review would have."""
    engine = engine_factory()
    engine.upsert_moderator(profile("plain", policy_areas=CERTIFIED))
    engine.submit([photo("ph1", nudity=0.7)])
    assert engine.next_for("plain") is not None
    (removed,) = engine.submit([photo("ph2", nudity=0.996, violence=0.8)])  # asks more: severe, so removed itself
    assert removed.status is ItemStatus.AUTO_ACTIONED
    held = engine.next_for("plain")  # no cool-down: the severe review is theirs again
    assert held is not None and held.id == "ph1" and held.severe
    (copy,) = engine.submit([photo("ph3", nudity=0.996, child_safety=0.95)])
    assert (copy.status, copy.duplicate_of, copy.task_id) == (ItemStatus.DUPLICATE, "ph2", None)
    assert engine.task("ph1").state is TaskState.QUEUED
    assert released_notes(engine, "ph1") == [TAKEN_BACK, TAKEN_BACK.removesuffix(", severe")]
    assert engine.next_for("plain") is None


def test_an_automatically_removed_copy_widens_the_open_appeal_and_qa_review_of_its_content(
    engine_factory: EngineFactory, example_config: OpsConfig
) -> None:
    """Every open task of the content, an appeal and a QA review included, asks what the removed copy would have."""
    engine = engine_factory()
    engine.upsert_moderator(profile("plain", policy_areas=CERTIFIED, capacity=3))
    rate = example_config.queues_by_name["photo_standard"].qa_sample_rate
    sampled = next(f"ph{index}" for index in range(1000) if qa_draw(engine.qa_secret, f"ph{index}") < rate)
    engine.submit([photo(sampled, nudity=0.3)])
    first = engine.next_for("plain")
    assert first is not None and first.id == sampled and first.lease_token is not None
    engine.decide(sampled, first.lease_token, "plain", Decision(verdict=Verdict.NOT_VIOLATING, policy="nudity"))
    engine.submit([photo("appeal", source="appeal")])
    engine.upsert_moderator(profile("checker", policy_areas=CERTIFIED, capacity=2))
    for task_id in ("appeal", f"{sampled}~qa"):
        assert engine.assign_to(task_id, "checker").holder == "checker"
    engine.submit([photo("removed", nudity=0.996, child_safety=0.95)])
    for task_id in ("appeal", f"{sampled}~qa"):
        task = engine.task(task_id)
        assert (task.state, task.severe) == (TaskState.QUEUED, True)
        assert released_notes(engine, task_id) == [TAKEN_BACK.replace("plain", "checker")]
    assert engine.next_for("checker") is None


@pytest.mark.parametrize(
    "copy",
    [photo("q2", nudity=0.9, child_safety=0.95), photo("q2", nudity=0.996, child_safety=0.95)],
    ids=["reviewed_copy", "removed_copy"],
)
def test_a_lease_taken_back_as_it_turned_severe_counts_against_its_holders_budget(
    engine_factory: EngineFactory, clock: VirtualClock, copy: Item
) -> None:
    """Found by a probe: a moderator with a budget of one severe item an hour, two minutes into a photo a copy showed
    to be child-abuse material, had it taken back and was handed it straight back as severe, their budget full and no
    cool-down run. It was in front of them: counted when taken back, and read back from the audit at a restart."""
    engine = engine_factory()
    engine.upsert_moderator(profile("m", policy_areas=CERTIFIED, clearance=["csam"], severe_per_hour=1))
    engine.submit([photo("q1", nudity=0.7)])
    held = engine.next_for("m")
    assert held is not None and held.id == "q1" and not held.severe
    clock.advance(120)
    engine.submit([copy])
    assert released_notes(engine, "q1") == [TAKEN_BACK.replace("plain", "m")]
    restarted = engine_factory()
    for each in (engine, restarted):
        assert each.model.severe_budget_left("m", clock.now()) == 0
    assert restarted.next_for("m") is None
    clock.advance(3600)
    again = restarted.next_for("m")
    assert again is not None and again.severe and again.id in ("q1", "q2")


def test_a_lease_taken_back_as_it_turned_severe_starts_its_holders_cool_down(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    engine = engine_factory()
    engine.upsert_moderator(profile("m", policy_areas=CERTIFIED, clearance=["csam"], cooldown_s=600))
    engine.submit([photo("q1", nudity=0.7)])
    assert engine.next_for("m") is not None
    engine.submit([photo("q2", nudity=0.996, child_safety=0.95)])
    clock.advance(599)
    restarted = engine_factory()
    assert engine.model.severe_budget_left("m", clock.now()) == 19
    assert restarted.next_for("m") is None
    clock.advance(1)
    again = restarted.next_for("m")
    assert again is not None and again.id == "q1" and again.severe


def test_a_lease_ended_before_its_task_turned_severe_starts_no_cool_down_live_or_after_a_restart(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """A lease handed back before a copy showed its content to be child-abuse material was no severe review: its holder
    is not cooled down, and a restart, reading back the ends of leases made within the hour by those leases (severe or
    not as they were made), must not cool them down either from the task's severity now (found by a hand-run
    mutation review: reading every such end by its task passed, as no test ended a lease before its task widened)."""
    engine = engine_factory()
    engine.upsert_moderator(profile("m", policy_areas=CERTIFIED, clearance=["csam"], cooldown_s=600))
    engine.submit([photo("q1", nudity=0.7)])
    held = engine.next_for("m")
    assert held is not None and not held.severe and held.lease_token is not None
    engine.release("q1", held.lease_token, "m")
    clock.advance(60)
    engine.submit([photo("q2", nudity=0.996, child_safety=0.95)])
    assert engine.task("q1").severe  # widened while queued, after its lease ended
    for each in (engine, engine_factory()):
        assert each.model.severe_caps(["m"], clock.now()).tolist() == [1]


SCORES = {
    "nudity": st.sampled_from([0.7, 0.996]),
    "child_safety": st.sampled_from([0.0, 0.95]),
    "violence": st.sampled_from([0.0, 0.8]),
}
STEP = st.one_of(
    st.fixed_dictionaries(SCORES).map(lambda scores: ("copy", scores)),
    st.tuples(st.just("pull"), st.sampled_from(["plain", "cleared"])),
    st.tuples(st.just("decide"), st.sampled_from(["plain", "cleared"])),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=14))
def test_every_open_task_of_some_content_asks_what_each_copy_of_it_asks(
    example_config: OpsConfig, steps: list[tuple[str, Any]]
) -> None:
    """However copies of one photo arrive (reviewed, removed automatically, riding on a review or inheriting a
    decision) and are pulled and decided, each open task of it is severe once any copy's review would be, and a
    moderator without `csam` holds none, nor is offered one, once any copy scored for child safety."""
    clock = VirtualClock(1_000.0)
    engine = Engine(MemoryStore(), clock, example_config)
    router = Router(example_config)
    for name, tiers in (("plain", []), ("cleared", ["csam"])):
        engine.upsert_moderator(profile(name, policy_areas=CERTIFIED, clearance=tiers, capacity=3))
    copies: list[str] = []
    severe, cleared = False, False
    for index, (kind, argument) in enumerate(steps):
        clock.advance(1.0)
        if kind == "copy":
            item = photo(f"c{index}", **{area: score for area, score in argument.items() if score})
            engine.submit([item])
            copies.append(item.id)
            asked = router.review_asks(item)
            severe |= asked.severe
            cleared |= "csam" in asked.clearance
        elif kind == "pull":
            engine.next_for(argument)
        else:
            for lease in engine.moderator(argument).leases:
                token = engine.task(lease).lease_token
                assert token is not None
                engine.decide(lease, token, argument, Decision(verdict=Verdict.VIOLATING, policy="nudity"))
        open_tasks = [
            task
            for task_id in copies + [f"{copy}~qa" for copy in copies]
            if (task := _open_task(engine, task_id)) is not None
        ]
        assert all(task.severe for task in open_tasks) or not severe
        if cleared:
            assert not any(task.holder == "plain" for task in open_tasks)
            assert engine.next_for("plain") is None


def _open_task(engine: Engine, task_id: str) -> TaskView | None:
    """The task if it is open; None for one decided, or never made (a copy riding on another's review, a QA review
    the draw did not sample)."""
    try:
        task = engine.task(task_id)
    except NotFound:
        return None
    return task if task.state in (TaskState.QUEUED, TaskState.LEASED) else None


def test_a_widened_review_stores_no_tier_of_its_own_primary_area(
    clock: VirtualClock, example_config: OpsConfig
) -> None:
    """Found by a review: routing reads a task's primary area's tier from the config (`Task.clearance` holds the
    other cleared areas'), but widening a review, or routing an appeal, stored it, so two reviews asking the same
    differed, and only the widened one outlived a config dropping the tier. Another area's tier is stored."""
    store = MemoryStore()
    engine = Engine(store, clock, example_config)
    engine.submit(
        [photo("child", child_safety=0.9), video("nude", modality="photo", content_hash="n", signals={"nudity": 0.7})]
    )
    engine.submit([photo("removed", spam=0.999), photo("appeal", source="appeal")])
    engine.submit([video("nude2", modality="photo", content_hash="n", signals={"child_safety": 0.95, "nudity": 0.996})])
    stored = {task_id: store.task(task_id) for task_id in ("child", "appeal", "nude")}
    assert {task_id: (task.policy, task.clearance) for task_id, task in stored.items() if task} == {
        "child": ("child_safety", ()),
        "appeal": ("child_safety", ()),
        "nude": ("nudity", ("csam",)),
    }


def test_a_queues_own_tier_is_never_stored_on_the_content_s_tasks(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig
) -> None:
    """Found by a review: a copy widened by an earlier review in a queue with a tier of its own stored that tier, on
    itself in another queue and on the earlier review, so that queue's moderators could not take it, and a config
    dropping the queue's tier refused to start. A queue's tiers are its queue's question, read from the config."""
    data = example_config.model_dump()
    for queue in data["queues"]:
        if queue["name"] == "video_high_en":
            queue["requires"]["clearance"] = ["gore"]
    engine = Engine(store_factory(), clock, OpsConfig.model_validate(data))
    engine.submit([video("a", signals={"violence": 0.5}, content_hash="h")])
    engine.submit([video("b", signals={"violence": 0.5, "self_harm": 0.95}, content_hash="h")])
    stored = store_factory()
    assert [(task.queue, task.clearance) for task in stored.tasks(["a", "b"]).values()] == [
        ("video_high_en", ()),
        ("self_harm", ()),
    ]
    for queue in data["queues"]:
        queue["requires"]["clearance"] = [tier for tier in queue["requires"]["clearance"] if tier != "gore"]
    Engine(store_factory(), clock, OpsConfig.model_validate(data))  # starts: no task stores the dropped tier


def test_an_appeal_asks_what_a_copy_inheriting_an_automatic_removal_would_have(
    engine_factory: EngineFactory,
) -> None:
    """Found by a review: a copy inheriting an automatic removal joined no content history, so an appeal of the
    content, sent without scores, asked only what the removed original's review would have, and a re-upload scored
    for child safety left its appeal to a moderator without `csam`."""
    engine = engine_factory()
    engine.upsert_moderator(profile("plain", policy_areas=CERTIFIED))
    (removed,) = engine.submit([photo("ph1", nudity=0.996)])
    assert removed.status is ItemStatus.AUTO_ACTIONED
    (copy,) = engine.submit([photo("ph2", nudity=0.996, child_safety=0.95)])
    assert (copy.status, copy.duplicate_of, copy.task_id) == (ItemStatus.DUPLICATE, "ph1", None)
    engine.submit([photo("appeal", source="appeal")])
    restarted = engine_factory()
    for each in (engine, restarted):
        assert each.task("appeal").severe
    assert restarted.next_for("plain") is None
    restarted.upsert_moderator(profile("cleared", policy_areas=CERTIFIED, clearance=["csam"]))
    lease = restarted.next_for("cleared")
    assert lease is not None and lease.id == "appeal"
