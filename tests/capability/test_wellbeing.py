"""The severe-content budget: a rolling hour, a cool-down, and refilling as the window slides."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from queueopt.capability import Model, ModeratorProfile
from queueopt.config import OpsConfig
from queueopt.domain import Task
from queueopt.errors import NotFound


@pytest.fixture
def model(config: OpsConfig, make_profile: Callable[..., ModeratorProfile]) -> Model:
    model = Model(config)
    model.upsert(make_profile("m", severe_per_hour=2, cooldown_s=100.0))
    return model


def test_budget_counts_the_last_hour_and_refills(model: Model, make_task: Callable[..., Task]) -> None:
    gore = make_task("t", policy="gore", severe=True)
    model.record_severe("m", 0.0)
    model.record_severe("m", 1000.0)
    assert model.severe_budget_left("m", 1000.0) == 0
    assert not model.eligible(gore, "m", 1000.0)
    assert not model.eligible(gore, "m", 3599.9)
    assert model.severe_budget_left("m", 3600.0) == 1
    assert model.eligible(gore, "m", 3600.0)
    assert model.severe_budget_left("m", 4600.0) == 2


def test_cool_down_blocks_severe_items_only(model: Model, make_task: Callable[..., Task]) -> None:
    model.record_severe("m", 500.0)
    assert model.severe_budget_left("m", 550.0) == 1
    assert not model.eligible(make_task("s", policy="gore", severe=True), "m", 599.0)
    assert model.eligible(make_task("s", policy="gore", severe=True), "m", 600.0)
    assert model.eligible(make_task("n", policy="spam"), "m", 599.0)


def test_severe_caps_for_one_batch(config: OpsConfig, make_profile: Callable[..., ModeratorProfile]) -> None:
    model = Model(config)
    model.upsert(make_profile("free", severe_per_hour=5))
    model.upsert(make_profile("cooling", severe_per_hour=5, cooldown_s=60.0))
    model.upsert(make_profile("spent", severe_per_hour=1))
    model.record_severe("free", 0.0)
    model.record_severe("spent", 0.0)
    assert model.severe_caps(["free", "cooling", "spent"], 10.0).tolist() == [1, 1, 0]
    model.record_severe("cooling", 0.0)
    assert model.severe_caps(["cooling"], 59.0).tolist() == [0]


def test_one_severe_item_at_a_time_with_no_cool_down_either(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile]
) -> None:
    """Found by a probe: with `cooldown_s` 0 (the default) and two slots, a batch gave a moderator two severe items
    at once, though no other severe item is given while one is under review."""
    model = Model(config)
    model.upsert(make_profile("m", severe_per_hour=5, capacity=2))
    assert model.severe_caps(["m"], 0.0).tolist() == [1]
    model.record_severe("m", 0.0)
    model.severe_review_started("m")
    assert model.severe_caps(["m"], 10.0).tolist() == [0]
    model.severe_review_ended("m", 20.0)
    assert model.severe_caps(["m"], 20.0).tolist() == [1]


def test_zero_budget_means_no_severe_items(config: OpsConfig, make_profile: Callable[..., ModeratorProfile]) -> None:
    model = Model(config)
    model.upsert(make_profile("m", severe_per_hour=0))
    assert model.severe_budget_left("m", 0.0) == 0
    assert model.severe_caps(["m"], 0.0).tolist() == [0]


def test_unknown_moderator(model: Model) -> None:
    with pytest.raises(NotFound):
        model.record_severe("nobody", 0.0)


def test_the_cool_down_runs_from_the_end_of_the_review(model: Model) -> None:
    """A long graphic review is rest-free until it ends: the cool-down after it starts then, not at the hand-over
    (found by a mutation review: a ledger keeping the hand-over time let a moderator who spent 1000 s on a severe
    item take the next one 50 s after it)."""
    model.record_severe("m", 0.0)
    model.severe_review_started("m")
    model.severe_review_ended("m", 1000.0)
    assert model.severe_caps(["m"], 1099.0).tolist() == [0]
    assert model.severe_caps(["m"], 1100.0).tolist() == [1]


def test_an_exposure_recalled_out_of_order_does_not_shorten_the_cool_down(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile]
) -> None:
    """`recall_severe` may charge an exposure dated before the end of a review already counted (a task taken back
    as it turned severe, read back at a restart): the later end still starts the cool-down (found by a mutation
    review: the recalled time replaced it, and the cool-down was over 500 s early)."""
    model = Model(config)
    model.upsert(make_profile("m", severe_per_hour=5, cooldown_s=100.0))
    model.record_severe("m", 0.0)
    model.severe_review_started("m")
    model.severe_review_ended("m", 1000.0)
    model.recall_severe("m", 500.0)
    assert model.severe_budget_left("m", 1050.0) == 3
    assert model.severe_caps(["m"], 1050.0).tolist() == [0]
    assert model.severe_caps(["m"], 1100.0).tolist() == [1]


def test_every_severe_review_under_way_must_end_before_the_next(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile]
) -> None:
    """The ledger counts the severe reviews in front of a moderator (each held lease is indexed as one when the
    engine loads): the end of one leaves the other under way (found by a mutation review: a ledger keeping a flag,
    not a count, freed them for a third while the second was still in front of them)."""
    model = Model(config)
    model.upsert(make_profile("m", severe_per_hour=5, capacity=2))
    model.severe_review_started("m")
    model.severe_review_started("m")
    model.severe_review_ended("m", 10.0)
    assert model.severe_caps(["m"], 20.0).tolist() == [0]
    model.severe_review_ended("m", 30.0)
    assert model.severe_caps(["m"], 30.0).tolist() == [1]


def test_an_exposure_dated_after_now_counts_against_the_budget(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile]
) -> None:
    """The window is (now - 1 h, now] and anything dated later: an exposure on the ledger is never budget to
    spend again (found by a mutation review: a window closed at `now` gave the moderator their budget back)."""
    model = Model(config)
    model.upsert(make_profile("m", severe_per_hour=1))
    model.record_severe("m", 100.0)
    assert model.severe_budget_left("m", 50.0) == 0
    assert model.severe_caps(["m"], 50.0).tolist() == [0]


def test_a_snapshot_with_its_exposures_out_of_order_counts_the_same_window(model: Model) -> None:
    """A saved state is data that may have been written or edited elsewhere: its exposures are counted by time,
    not by their order in the file (found by a mutation review: a ledger taking them as listed miscounted the
    window and handed back a spent budget)."""
    model.record_severe("m", 0.0)
    model.record_severe("m", 3000.0)
    state = model.state_dict()
    moderators = state["moderators"]
    assert isinstance(moderators, list)
    moderators[0]["severe_times"].reverse()
    model.load_state_dict(state)
    assert model.severe_budget_left("m", 3700.0) == 1


def test_an_exposure_recorded_out_of_order_counts_in_its_own_hour(model: Model) -> None:
    """A restart recalls a severe item taken back from a moderator after the leases read from the audit, dated
    before them: the ledger counts each exposure by its time, not by when it was recorded (found by a mutation
    review: appended out of order, the later exposure dropped out of the count and a spent budget came back)."""
    model.record_severe("m", 3000.0)
    model.recall_severe("m", 0.0)
    assert model.severe_budget_left("m", 3000.0) == 0
    assert model.severe_budget_left("m", 3700.0) == 1


def test_the_longest_cool_down_is_that_of_the_roster_member_with_the_longest(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile]
) -> None:
    """A restart reads the audit back as far as this: were it anyone's shorter cool-down, a moderator with a
    two-hour one would be shown severe items again an hour after their last (a hand-run mutation review: the engine's
    restart tests have one moderator each, for whom the shortest and the longest are the same)."""
    model = Model(config)
    assert model.longest_cooldown_s() == 0.0
    for moderator_id, cooldown_s in (("brief", 60.0), ("long", 7200.0), ("none", 0.0)):
        model.upsert(make_profile(moderator_id, cooldown_s=cooldown_s))
    assert model.longest_cooldown_s() == 7200.0
    model.remove("long")
    assert model.longest_cooldown_s() == 60.0


@pytest.mark.parametrize("asked_first", [False, True])
def test_an_exposure_dated_after_now_keeps_one_still_in_the_hour_in_the_count(model: Model, asked_first: bool) -> None:
    """A leader taking over reads severe leases from the audit, dated by the old leader's clock, which may run a few
    seconds ahead of its own: such an exposure must not push one still in the hour out of the ledger, whether or
    not the ledger was asked about the budget before (found by a hand-run mutation review: the ledger dropped every
    exposure an hour older than its newest, so one at 3590 s before now went with one dated 10 s after now, and a
    moderator with a budget of two was given a third severe item within the hour)."""
    now = 10_000.0
    if asked_first:
        assert model.severe_budget_left("m", now) == 2
    model.recall_severe("m", now - 3590.0)
    model.recall_severe("m", now + 10.0)
    assert model.severe_budget_left("m", now) == 0
    assert model.severe_budget_left("m", now + 11.0) == 1  # the hour has passed for the first one
