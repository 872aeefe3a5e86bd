"""An engine started with a config that asks more of a review (an area made severe, or given a clearance tier) widens
the open tasks it recovers to it, never the other way, and takes back the leases the wider tasks no longer allow."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import StoreFactory
from tests.engine.conftest import profile, video

from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.domain import Decision, Item, TaskState, Verdict
from queueopt.engine import Engine
from queueopt.enqueue import Router
from queueopt.store import MemoryStore, Store

TAKEN_BACK = "lease of m: the config now asks more of its reviewer"


def changed(config: OpsConfig, area: str, **fields: Any) -> OpsConfig:
    """`config` with the policy area `area`'s `fields` changed."""
    data = config.model_dump()
    for each in data["policy_areas"]:
        if each["name"] == area:
            each.update(fields)
    return OpsConfig.model_validate(data)


def hate(item_id: str) -> Item:
    return video(item_id, modality="text", signals={"hate": 0.9})


def recovery_notes(engine: Engine) -> list[tuple[str | None, str]]:
    return [(entry.task_id, entry.note) for entry in engine.audit() if entry.actor == "recovery"]


def test_an_area_made_severe_makes_its_open_tasks_severe_and_charges_the_lease_taken_back(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig
) -> None:
    """Found by a probe: gore made severe and the engine restarted, its backlog stayed as it was routed, and a
    moderator with a budget of one severe item an hour reviewed five gore items in two and a half minutes."""
    engine = Engine(store_factory(), clock, example_config)
    engine.upsert_moderator(profile("m", severe_per_hour=1))
    engine.submit([hate(f"h{index}") for index in range(3)])
    held = engine.next_for("m")
    assert held is not None and not held.severe
    clock.advance(60)
    severe_hate = changed(example_config, "hate", severe=True)
    restarted = Engine(store_factory(), clock, severe_hate)
    assert recovery_notes(restarted) == [(held.id, f"{TAKEN_BACK}, severe")]
    assert restarted.moderator("m").leases == []
    assert restarted.model.severe_budget_left("m", clock.now()) == 0
    assert restarted.next_for("m") is None
    for config in (severe_hate, example_config):  # written, and a config asking less relaxes nothing
        again = Engine(store_factory(), clock, config)
        assert all(again.task(f"h{index}").severe for index in range(3))
        assert again.model.severe_budget_left("m", clock.now()) == 0  # read back from the hand-back's audit entry
        assert len(recovery_notes(again)) == 1  # nothing more to widen


def test_an_area_given_a_clearance_tier_takes_its_open_tasks_from_moderators_without_it(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig
) -> None:
    """Found by a probe: gore given a tier, and a moderator without it kept their lease on a task scored for child
    safety and gore through the restart: a primary area's tier is read from the config, but another cleared area's
    is the task's own. The lease goes back, and only the tier's holders may take the task."""
    engine = Engine(store_factory(), clock, example_config)
    child_safety = {"policy_areas": ["hate", "child_safety", "violence"], "clearance": ["csam"]}
    engine.upsert_moderator(profile("m", **child_safety))
    engine.submit([hate("h0"), video("both", modality="text", signals={"child_safety": 0.9, "hate": 0.9})])
    assert engine.assign_to("both", "m").severe
    tiered = changed(example_config, "hate", clearance="hate_tier")
    restarted = Engine(store_factory(), clock, tiered)
    assert recovery_notes(restarted) == [("both", TAKEN_BACK)]
    assert restarted.task("both").state is TaskState.QUEUED
    assert restarted.model.severe_budget_left("m", clock.now()) == 19  # severe when leased: counted once
    assert restarted.next_for("m") is None  # h0 asks the tier too, as its primary area's
    restarted.upsert_moderator(profile("cleared", **child_safety | {"clearance": ["csam", "hate_tier"]}))
    again = Engine(store_factory(), clock, tiered)
    assert [lease.task_id for lease in again.assign_batch()] == ["both"]  # m may take none, cleared the urgent one


def test_an_open_appeal_asks_what_its_content_asks_under_the_new_config(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig
) -> None:
    """An appeal is often sent without the scores its original had: it asks what any item of its content asks under
    the config the engine starts with, the original decided or not."""
    engine = Engine(store_factory(), clock, example_config)
    engine.upsert_moderator(profile("m"))
    engine.submit([video("original", modality="text", signals={"hate": 0.9}, content_hash="c")])
    lease = engine.next_for("m")
    assert lease is not None and lease.lease_token is not None
    engine.decide("original", lease.lease_token, "m", Decision(verdict=Verdict.VIOLATING, policy="hate"))
    engine.submit([video("appeal", modality="text", signals={}, source="appeal", content_hash="c")])
    assert not engine.task("appeal").severe
    restarted = Engine(store_factory(), clock, changed(example_config, "hate", severe=True))
    assert restarted.task("appeal").severe


def test_a_restart_with_the_config_open_tasks_were_checked_against_reads_no_item(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-reading every open task's item doubled the start of an engine with 100,000 open tasks: it is done only when
    the policy areas differ from those the open tasks were last checked against."""
    Engine(store_factory(), clock, example_config).submit([hate("h0")])
    for config, reads_items in ((example_config, False), (changed(example_config, "hate", severe=True), True)):
        store = store_factory()
        reads = calls_to(store, "items", monkeypatch)
        engine = Engine(store, clock, config)
        assert bool(reads) is reads_items
        assert engine.task("h0").severe is reads_items
        monkeypatch.undo()


def test_a_task_widened_at_a_restart_stores_what_one_routed_under_that_config_stores(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig
) -> None:
    """Found by a review: routing reads a task's primary area's tier from the config, but the widening stored it, so
    after `hate` was given a tier and taken it back, the task routed under the tier was offered again and the
    widened one, the same content, made the start refuse (an open task needing a tier the config lacks)."""
    tiered = changed(example_config, "hate", clearance="hate_tier")
    Engine(store_factory(), clock, example_config).submit([hate("routed_before")])
    restarted = Engine(store_factory(), clock, tiered)
    restarted.submit([hate("routed_under_tier")])
    stored = [store_factory().task(task_id) for task_id in ("routed_before", "routed_under_tier")]
    assert [task.clearance for task in stored if task is not None] == [(), ()]
    rolled_back = Engine(store_factory(), clock, example_config)  # started: no open task needs `hate_tier`
    for task_id in ("routed_before", "routed_under_tier"):  # and both are offered to moderators without the tier
        rolled_back.upsert_moderator(profile(f"m_{task_id}"))
        assert rolled_back.assign_to(task_id, f"m_{task_id}").holder == f"m_{task_id}"


def test_a_first_start_rewrites_no_task_whose_only_tier_is_its_own_areas(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a review: the first start after an upgrade (no checked config kept) rewrote every open task of an
    area with a tier (`csam`, `terrorism`) to store the tier routing reads from the config, for nothing."""
    engine = Engine(store_factory(), clock, example_config)
    engine.submit(
        [
            video("cs", modality="video", signals={"child_safety": 0.9}),
            video("ve", modality="video", signals={"violent_extremism": 0.9}),
        ]
    )
    store = store_factory()
    store.keep_setting("open_tasks_checked_against", "an older engine's")
    applied = calls_to(store, "apply", monkeypatch)
    Engine(store, clock, example_config)
    assert applied == []
    assert [task.clearance for task_id in ("cs", "ve") if (task := store.task(task_id))] == [(), ()]


def calls_to(store: Store, name: str, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The calls made to `store`'s method `name` from now on (until `monkeypatch` undoes it)."""
    calls: list[tuple[Any, ...]] = []
    method = getattr(store, name)

    def counted(*args: Any) -> Any:
        calls.append(args)
        return method(*args)

    monkeypatch.setattr(store, name, counted)
    return calls


AREAS = ["hate", "harassment", "spam", "nudity"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    severe=st.sets(st.sampled_from(AREAS)),
    cleared=st.sets(st.sampled_from(AREAS)),
    scores=st.lists(st.dictionaries(st.sampled_from(AREAS), st.sampled_from([0.3, 0.6, 0.9]), min_size=1), max_size=8),
    leased=st.integers(0, 4),
)
def test_recovered_tasks_ask_at_least_what_either_config_asks_and_no_lease_outlives_it(
    example_config: OpsConfig, severe: set[str], cleared: set[str], scores: list[dict[str, float]], leased: int
) -> None:
    """Whatever areas the new config makes severe or cleared: each open task is severe if it was or if its item is
    under the new config, and each lease left is held by a moderator who holds every tier its item now asks."""
    clock = VirtualClock(1_000.0)
    store = MemoryStore()
    engine = Engine(store, clock, example_config)
    items = [video(f"i{index}", modality="text", signals=signals) for index, signals in enumerate(scores)]
    engine.submit(items)
    for index in range(leased):
        engine.upsert_moderator(profile(f"m{index}", policy_areas=AREAS))
        engine.next_for(f"m{index}")
    before = {item.id: engine.task(item.id).severe for item in items if engine.item(item.id).task_id == item.id}
    config = example_config
    for area in AREAS:
        config = changed(config, area, severe=area in severe, clearance=f"{area}_tier" if area in cleared else None)
    restarted = Engine(store, clock, config)
    router = Router(config)
    for item in items:
        if item.id not in before:
            continue
        task, asks = restarted.task(item.id), router.content_asks(item)
        assert task.severe == (before[item.id] or asks.severe)
        if task.state is TaskState.LEASED:
            assert task.holder is not None
            assert asks.clearance <= set(restarted.model.profile(task.holder).clearance)


def test_a_restart_reads_the_scores_of_a_copy_inheriting_an_automatic_removal(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig
) -> None:
    """Found by a review: a copy inheriting an automatic removal joined no content history, so a restart with a
    config giving violence a tier left the open appeal of a photo whose re-upload scored for violence without it."""
    engine = Engine(store_factory(), clock, example_config)
    photo: dict[str, Any] = {"modality": "photo", "content_hash": "photo-1"}
    engine.submit([video("removed", signals={"nudity": 0.996}, **photo)])
    engine.submit([video("appeal", source="appeal", signals={}, **photo)])
    (copy,) = engine.submit([video("copy", signals={"nudity": 0.996, "violence": 0.8}, **photo)])
    assert (copy.duplicate_of, copy.task_id) == ("removed", None)
    store = store_factory()
    Engine(store, clock, changed(example_config, "violence", clearance="gore"))
    appeal = store.task("appeal")
    assert appeal is not None and "gore" in appeal.clearance


def test_an_item_scored_in_an_area_the_config_no_longer_has_keeps_what_its_task_asked(
    store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """An area dropped from the config (spam, say) while an item scored in it waits: the engine must still start, the
    item not re-read under the config that cannot route it, its task asking what it asked, and say so in its log
    (found by a hand-run mutation review: the refusal to re-read it could be let through, failing every start, and
    no test started with such a config)."""
    Engine(store_factory(), clock, example_config).submit(
        [video("mixed", modality="text", signals={"hate": 0.9, "spam": 0.4})]
    )
    data = example_config.model_dump()
    data["policy_areas"] = [area for area in data["policy_areas"] if area["name"] != "spam"]
    for thresholds in data["auto_actions"].values():
        thresholds.pop("spam", None)
    restarted = Engine(store_factory(), clock, OpsConfig.model_validate(data))
    assert restarted.task("mixed").state is TaskState.QUEUED and not restarted.task("mixed").severe
    assert "item mixed not re-read under this config" in caplog.text
