"""`QueueView.unstaffed`: the waiting work nobody on the roster may take, whoever comes on shift, which waits for a
roster change rather than for time, and which the queue's age alone could not tell apart from a slow queue."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.engine.conftest import profile, video

from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.domain import Decision, ModeratorStatus, TaskState, Verdict
from queueopt.engine import Engine
from queueopt.store.memory import MemoryStore


def unstaffed(engine: Engine) -> dict[str, int]:
    return {queue.name: queue.unstaffed for queue in engine.queues() if queue.unstaffed}


def test_work_in_a_language_nobody_speaks_waits_for_the_roster_not_for_the_shift(engine: Engine) -> None:
    hate = {"modality": "text", "signals": {"hate": 0.9}}
    engine.submit([video("irish", language="ga", region="eu", **hate), video("english", **hate)])
    engine.upsert_moderator(profile("m1"))
    assert unstaffed(engine) == {"text_high_intl": 1}  # a queue that never relaxes the language
    engine.upsert_moderator(profile("speaker", languages={"ga": 1.0}))
    engine.set_status("speaker", ModeratorStatus.OFFLINE)
    assert unstaffed(engine) == {}  # off shift, but on the roster: the item waits for time, not for a hire
    engine.set_status("speaker", ModeratorStatus.SUSPENDED, by_admin=True)
    assert unstaffed(engine) == {"text_high_intl": 1}


def test_work_an_escalation_step_will_open_to_the_roster_waits_for_time_only(engine: Engine) -> None:
    """Found by a probe: a Polish video counted as unstaffed, then was leased once its queue relaxed the language."""
    engine.submit([video("polish", language="pl", region="eu")])
    engine.upsert_moderator(profile("m1"))
    assert engine.task("polish").queue == "video_high_intl"
    assert unstaffed(engine) == {}


def test_a_clearance_nobody_holds_counts_until_someone_holds_it(engine: Engine) -> None:
    engine.submit([video("csam", modality="photo", signals={"child_safety": 0.9})])
    engine.upsert_moderator(profile("uncleared", policy_areas=["child_safety"]))
    assert unstaffed(engine) == {"child_safety": 1}
    engine.upsert_moderator(profile("cleared", clearance=["csam"], policy_areas=["child_safety"]))
    assert unstaffed(engine) == {}


def test_an_appeal_every_qualified_moderator_decided_before_counts(engine: Engine) -> None:
    """The gap this closes: such an appeal was visible only by its queue's age."""
    csam = {"modality": "photo", "signals": {"child_safety": 0.9}, "content_hash": "h"}
    engine.submit([video("orig", **csam)])
    engine.upsert_moderator(profile("decider", clearance=["csam"], policy_areas=["child_safety"]))
    engine.upsert_moderator(profile("uncleared"))
    lease = engine.next_for("decider")
    assert lease is not None and lease.lease_token is not None
    engine.decide("orig", lease.lease_token, "decider", Decision(verdict=Verdict.VIOLATING, policy="child_safety"))
    engine.submit([video("appeal", modality="photo", signals={}, content_hash="h", source="appeal")])
    assert engine.task("appeal").state is TaskState.QUEUED
    # (A QA review of the decision, sampled at random, is kept from its decider too, and counts in its own queue.)
    assert unstaffed(engine)["appeals"] == 1
    engine.upsert_moderator(profile("second", clearance=["csam"], policy_areas=["child_safety"]))
    assert unstaffed(engine) == {}


def test_work_skipped_by_everyone_qualified_stops_counting_once_it_leaves_its_queue(engine: Engine) -> None:
    """A task its only qualified moderator skipped counts, looked at on its own; cancelled, it waits no more and must
    no longer count, or the gap outlives the work that showed it."""
    engine.submit([video("csam", modality="photo", signals={"child_safety": 0.9})])
    engine.upsert_moderator(profile("only", clearance=["csam"], policy_areas=["child_safety"]))
    lease = engine.next_for("only")
    assert lease is not None and lease.lease_token is not None
    engine.skip(lease.id, lease.lease_token, "only", "not mine")
    assert unstaffed(engine) == {"child_safety": 1}
    engine.cancel("csam")
    assert unstaffed(engine) == {}


def test_severe_work_only_moderators_with_no_severe_budget_qualify_for_counts(engine: Engine) -> None:
    """Found by a probe: a budget of no severe item at all is a standing ban, not a budget that refills."""
    engine.submit([video("gore", signals={"violence": 0.99})])
    engine.upsert_moderator(profile("m1", severe_per_hour=0))
    assert engine.task("gore").severe and unstaffed(engine) == {"video_high_en": 1}
    engine.upsert_moderator(profile("m2", severe_per_hour=1))
    assert unstaffed(engine) == {}


def test_a_spent_wellbeing_budget_is_no_roster_gap(engine: Engine) -> None:
    engine.upsert_moderator(profile("m1", severe_per_hour=1))
    engine.submit([video("gore1", signals={"violence": 0.99}), video("gore2", signals={"violence": 0.99})])
    assert engine.task("gore1").severe
    lease = engine.next_for("m1")
    assert lease is not None and lease.lease_token is not None
    engine.decide(lease.id, lease.lease_token, "m1", Decision(verdict=Verdict.VIOLATING, policy="violence"))
    assert engine.next_for("m1") is None  # the budget is spent for the hour
    assert unstaffed(engine) == {}


LANGUAGES = ["en", "es", "ga"]
REGIONS = ["us", "eu", "br"]
MODALITIES = ["video", "photo", "text", "audio"]
SIGNALS: list[dict[str, float]] = [{}, {"violence": 0.8}, {"hate": 0.9}, {"child_safety": 0.9}, {"self_harm": 0.95}]
STATUSES = list(ModeratorStatus)

moderators = st.lists(
    st.fixed_dictionaries(
        {
            "languages": st.sets(st.sampled_from(LANGUAGES), min_size=1).map(lambda held: dict.fromkeys(held, 1.0)),
            "regions": st.sets(st.sampled_from(REGIONS), min_size=1).map(sorted),
            "modalities": st.sets(st.sampled_from(MODALITIES), min_size=1).map(sorted),
            "clearance": st.sets(st.sampled_from(["csam", "terrorism"])).map(sorted),
            "status": st.sampled_from(STATUSES),
            "severe_per_hour": st.sampled_from([0, 6]),
        }
    ),
    max_size=5,
)
items = st.lists(
    st.tuples(
        st.sampled_from(LANGUAGES), st.sampled_from(REGIONS), st.sampled_from(MODALITIES), st.sampled_from(SIGNALS)
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    roster=moderators,
    sent=items,
    skips=st.lists(st.integers(0, 4), max_size=4),
    waited_s=st.sampled_from([0.0, 400.0, 2_000.0, 8_000.0]),
)
def test_unstaffed_counts_exactly_the_waiting_tasks_no_listed_moderator_qualifies_for(
    example_config: OpsConfig, roster: list[dict[str, Any]], sent: list[Any], skips: list[int], waited_s: float
) -> None:
    """Against a check of every waiting task and every moderator but the suspended (and, for severe work, but
    those with no severe budget), one pair at a time through `Model.qualified` once every escalation step has passed
    and the task's skips, after some moderators skipped what they were given and some time went by."""
    store, clock = MemoryStore(), VirtualClock(1_000.0)
    engine = Engine(store, clock, example_config)
    engine.submit(
        [
            video(f"i{n}", language=language, region=region, modality=modality, signals=signals)
            for n, (language, region, modality, signals) in enumerate(sent)
        ]
    )
    for n, fields in enumerate(roster):
        engine.upsert_moderator(profile(f"m{n}", **{**fields, "status": ModeratorStatus.AVAILABLE}))
    for n in skips:
        if n < len(roster):
            lease = engine.next_for(f"m{n}")
            if lease is not None and lease.lease_token is not None:
                engine.skip(lease.id, lease.lease_token, f"m{n}", "not mine")
    for n, fields in enumerate(roster):
        engine.set_status(f"m{n}", fields["status"], by_admin=True)
    clock.advance(waited_s)
    every_step_passed = clock.now() + 10 * 86_400.0
    expected: dict[str, int] = {}
    staff = {f"m{n}": fields for n, fields in enumerate(roster) if fields["status"] is not ModeratorStatus.SUSPENDED}
    for task in store.open_tasks():
        if task.state is not TaskState.QUEUED:
            continue
        if not any(
            engine.model.qualified(task, moderator_id, every_step_passed)
            and moderator_id not in task.skipped_by
            and not (task.severe and fields["severe_per_hour"] == 0)
            for moderator_id, fields in staff.items()
        ):
            expected[task.queue] = expected.get(task.queue, 0) + 1
    assert unstaffed(engine) == expected
