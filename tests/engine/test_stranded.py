"""An engine refuses a store whose open tasks are in a policy area or need a clearance tier its config lacks, even
when their queue's escalation relaxes policy areas or clearance: the primary area's tier is read from the area, and a
tier a task stores is never relaxed. An appeal's further areas are no reason in such a queue: it is offered once
relaxed."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import pytest
from tests.conftest import StoreFactory
from tests.engine.conftest import profile, video

from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.domain import Decision, Verdict
from queueopt.engine import Engine, stranded_work
from queueopt.errors import Conflict, NotFound


def relaxing(config: OpsConfig, queue: str, *dimensions: str) -> dict[str, Any]:
    """`config` as data, with `queue` relaxing `dimensions` after a minute."""
    data = config.model_dump()
    for each in data["queues"]:
        if each["name"] == queue:
            each["escalation"] = [{"after_s": 60, "relax": list(dimensions)}]
    return data


def test_an_open_task_in_a_removed_primary_area_refuses_the_start_though_its_queue_relaxes_policy_areas(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig
) -> None:
    """Found by a review: the start was allowed, as the task's queue relaxes policy areas after a minute; but a
    task's primary area's tier is read from the area, so with the area gone the task went to a moderator without
    the tier once relaxed."""
    data = relaxing(example_config, "audio", "policy_areas")
    for area in data["policy_areas"]:
        if area["name"] == "harassment":
            area["clearance"] = "harassment_review"
    engine = Engine(store_factory(), clock, OpsConfig.model_validate(data))
    engine.submit([video("ha", modality="audio", signals={"harassment": 0.9})])
    assert (engine.task("ha").queue, engine.task("ha").policy) == ("audio", "harassment")
    data["policy_areas"] = [area for area in data["policy_areas"] if area["name"] != "harassment"]
    del data["auto_actions"]["approve_at"]["harassment"]
    with pytest.raises(Conflict) as refused:
        Engine(store_factory(), clock, OpsConfig.model_validate(data))
    assert refused.value.field == "policy_areas"
    assert refused.value.message.startswith(
        "the store has open tasks in policy areas this config does not have: 'harassment' (1 open task)"
    )


def test_an_appeal_of_content_decided_in_a_removed_area_asks_no_certification_in_it(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig
) -> None:
    """Found by a review: an appeal sent without scores took the earlier review's area as its policy, an area the
    config no longer had, in a queue that does not relax areas: it was never offered, and the next start refused."""
    _appeal_once_its_area_is_gone(store_factory, clock, relaxing(example_config, "audio", "policy_areas"), "audio")


def test_a_removed_tier_an_open_task_stores_refuses_the_start_though_its_queue_relaxes_clearance(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig
) -> None:
    """A step relaxing `clearance` drops only the queue's own tiers: a tier a task stores (another cleared area's)
    protects the moderator, and is never relaxed, so no one could be offered the task."""
    data = relaxing(example_config, "child_safety", "clearance", "policy_areas")
    engine = Engine(store_factory(), clock, OpsConfig.model_validate(data))
    engine.submit([video("both", modality="video", signals={"child_safety": 0.9, "violent_extremism": 0.9})])
    assert engine.task("both").queue == "child_safety"  # storing `terrorism`, its other cleared area's tier
    for area in data["policy_areas"]:
        if area["clearance"] == "terrorism":
            area["clearance"] = None
    for queue in data["queues"]:
        queue["requires"]["clearance"] = [tier for tier in queue["requires"]["clearance"] if tier != "terrorism"]
    with pytest.raises(Conflict) as refused:
        Engine(store_factory(), clock, OpsConfig.model_validate(data))
    assert refused.value.field == "policy_areas"
    assert refused.value.message.startswith("the store has open tasks in clearance tiers this config does not have")


@pytest.mark.parametrize("relaxed", [False, True])
def test_an_open_appeal_asking_a_removed_further_area_strands_it_unless_its_queue_relaxes_policy_areas(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig, relaxed: bool
) -> None:
    """An appeal made while an area was in the config asks its certification among its further areas (`Task.areas`);
    with the area gone nobody may hold it, so the appeal would wait for ever in a queue asking them, and the start is
    refused; in a queue whose escalation relaxes policy areas it is offered once relaxed, and the start goes ahead
    (found by a hand-run mutation review: reading further areas in every queue, in none, or in the wrong ones passed
    every test)."""
    data = relaxing(example_config, "appeals", "policy_areas") if relaxed else example_config.model_dump()
    for queue in data["queues"]:
        queue["qa_sample_rate"] = 0.0  # a QA copy of the harassment review would strand on its primary area
    engine = Engine(store_factory(), clock, OpsConfig.model_validate(data))
    engine.upsert_moderator(profile("reviewer", policy_areas=["hate", "harassment"], capacity=2))
    for item_id, area in (("first", "hate"), ("second", "harassment")):
        engine.submit([video(item_id, modality="text", signals={area: 0.9}, content_hash="h")])
        lease = engine.assign_to(item_id, "reviewer")
        assert lease.lease_token is not None
        engine.decide(item_id, lease.lease_token, "reviewer", Decision(verdict=Verdict.VIOLATING, policy=area))
    engine.submit([video("appeal", modality="text", signals={}, content_hash="h", source="appeal")])
    (appeal,) = store_factory().open_tasks()  # as a start reads it, the only open task
    assert (appeal.id, appeal.queue, appeal.policy, appeal.areas) == ("appeal", "appeals", "hate", ("harassment",))
    data["policy_areas"] = [area for area in data["policy_areas"] if area["name"] != "harassment"]
    del data["auto_actions"]["approve_at"]["harassment"]
    stranded = stranded_work(OpsConfig.model_validate(data), [appeal])
    assert stranded == (
        None
        if relaxed
        else (
            "policy_areas",
            "the store has open tasks in policy areas this config does not have: 'harassment' (1 open task); keep "
            "each policy area in the config until its tasks are decided (to rename an area, add the new one, and "
            "remove the old one once no open task needs it)",
        )
    )


def test_an_appeal_asks_no_certification_in_a_removed_area_an_earlier_review_asked(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig
) -> None:
    """An earlier review in a queue that relaxes nothing asked a certification in its area; with the area gone from
    the config nobody may hold it, so an appeal of that content asks it neither as its policy nor among its further
    areas (found by a hand-run mutation review: the further areas kept it, and the appeal was never offered)."""
    _appeal_once_its_area_is_gone(store_factory, clock, example_config.model_dump(), "text")


def _appeal_once_its_area_is_gone(
    store_factory: StoreFactory, clock: VirtualClock, data: dict[str, Any], modality: str
) -> None:
    """Content decided in `harassment` under the config `data`, then appealed without scores under `data` without
    that area: the appeal asks for no policy, a moderator certified in another area is offered it, and the next
    start goes ahead."""
    first = Engine(store_factory(), clock, OpsConfig.model_validate(data))
    first.submit([video("ha", modality=modality, signals={"harassment": 0.9}, content_hash="h")])
    assert first.task("ha").policy == "harassment"
    removed = Decision(verdict=Verdict.VIOLATING, policy="harassment", action="remove")
    for reviewer, task_id in (("first", "ha"), ("second", "ha~qa")):  # its QA review, if the secret sampled it
        with suppress(NotFound):
            first.upsert_moderator(profile(reviewer, modalities=[modality]))
            first.decide(task_id, first.assign_to(task_id, reviewer).lease_token, reviewer, removed)
    data["policy_areas"] = [area for area in data["policy_areas"] if area["name"] != "harassment"]
    del data["auto_actions"]["approve_at"]["harassment"]
    config = OpsConfig.model_validate(data)
    engine = Engine(store_factory(), clock, config)
    engine.submit([video("appeal", modality=modality, signals={}, content_hash="h", source="appeal")])
    task = engine.task("appeal")
    assert (task.queue, task.policy) == ("appeals", None)
    engine.upsert_moderator(profile("m", modalities=[modality], policy_areas=["spam"]))
    lease = engine.next_for("m")
    assert lease is not None and lease.id == "appeal"
    Engine(store_factory(), clock, config)  # starts: nothing open asks what the config lacks
