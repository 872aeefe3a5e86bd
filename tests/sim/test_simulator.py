import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from queueopt.domain import QA_SUFFIX, Action, ModeratorStatus
from queueopt.sim.arrivals import item_index, sample_arrivals
from queueopt.sim.kpis import harmful_views, kpis, waits
from queueopt.sim.roster import NO_SEVERE_LIMIT, build_moderators
from queueopt.sim.scenario import Scenario
from queueopt.sim.simulator import ACTION_CODE, AUDIT_KEPT, TOO_LONG, RunRecord, Simulation, simulate

from .helpers import ONE_QUEUE_OPS, mm_c


def run_counting_waiting(scenario: Scenario) -> tuple[RunRecord, list[tuple[int, int]]]:
    """The run, and at each backlog sample the simulator's count of waiting work beside the engine's queue depth."""
    simulation = Simulation(scenario, 0)
    seen: list[tuple[int, int]] = []
    sample = simulation._sample

    def sample_and_count() -> None:
        sample()
        seen.append((simulation._waiting, sum(view.depth for view in simulation.engine.queues())))

    simulation._sample = sample_and_count  # type: ignore[method-assign]
    return simulation.run(), seen


def test_replication_draws_are_fixed_by_seed_and_replication() -> None:
    scenario = mm_c(horizon_s=5000.0)
    first, again, other = sample_arrivals(scenario, 0), sample_arrivals(scenario, 0), sample_arrivals(scenario, 1)
    assert np.array_equal(first.at_s, again.at_s) and np.array_equal(first.normal, again.normal)
    assert not np.array_equal(first.at_s[:10], other.at_s[:10])
    assert [item.id for item in first.items[:3]] == ["i0", "i1", "i2"]
    assert item_index("i12~qa") == 12


def test_arrival_count_matches_the_rate() -> None:
    scenario = mm_c(servers=10, load=0.9, horizon_s=100000.0)
    arrivals = sample_arrivals(scenario, 0)
    expected = 0.15 * 100000.0
    assert abs(len(arrivals) - expected) < 4 * math.sqrt(expected)
    assert np.all(np.diff(arrivals.at_s) >= 0)


def test_calibrated_signals_give_the_stated_violation_rate() -> None:
    scenario = mm_c(
        horizon_s=200000.0,
        arrival={"signals": {"spam": {"score": {"a": 2, "b": 2}}}, "duplicate_share": 0.2},
    )
    arrivals = sample_arrivals(scenario, 0)
    scores = np.asarray([item.signals["spam"] for item in arrivals.items])
    assert arrivals.violating.mean() == pytest.approx(scores.mean(), abs=0.02)
    hashes = [item.content_hash for item in arrivals.items]
    assert len(set(hashes)) < 0.85 * len(hashes)


def test_shifts_and_staggered_breaks() -> None:
    scenario = mm_c(
        servers=4,
        horizon_s=86400.0,
        group={"shifts": [{"start_h": 22, "end_h": 6}], "breaks": {"every_s": 7200, "length_s": 900}},
    )
    moderators = build_moderators(scenario, 0)
    first = [change for change in moderators.changes if change.moderator == 0]
    assert first[0].at_s == 0.0 and first[0].status is ModeratorStatus.AVAILABLE
    aways = [change.at_s for change in moderators.changes if change.status is ModeratorStatus.AWAY]
    assert len(set(aways)) > len(aways) // 2  # staggered, not all at once
    assert moderators.on_duty_s(0.0, 86400.0) == pytest.approx(np.full(4, 8 * 3600.0))


def test_every_item_is_accounted_for() -> None:
    run = simulate(mm_c(horizon_s=8000.0, arrival={"patience_s": 120}))
    served = ~np.isnan(run.leased_at)
    abandoned = ~np.isnan(run.abandoned_at)
    assert not (served & abandoned).any()
    assert (run.action == ACTION_CODE[Action.REVIEW]).all()
    assert abandoned.sum() > 0
    decided = ~np.isnan(run.decided_at)
    assert (run.decided_at[decided] >= run.leased_at[decided]).all()
    assert (run.leased_at[served] >= run.arrivals.at_s[served]).all()
    assert np.isfinite(waits(run)).all()


def test_mistakes_follow_true_accuracy() -> None:
    run = simulate(
        mm_c(
            horizon_s=20000.0,
            arrival={"signals": {"spam": {"score": {"a": 1, "b": 1}}}},
            group={"accuracy": {"mean": 0.8, "concentration": 1000}},
        )
    )
    measured = kpis(run)
    assert measured["overall.accuracy"] == pytest.approx(0.8, abs=0.04)
    assert 0.0 < measured["overall.precision"] <= 1.0


def test_harmful_views_stop_at_removal() -> None:
    run = simulate(
        mm_c(
            horizon_s=6000.0,
            arrival={"signals": {"spam": {"score": {"a": 5, "b": 1}}}, "views_per_hour": {"median": 3600}},
            group={"accuracy": {"mean": 0.99, "concentration": 10000}},
        )
    )
    views = harmful_views(run)
    removed = (run.verdict == 1) & run.arrivals.violating
    # 3600 views per hour is one per second: a removed item gathered exactly its time to decision in views.
    np.testing.assert_allclose(views[removed], (run.decided_at - run.arrivals.at_s)[removed])
    assert (views[~run.arrivals.violating] == 0).all()


def test_optimal_batches_serve_everything_like_pull() -> None:
    scenario = mm_c(horizon_s=6000.0, tick_s=2.0)
    pulled, batched = kpis(simulate(scenario, 0, "fifo")), kpis(simulate(scenario, 0, "optimal"))
    assert pulled["overall.items"] == batched["overall.items"]
    assert batched["overall.utilisation"] == pytest.approx(pulled["overall.utilisation"], rel=0.1)
    # batching every 2 s adds about a second of waiting per item
    assert batched["overall.wait_mean_s"] >= pulled["overall.wait_mean_s"] - 1.0


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="strategy"):
        simulate(mm_c(horizon_s=100.0), 0, "random")


@pytest.mark.parametrize("strategy", ["fifo", "optimal"])
def test_utilisation_is_the_share_of_slot_time_spent_reviewing(strategy: str) -> None:
    """Three moderators of capacity 2 at load 0.7 of their six slots: batch assignment fills both slots of a
    moderator, so 0.7 of six slots are busy; pulling, each reviews one task at a time in their one slot, and 4.2
    erlangs of work keep all three busy. Either way utilisation is a share, never above 1."""
    scenario = mm_c(servers=6, load=0.7, horizon_s=20000.0, group={"count": 3, "capacity": 2})
    measured = kpis(simulate(scenario, 0, strategy))  # type: ignore[arg-type]
    low, high = (0.6, 0.8) if strategy == "optimal" else (0.95, 1.0)
    assert low <= measured["overall.utilisation"] <= high


def test_a_batch_run_acts_on_auto_removals_when_they_arrive_not_at_its_tick() -> None:
    """The service routes an item when it arrives; a batch run submits at its tick only to save work, so an
    auto-removed item gathers no harmful views under `optimal` either (and a duplicate of a decided item is
    decided when it arrives)."""
    scenario = mm_c(
        horizon_s=6000.0,
        tick_s=30.0,
        ops={**ONE_QUEUE_OPS, "auto_actions": {"remove_at": {"spam": 0.7}}},
        arrival={"signals": {"spam": {"score": {"a": 2, "b": 2}}}, "duplicate_share": 0.2},
    )
    for strategy in ("fifo", "optimal"):
        run = simulate(scenario, 0, strategy)
        auto = run.action == ACTION_CODE[Action.AUTO_REMOVE]
        assert auto.sum() > 20
        np.testing.assert_array_equal(run.decided_at[auto], run.arrivals.at_s[auto])
        assert (harmful_views(run)[auto] == 0).all(), strategy
        copies = (run.action == ACTION_CODE[Action.DUPLICATE]) & ~np.isnan(run.decided_at) & (run.decided_by < 0)
        assert (run.decided_at[copies] - run.arrivals.at_s[copies] < 30.0).all()
        # Found by probe: a copy of an auto-removed item was left undecided, its views counted to the horizon.
        first: dict[str | None, int] = {}
        for row, item in enumerate(run.arrivals.items):
            first.setdefault(item.content_hash, row)
        of_removed = [
            row
            for row, item in enumerate(run.arrivals.items)
            if run.action[row] == ACTION_CODE[Action.DUPLICATE] and auto[first[item.content_hash]]
        ]
        assert len(of_removed) > 3, strategy
        np.testing.assert_array_equal(run.decided_at[of_removed], run.arrivals.at_s[of_removed])
        assert (run.verdict[of_removed] == 1).all() and (harmful_views(run)[of_removed] == 0).all()


def test_the_simulators_count_of_waiting_work_is_the_engines_when_copies_abandon() -> None:
    """An original item gives up while a duplicate still rides on its task: the task waits on, and leaves the
    count only when leased or when its last copy gives up too."""
    scenario = mm_c(
        servers=2,
        load=3.0,
        horizon_s=20000.0,
        arrival={"duplicate_share": 0.5, "patience_s": 120},
    )
    run, seen = run_counting_waiting(scenario)
    assert (run.action == ACTION_CODE[Action.DUPLICATE]).sum() > 100 and (~np.isnan(run.abandoned_at)).sum() > 100
    assert all(waiting == depth for waiting, depth in seen), seen


def test_a_batch_run_routes_and_counts_items_that_gave_up_before_its_tick() -> None:
    """Found by probe: under `optimal` with a 60 s tick, an item whose patience ran out before the tick was never
    submitted, so it had no action or queue and was missing from its queue's items, waits and abandoned share. It
    is routed as it would have been on arrival and leaves at the time it gave up; an auto-removal never waits."""
    scenario = mm_c(
        servers=2,
        load=1.5,
        horizon_s=6000.0,
        tick_s=60.0,
        strategy="optimal",
        ops={**ONE_QUEUE_OPS, "auto_actions": {"remove_at": {"spam": 0.8}}},
        arrival={"patience_s": 30, "signals": {"spam": {"score": {"a": 2, "b": 2}}}},
    )
    run, seen = run_counting_waiting(scenario)
    review = run.action == ACTION_CODE[Action.REVIEW]
    auto = run.action == ACTION_CODE[Action.AUTO_REMOVE]
    assert (review | auto).all() and (run.queue[review] >= 0).all() and auto.sum() > 10
    abandoned = ~np.isnan(run.abandoned_at)
    assert abandoned.sum() > 100 and not (abandoned & auto).any()
    np.testing.assert_allclose(run.abandoned_at[abandoned], (run.arrivals.at_s + run.arrivals.patience_s)[abandoned])
    measured = kpis(run)
    reviewed = measured["overall.items"] * (1.0 - measured["overall.auto_action_share"])
    assert measured["queue.main.items"] == pytest.approx(reviewed)
    gave_up = measured["overall.abandoned_share"] * measured["overall.items"]
    assert measured["queue.main.abandoned_share"] * measured["queue.main.items"] == pytest.approx(gave_up)
    assert all(waiting == depth for waiting, depth in seen), seen


def test_the_engines_backlog_is_sampled_often_enough_on_a_short_run() -> None:
    """Found by a probe: samples were at least 300 s apart, so a 200 s run had the one taken at 0 s and read an
    engine backlog of 0 beside an exact backlog of 1.2."""
    measured = kpis(simulate(mm_c(servers=1, load=2.0, horizon_s=400.0)))
    exact, sampled = measured["overall.engine_backlog_mean"], measured["queue.main.backlog_mean"]
    assert exact > 1.0 and sampled == pytest.approx(exact, rel=0.5)


def _one_paid_moderator(shifts: list[dict[str, float]], review_s: float) -> Scenario:
    """One moderator at 10 an hour on `shifts` over four hours, every review exactly `review_s`, work always waiting."""
    return mm_c(
        servers=1,
        horizon_s=4 * 3600.0,
        warmup_s=0.0,
        arrival={"rate_per_hour": 3600.0},
        group={"shifts": shifts, "hourly_cost": 10.0, "speed": {"text": {"median_s": review_s, "sigma": 0.0}}},
    )


def test_reviews_running_past_a_shifts_end_are_paid_overtime_and_utilisation_stays_at_most_1() -> None:
    """Found by a probe: one moderator on a one-hour shift, reviews of 3,000 s: utilisation read 1.667 and the cost
    one hour, though they worked until about 6,000 s finishing the review begun on shift."""
    run = simulate(_one_paid_moderator([{"start_h": 0, "end_h": 1}], review_s=3000.0))
    reviewed = np.sort(run.leased_at[~np.isnan(run.leased_at)])
    assert len(reviewed) == 2 and reviewed[1] < 3600.0  # the second begins on shift and ends past it
    worked_until = reviewed[1] + 3000.0 * run.moderators.speed_factor[0]
    measured = kpis(run)
    assert measured["overall.overtime_hours"] == pytest.approx((worked_until - 3600.0) / 3600.0)
    assert measured["overall.utilisation"] <= 1.0
    assert measured["overall.cost"] == pytest.approx(10.0 * worked_until / 3600.0)


def test_a_severe_review_waits_out_the_cool_down_from_the_end_of_the_last_one() -> None:
    """Found by a probe: with a 300 s cool-down, moderators got the next severe item 270 s after finishing one (the
    engine ran the cool-down from the lease), and no KPI showed it."""
    scenario = mm_c(
        servers=2,
        load=0.9,
        mean_s=200.0,
        horizon_s=4 * 3600.0,
        arrival={"signals": {"gore": {"score": {"a": 50, "b": 1}}}},
        group={"policy_areas": ["gore"], "cooldown_s": 300.0, "speed": {"text": {"median_s": 200.0, "sigma": 0.0}}},
    )
    run = simulate(scenario)
    assert run.severe.sum() > 20 and kpis(run)["overall.cooldown_breaches"] == 0.0
    for moderator in range(2):
        mine = run.decided_by == moderator
        starts, ends = np.sort(run.leased_at[mine]), np.sort(run.decided_at[mine])
        assert (starts[1:] - ends[:-1] >= 300.0 - 1e-6).all()


def _with_idle_french_moderator(scenario: Scenario) -> Scenario:
    english = scenario.roster[0]
    french = english.model_copy(update={"name": "french", "count": 1, "capacity": 1, "languages": {"fr": 1.0}})
    return scenario.model_copy(update={"roster": [english, french]})


def test_a_pull_run_reviews_each_task_once_whatever_the_capacity() -> None:
    """Found by a probe: with capacity 2 under `fifo`, the poll's batch gave a busy moderator a second lease, which
    the simulator started at once and again when `next_for` handed it over: tasks reviewed up to 50 times and a
    utilisation of 9.7. A moderator who may take none of the work, idle beside it (and so polling), shortened the
    others' waits. Each moderator now reviews one task at a time, and the idle one changes nothing."""
    alone = mm_c(servers=1, load=0.9, horizon_s=7200.0, warmup_s=0.0, group={"capacity": 2})
    runs = [simulate(scenario, 0, "fifo") for scenario in (alone, _with_idle_french_moderator(alone))]
    for run in runs:
        assert kpis(run)["overall.utilisation"] <= 1.0
        reviewed = run.leased_at[~np.isnan(run.leased_at)]
        assert len(reviewed) == len(np.unique(reviewed)) > 50  # one moderator, one review at a time
    for field in ("leased_at", "decided_at", "verdict"):
        np.testing.assert_array_equal(getattr(runs[0], field), getattr(runs[1], field))


@pytest.mark.parametrize("strategy", ["fifo", "priority"])
def test_a_pull_run_leases_severe_work_only_when_it_is_reviewed_so_the_hourly_budget_holds(strategy: str) -> None:
    """Found by a probe: with capacity 2, the poll's batch leased severe items to moderators mid-review, who began
    them minutes later; the engine counts the hourly budget at the lease, so reviews began past it (2 breaches in
    2 h). A pull run's engine now holds one slot per moderator: the run is the run at capacity 1."""
    runs = [
        simulate(
            mm_c(
                servers=6,
                load=1.5,
                horizon_s=7200.0,
                warmup_s=0.0,
                arrival={"signals": {"gore": {"score": {"a": 1, "b": 1}}}},
                group={"capacity": capacity, "severe_per_hour": 20, "cooldown_s": 30.0},
            ),
            0,
            strategy,
        )
        for capacity in (2, 1)
    ]
    assert runs[0].severe.sum() > 500 and kpis(runs[0])["overall.budget_breaches"] == 0.0
    for field in ("leased_at", "decided_at", "decided_by"):
        np.testing.assert_array_equal(getattr(runs[0], field), getattr(runs[1], field))


def test_a_review_running_into_the_next_shift_is_overtime_only_until_that_shift_begins() -> None:
    """Found by a probe: a review begun before a shift's end and ended in the next shift was paid as overtime until
    it ended, over the next shift's own paid time (5.09 overtime hours where 4.00 were worked off shift, utilisation
    0.580 where it was 0.660). Shifts 0-1 h and 1.5-4 h, reviews of 6,000 s: the first runs 1,800 s off shift."""
    run = simulate(_one_paid_moderator([{"start_h": 0, "end_h": 1}, {"start_h": 1.5, "end_h": 4}], review_s=6000.0))
    assert run.leased_at[0] + 6000.0 > 5400.0  # the first review ends in the second shift
    measured = kpis(run)
    assert measured["overall.overtime_hours"] == pytest.approx(0.5)
    assert measured["overall.cost"] == pytest.approx(10.0 * 4.0)
    assert measured["overall.utilisation"] <= 1.0


@pytest.mark.parametrize("strategy", ["fifo", "optimal"])
def test_a_review_longer_than_one_extension_keeps_its_lease_to_the_end(strategy: str) -> None:
    """Found by a probe: a 4.5 h review asked once for 4 h more and lost its lease; the task was never decided, and
    `optimal` gave the moderator more work while they were still on it (utilisation 1.108). The simulator now asks
    again before each extension runs out, as a review tool would, and hands back in time a review longer than
    the engine lets a lease run in all."""
    ops = {**ONE_QUEUE_OPS, "lease_s": 3600.0}  # a lease may run 3,600 s plus 4 h: 17,939 s of review fits
    for median_s, decided in ((16_000.0, True), (30_000.0, False)):
        scenario = mm_c(
            servers=1,
            horizon_s=86_400.0,
            warmup_s=0.0,
            ops=ops,
            arrival={"rate_per_hour": 0.2},
            group={"speed": {"text": {"median_s": median_s, "sigma": 0.0}}},
        )
        run = simulate(scenario, 0, strategy)
        handling = median_s * run.moderators.speed_factor.item(0)
        assert kpis(run)["overall.utilisation"] <= 1.0
        started = np.sort(run.leased_at[~np.isnan(run.leased_at)])
        if decided:
            assert len(started) >= 3 and np.all(np.diff(started) >= handling - 1e-6)
            finished = ~np.isnan(run.decided_at) & ~np.isnan(run.leased_at)
            assert finished.sum() >= 3
            np.testing.assert_allclose(run.decided_at[finished] - run.leased_at[finished], handling)
        else:  # each item handed back once and left waiting: the one moderator is not offered it again
            assert len(started) >= 3 and np.isnan(run.decided_at).all()
            np.testing.assert_allclose(np.diff(started)[1:], 17_939.0)


@pytest.mark.parametrize("strategy", ["fifo", "optimal"])
def test_a_review_too_long_for_any_lease_goes_to_someone_else_and_then_waits(strategy: str) -> None:
    """Found by a probe: a review of about 30,000 s, where a lease may run 15,000 s in all, went back to the same
    moderator at once, three times, while their colleague idled, and was never decided: the lease expired at the
    instant the review was handed back, and the next pull or batch chose the same moderator. A moderator now
    skips it a minute before the lease runs out (the engine never offers it to them again): the colleague takes
    it up, and when they cannot finish it either it waits, open."""
    scenario = mm_c(
        servers=2,
        horizon_s=40_000.0,
        warmup_s=0.0,
        arrival={"rate_per_hour": 0.5},
        group={"speed": {"text": {"median_s": 30_000.0, "sigma": 0.0}}},
    )
    simulation = Simulation(scenario, 0, strategy)
    run = simulation.run()
    audit = simulation._store.audit(0.0, AUDIT_KEPT)
    leases = [(entry.task_id, entry.note) for entry in audit if entry.transition == "leased"]
    skips = [entry for entry in audit if entry.transition == "skipped"]
    assert len(leases) == len(set(leases))  # never to the same moderator twice
    assert [entry.note for entry in skips] == [TOO_LONG] * len(skips) and len(skips) >= 2
    assert len({entry.actor for entry in skips if entry.task_id == "i0"}) == 2  # both tried the first item
    assert np.isnan(run.decided_at).all() and kpis(run)["overall.open_share"] == 1.0
    # Its wait ended when it was first taken up, however often it came back: a lease time overwritten by the second
    # moderator's (mutant S33 of a review) counted the first review's hours as waiting.
    first_leased = min(entry.at for entry in audit if entry.transition == "leased" and entry.task_id == "i0")
    assert run.leased_at[0] == first_leased


@pytest.mark.parametrize(
    "speed",
    [{"distribution": "exponential", "mean_s": 60.0}, {"median_s": 60.0, "sigma": 1.0}],
    ids=["exponential", "lognormal"],
)
def test_a_qa_review_draws_its_time_and_its_mistake_apart_from_the_review_it_checks(speed: dict[str, Any]) -> None:
    """Each item carries its own standardised draws for a QA review of it (`qa_normal`, `qa_exponential`,
    `qa_mistake`). Read from the review's draws instead, a QA reviewer as accurate as the decider repeated every
    one of their mistakes (QA never disagreed) and took the review's own time over again, scaled by speed (the
    exponential's draw, or the lognormal's); the run record keeps neither, so the reviews' verdicts and times are
    read as the engine is told them."""
    queues = [{"name": "main", "sla_s": 60, "sla_target": 0.8, "qa_sample_rate": 1.0}]
    scenario = mm_c(
        servers=4,
        load=0.3,
        horizon_s=20_000.0,
        ops={**ONE_QUEUE_OPS, "queues": queues},
        group={"accuracy": {"mean": 0.7, "concentration": 10_000}, "speed": {"text": speed}},
    )
    simulation = Simulation(scenario, 0)
    started: dict[str, float] = {}
    took: dict[str, float] = {}
    verdicts: dict[str, object] = {}
    start, decide = simulation._start, simulation.engine.decide

    def start_and_note(task_id: str, moderator: int, token: str) -> None:
        started[task_id] = simulation.clock.now()
        start(task_id, moderator, token)

    def decide_and_note(task_id: str, token: str, moderator_id: str, decision: Any) -> Any:
        took[task_id] = simulation.clock.now() - started[task_id]
        verdicts[task_id] = decision.verdict
        return decide(task_id, token, moderator_id, decision)

    simulation._start = start_and_note  # type: ignore[method-assign]
    simulation.engine.decide = decide_and_note  # type: ignore[method-assign]
    simulation.run()
    checked = [task for task in verdicts if task + QA_SUFFIX in verdicts]
    assert len(checked) > 300
    disagree = np.mean([verdicts[task] != verdicts[task + QA_SUFFIX] for task in checked])
    assert 0.3 < disagree < 0.55  # two independent 70% reviews disagree 42% of the time
    review = np.log([took[task] for task in checked])
    qa = np.log([took[task + QA_SUFFIX] for task in checked])
    assert abs(np.corrcoef(review, qa)[0, 1]) < 0.2


def test_severe_reviews_the_engine_lets_through_too_soon_are_counted_as_breaches(tmp_path: Path) -> None:
    """The engine enforces each group's cool-down and hourly budget, so every other run reads no breaches, and a
    count that never moved (the end of a severe review never written down) passed them all. Here the engine is told
    neither limit while the roster keeps both: one moderator, 100 severe items at 0 s, reviews of exactly 200 s back
    to back. Each review begins as the last ends, inside the 300 s cool-down: every one but the first breaches it.
    A rolling hour holds the starts after `now - 3600`, so with a budget of 18 an hour the 19th review, begun
    exactly an hour after the first, does not breach it (the hour's first start is out of it by then)."""
    rows = "".join(f"i{index},0,text,en,us,0.99\n" for index in range(100))
    (tmp_path / "trace.csv").write_text("id,arrive_at_s,modality,language,region,signals.gore\n" + rows)
    scenario = mm_c(
        servers=1,
        horizon_s=4 * 3600.0,
        warmup_s=0.0,
        arrivals=[],
        trace=str(tmp_path / "trace.csv"),
        group={
            "policy_areas": ["gore"],
            "cooldown_s": 300.0,
            "severe_per_hour": 18,
            "speed_spread": 0.0,
            "speed": {"text": {"median_s": 200.0, "sigma": 0.0}},
        },
    )
    simulation = Simulation(scenario, 0)
    unlimited = {"capacity": 1, "cooldown_s": 0.0, "severe_per_hour": NO_SEVERE_LIMIT}
    simulation._engine_profile = lambda profile: profile.model_copy(update=unlimited)  # type: ignore[method-assign]
    run = simulation.run()
    reviewed = int((~np.isnan(run.leased_at)).sum())
    assert run.severe.all() and reviewed == 72
    np.testing.assert_array_equal(np.sort(run.leased_at[:reviewed]), 200.0 * np.arange(reviewed))
    assert run.severe_reviews.tolist() == [reviewed]
    assert run.cooldown_breaches.tolist() == [reviewed - 1]
    assert run.budget_breaches.tolist() == [0]


def test_a_lease_runs_for_the_media_as_well_so_a_long_videos_review_fits_in_it(tmp_path: Path) -> None:
    """The engine lets a lease run `lease_s` plus the item's media duration, and extend by 4 h more in all. A
    review of a one-hour video may take 20,000 s: more than 3,600 s plus 4 h, within 7,200 s plus 4 h. Taking the
    lease as `lease_s` alone, the moderator handed the review back unfinished as too long for any lease; every
    other long review was of text, with no media to count."""
    (tmp_path / "trace.csv").write_text("id,arrive_at_s,modality,language,region,duration_s\ni0,0,video,en,us,3600\n")
    scenario = mm_c(
        servers=1,
        horizon_s=30_000.0,
        warmup_s=0.0,
        ops={**ONE_QUEUE_OPS, "lease_s": 3600.0},
        arrivals=[],
        trace=str(tmp_path / "trace.csv"),
        group={"modalities": ["video"], "speed_spread": 0.0, "speed": {"video": {"median_s": 20_000.0, "sigma": 0.0}}},
    )
    run = simulate(scenario)
    assert run.leased_at.tolist() == [0.0] and run.decided_at.tolist() == [20_000.0]


def test_an_item_whose_patience_runs_out_at_the_tick_that_submits_it_leaves_unreviewed(tmp_path: Path) -> None:
    """A batch run submits at its tick what arrived since the last one, and an item that gave up by then, up to and
    including the tick's instant, leaves when it gave up. One arriving at 30 s with 30 s of patience gave up as the
    60 s tick came: left for its own abandonment event at that instant, it was leased by the tick's batch first,
    to a moderator who sat idle, and reviewed after it had left; drawn patience never lands on a tick exactly."""
    trace = "id,arrive_at_s,modality,language,region,patience_s\ni0,30,text,en,us,30\ni1,90,text,en,us,60\n"
    (tmp_path / "trace.csv").write_text(trace)
    scenario = mm_c(
        servers=1,
        horizon_s=600.0,
        warmup_s=0.0,
        tick_s=60.0,
        strategy="optimal",
        arrivals=[],
        trace=str(tmp_path / "trace.csv"),
    )
    run = simulate(scenario)
    assert run.abandoned_at.tolist()[0] == 60.0 and math.isnan(run.leased_at[0])
    assert math.isnan(run.abandoned_at[1]) and run.leased_at[1] == 120.0  # one with patience to spare is reviewed


def test_a_batch_run_pays_overtime_to_the_end_of_the_longest_review_under_way(tmp_path: Path) -> None:
    """A moderator of capacity 2 under `optimal` holds two reviews at once: one of 5,000 s leased at 0 s and one of
    100 s leased at the 120 s tick. Their shift ends at 3,600 s, with the long review under way until 5,000 s:
    1,400 s of overtime. Taking the end of the review begun last as when they work until, the short one's end
    (220 s) hid the long one and paid none; every other overtime test reviewed one item at a time."""
    trace = "id,arrive_at_s,modality,language,region\ni0,0,text,en,us\ni1,100,photo,en,us\n"
    (tmp_path / "trace.csv").write_text(trace)
    scenario = mm_c(
        servers=1,
        horizon_s=4 * 3600.0,
        warmup_s=0.0,
        tick_s=60.0,
        strategy="optimal",
        arrivals=[],
        trace=str(tmp_path / "trace.csv"),
        group={
            "capacity": 2,
            "modalities": ["text", "photo"],
            "shifts": [{"start_h": 0, "end_h": 1}],
            "speed_spread": 0.0,
            "speed": {"text": {"median_s": 5000.0, "sigma": 0.0}, "photo": {"median_s": 100.0, "sigma": 0.0}},
        },
    )
    run = simulate(scenario)
    assert run.leased_at.tolist() == [0.0, 120.0] and run.decided_at.tolist() == [5000.0, 220.0]
    assert run.overtime_s.tolist() == [1400.0]


def test_the_simulators_count_of_waiting_work_is_the_engines_when_reviews_are_handed_back() -> None:
    """A review too long for any lease is handed back unfinished and waits again, counted as waiting work; left
    uncounted, the simulator's count fell below the engine's queue depth and polls stopped while it waited."""
    scenario = mm_c(
        servers=2,
        horizon_s=40_000.0,
        warmup_s=0.0,
        arrival={"rate_per_hour": 0.5},
        group={"speed": {"text": {"median_s": 30_000.0, "sigma": 0.0}}},
    )
    run, seen = run_counting_waiting(scenario)
    assert np.isnan(run.decided_at).all() and (~np.isnan(run.leased_at)).sum() >= 2
    assert any(depth > 0 for _, depth in seen) and all(waiting == depth for waiting, depth in seen), seen


@pytest.mark.parametrize("review_s", [599.5, 600.0])
def test_a_review_ending_as_its_lease_runs_out_is_decided(review_s: float) -> None:
    """A lease of 600 s: a review of 600 s, or a moment less, ends as the lease runs out (the engine's lease ends
    at its last instant, and a decision written then finds it expired). The review tool asks for more time from
    a second before the lease's end; asking only for reviews longer than the lease, both were lost, and their
    items never decided. Every other review was far from its lease's end."""
    scenario = mm_c(
        servers=1,
        horizon_s=3000.0,
        warmup_s=0.0,
        ops={**ONE_QUEUE_OPS, "lease_s": 600.0},
        arrival={"rate_per_hour": 6.0},
        group={"speed_spread": 0.0, "speed": {"text": {"median_s": review_s, "sigma": 0.0}}},
    )
    run = simulate(scenario)
    leased = ~np.isnan(run.leased_at)
    ended = leased & (run.leased_at + review_s < 3000.0)
    assert ended.sum() >= 2
    np.testing.assert_allclose(run.decided_at[ended] - run.leased_at[ended], review_s)
