import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from queueopt.sim.caveats import caveats
from queueopt.sim.experiment import run_experiment
from queueopt.sim.kpis import REVIEW, kpis
from queueopt.sim.scenario import Accuracy, Scenario
from queueopt.sim.simulator import RunRecord, simulate

from .helpers import ONE_QUEUE_OPS, mm_c

# Probe t3: a second queue that no moderator may review (French items, an English team), with an SLA longer than
# the measured window: no open item there is ever old enough to miss.
TWO_LANGUAGES: dict[str, Any] = {
    **ONE_QUEUE_OPS,
    "queues": [{"name": "fr", "sla_s": 7200, "sla_target": 0.8}, {"name": "main", "sla_s": 7200, "sla_target": 0.8}],
    "rules": [{"name": "fr", "queue": "fr", "when": {"language": ["fr"]}}, {"name": "rest", "queue": "main"}],
}


def _unreviewed_french(**extra: Any) -> Any:
    return mm_c(
        servers=2, load=0.5, horizon_s=4000.0, ops=TWO_LANGUAGES, arrival={"language": {"en": 1, "fr": 1}}, **extra
    )


def test_items_nobody_reviews_are_open_not_met() -> None:
    measured = kpis(simulate(_unreviewed_french()))
    assert measured["queue.fr.open_share"] == 1.0
    assert math.isnan(measured["queue.fr.sla_attainment"])  # nothing decided, nothing old enough to miss
    assert measured["queue.main.open_share"] < 0.1
    assert measured["overall.sla_attainment"] == 1.0  # the English items alone: why open_share must be read too
    french = measured["queue.fr.items"] / measured["overall.items"]
    assert measured["overall.open_share"] == pytest.approx(
        french + (1 - french) * measured["queue.main.open_share"], abs=1e-12
    )


def test_caveats_name_a_mostly_open_queue_and_an_sla_longer_than_the_window() -> None:
    scenario = _unreviewed_french(replications=2)
    lines = caveats(scenario, run_experiment(scenario).estimates())
    assert lines == [
        "queue fr: 100% of its items are undecided at the horizon; its SLA shares count only those older than sla_s "
        "(7200 s)",
        "queue fr: SLA not measured: sla_s (7200 s) is at least the measured window (3600 s), so an undecided item "
        "never counts as a miss",
        "queue main: SLA not measured: sla_s (7200 s) is at least the measured window (3600 s), so an undecided item "
        "never counts as a miss",
    ]


def test_a_queue_served_in_time_has_no_caveat() -> None:
    scenario = mm_c(servers=3, load=0.5, horizon_s=4000.0, replications=2)
    assert caveats(scenario, run_experiment(scenario).estimates()) == []


def test_an_open_item_counts_its_time_to_decision_so_far() -> None:
    run = simulate(_unreviewed_french())
    measured = kpis(run)
    counted = (run.arrivals.at_s >= run.scenario.warmup_s) & (run.queue == 0)
    so_far = run.scenario.horizon_s - run.arrivals.at_s[counted]  # every French item is open at the horizon
    assert measured["queue.fr.time_to_decision_mean_s"] == pytest.approx(so_far.mean(), rel=1e-12)
    assert measured["queue.fr.time_to_decision_p50_s"] == pytest.approx(float(np.median(so_far)), rel=1e-12)
    assert measured["overall.time_to_decision_mean_s"] > measured["queue.main.time_to_decision_mean_s"]


def test_removal_recall_counts_every_violating_item_reviewers_never_saw() -> None:
    """Found by a probe: recall was over the items a moderator decided, so violating items nobody reviewed (here the
    French half, which no moderator reads) were no misses at all."""
    scored = {"language": {"en": 1, "fr": 1}, "signals": {"spam": {"score": {"a": 2, "b": 2}}}}
    run = simulate(mm_c(servers=2, load=0.5, horizon_s=4000.0, ops=TWO_LANGUAGES, arrival=scored))
    measured = kpis(run)
    counted = run.arrivals.at_s >= run.scenario.warmup_s
    violating = counted & run.arrivals.violating
    removed = counted & (run.verdict == 1)
    assert measured["overall.removal_recall"] == pytest.approx((removed & violating).sum() / violating.sum())
    assert measured["overall.removal_recall"] < 0.6 * measured["overall.recall"]  # half the violating never seen
    assert measured["queue.fr.removal_recall"] == 0.0
    assert measured["overall.removal_precision"] == pytest.approx((removed & violating).sum() / removed.sum())


def _two_moderators_every_decision_checked(tmp_path: Path) -> Scenario:
    """Two moderators on duty all day at 36 an hour, reviews of exactly 100 s, every decision re-reviewed by QA (by
    the other moderator), items replayed at fixed times: four at 0 s (in the warm-up, to 150 s), one at 500 s and
    one at 950 s, whose review runs past the 1000 s horizon."""
    times = [0, 0, 0, 0, 500, 950]
    rows = "".join(f"i{index},{at},text,en,us\n" for index, at in enumerate(times))
    (tmp_path / "trace.csv").write_text("id,arrive_at_s,modality,language,region\n" + rows)
    queues = [{"name": "main", "sla_s": 60, "sla_target": 0.8, "qa_sample_rate": 1.0}]
    return mm_c(
        servers=2,
        horizon_s=1000.0,
        warmup_s=150.0,
        strategy="optimal",
        ops={**ONE_QUEUE_OPS, "queues": queues},
        arrivals=[],
        trace="trace.csv",
        group={"hourly_cost": 36.0, "speed": {"text": {"median_s": 100.0, "sigma": 0.0}}},
        base_dir=tmp_path,
    )


def test_cost_per_decision_divides_the_window_cost_by_the_decisions_made_in_it(tmp_path: Path) -> None:
    """Found by a review: the cost of the window's on-duty time was divided by the decided items that arrived after
    the warm-up, leaving out the window's decisions on items from the warm-up and every QA review. Here the first
    two reviews end at 100 s, in the warm-up; the other two items of the warm-up, the one arriving at 500 s and
    the QA reviews of all five are decided in the window (8); the review begun at 950 s ends after the horizon."""
    measured = kpis(simulate(_two_moderators_every_decision_checked(tmp_path)))
    assert measured["overall.cost"] == pytest.approx(2 * 36.0 * (1000.0 - 150.0) / 3600.0)  # 17
    assert measured["overall.moderator_decisions"] == 8
    assert measured["overall.cost_per_moderator_decision"] == pytest.approx(17.0 / 8)


def _replayed_trace(tmp_path: Path, **extra: Any) -> Scenario:
    """`tmp_path/trace.csv` replayed to one moderator whose every review takes exactly 100 s and is right, for 1,000
    s: outcomes worked out by hand."""
    fields: dict[str, Any] = {"servers": 1, "horizon_s": 1000.0, "warmup_s": 0.0, "arrivals": [], **extra}
    return mm_c(
        trace="trace.csv",
        group={
            "accuracy": {"mean": 0.999999, "concentration": 1e9},
            "speed": {"text": {"median_s": 100.0, "sigma": 0.0}},
        },
        base_dir=tmp_path,
        **fields,
    )


def test_a_trace_row_s_half_life_and_patience_are_replayed(tmp_path: Path) -> None:
    """Found by a review: every replayed item kept constant views and waited for ever, whatever the trace said.
    One moderator, reviews of 100 s: `a` (violating, 3,600 views an hour halving every 600 s) is reviewed from 0 s
    and removed at 100 s; `b` gives up after 30 s in the queue; `c`, with neither column, waits and is reviewed."""
    (tmp_path / "trace.csv").write_text(
        "id,arrive_at_s,modality,language,region,views_per_hour,true_violating,views_half_life_s,patience_s\n"
        "a,0,text,en,us,3600,true,600,\n"
        "b,1,text,en,us,0,false,,30\n"
        "c,2,text,en,us,0,false,,\n"
    )
    scenario = _replayed_trace(tmp_path)
    run = simulate(scenario)
    removed_at = run.decided_at[0]
    assert removed_at == pytest.approx(100.0) and run.verdict[0] == 1
    assert kpis(run)["overall.harmful_views"] == pytest.approx(600.0 / math.log(2) * (1 - 2 ** (-removed_at / 600.0)))
    assert run.abandoned_at[1] == pytest.approx(31.0) and math.isnan(run.decided_at[1])
    assert math.isnan(run.abandoned_at[2]) and run.decided_at[2] == pytest.approx(200.0)


def _overloaded_run() -> RunRecord:
    """One moderator at load 1.5: dozens of items wait at the warm-up's end and at the horizon, the window's edges
    where the old ratio (items' clipped waits over lambda W, the same records on both sides) read far above 1."""
    return simulate(mm_c(servers=1, load=1.5, horizon_s=6000.0, warmup_s=1500.0))


def test_little_s_law_holds_exactly_across_the_window_edges() -> None:
    run = _overloaded_run()
    measured = kpis(run)
    assert measured["overall.engine_backlog_mean"] > 10.0
    warmup = run.scenario.warmup_s
    carried = (run.arrivals.at_s < warmup) & ~(run.leased_at < warmup) & (run.action == REVIEW)
    assert carried.sum() > 5  # waiting at the warm-up's end: the L0 of the finite-window form
    assert measured["overall.little_ratio"] == pytest.approx(1.0, rel=1e-9)


def test_a_queue_s_sampled_backlog_covers_the_window_only() -> None:
    """The queue's backlog, sampled at regular times, estimates the same mean as the engine's exact integral over
    the window; in the overloaded run the queue grows all along, so counting the warm-up's samples read 18 for 23.7."""
    measured = kpis(_overloaded_run())
    assert measured["queue.main.backlog_mean"] == pytest.approx(measured["overall.engine_backlog_mean"], rel=0.03)


@pytest.mark.parametrize(("shift_s", "every"), [(30.0, True), (30.0, False)])
def test_corrupted_wait_records_break_little_s_law(shift_s: float, every: bool) -> None:
    """The review's corruption (every lease written 30 s late) and a single late lease: L comes from the engine's
    queue, not from the records, so the ratio departs from 1 (it read 1.01 when both sides came from the records)."""
    run = _overloaded_run()
    leased = np.flatnonzero((run.arrivals.at_s >= run.scenario.warmup_s) & ~np.isnan(run.leased_at))
    rows = leased if every else leased[len(leased) // 2 : len(leased) // 2 + 1]
    run.leased_at[rows] += shift_s
    ratio = kpis(run)["overall.little_ratio"]
    assert ratio < 1.0 - (0.01 if every else 1e-6), ratio  # the check allows 1e-9


def _replayed_by_hand(tmp_path: Path) -> RunRecord:
    """One moderator, reviews of exactly 100 s, every verdict right, one view a second for every item; the window is
    [5, 1000) and the SLA 100 s. From the warm-up: `a` (0 s, reviewed to 100 s), its copy `v` (2 s), and `w` (1 s,
    leased at 100 s). In the window `b` (10 s) waits to 200 s and is decided at 300 s, late; `c` (20 s, violating)
    gives up after 30 s; `h` (300 s) copies `a`, decided before it came; `x` (400 s) is removed automatically, though
    harmless, and `y` (500 s) approved automatically, though violating; `d` (850 s, violating) is decided at 950 s,
    exactly on its SLA, and so is its copy `g` (860 s); `e` (880 s) waits from 950 s and is open at the horizon, 120 s
    old, a miss; `f` (990 s) still waits at the horizon, too young to miss."""
    rows = [("a", 0, "true", "", "a", 0.5), ("w", 1, "false", "", "w", 0.5), ("v", 2, "true", "", "a", 0.5)]
    rows += [("b", 10, "false", "", "b", 0.5), ("c", 20, "true", "30", "c", 0.5), ("h", 300, "true", "", "a", 0.5)]
    rows += [("x", 400, "false", "", "x", 0.95), ("y", 500, "true", "", "y", 0.05), ("d", 850, "true", "", "d", 0.5)]
    rows += [("g", 860, "true", "", "d", 0.5), ("e", 880, "false", "", "e", 0.5), ("f", 990, "false", "", "f", 0.5)]
    (tmp_path / "trace.csv").write_text(
        "id,arrive_at_s,modality,language,region,views_per_hour,true_violating,patience_s,content_hash,signals.spam\n"
        + "".join(f"{name},{at},text,en,us,3600,{','.join(map(str, rest))}\n" for name, at, *rest in rows)
    )
    queues = [{"name": "main", "sla_s": 100, "sla_target": 0.8}]
    return simulate(
        _replayed_trace(
            tmp_path,
            warmup_s=5.0,
            ops={
                **ONE_QUEUE_OPS,
                "queues": queues,
                "auto_actions": {"remove_at": {"spam": 0.9}, "approve_at": {"spam": 0.1}},
            },
        )
    )


def test_every_item_kpi_of_a_replay_worked_by_hand(tmp_path: Path) -> None:
    """Each item KPI's definition (docs/simulation.md) applied by hand to items whose fate is fixed: which items
    count, how an open item is censored, which misses the SLA, where a harmful item's views stop."""
    run = _replayed_by_hand(tmp_path)
    measured = kpis(run)
    kpi = {name.removeprefix("overall."): value for name, value in measured.items() if name.startswith("overall.")}
    assert kpi["items"] == 9 and measured["queue.main.items"] == 5  # b to y; the five reviews
    assert (kpi["auto_action_share"], kpi["duplicate_share"]) == (pytest.approx(2 / 9), pytest.approx(2 / 9))
    decision = [290.0, 90.0, 100.0, 120.0, 10.0]  # b, g, d, and e and f so far; no moderator decided c, h, x, y
    assert kpi["time_to_decision_mean_s"] == pytest.approx(np.mean(decision))
    for name, level in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert kpi[f"time_to_decision_{name}_s"] == pytest.approx(np.quantile(decision, level))
    assert kpi["time_to_decision_p95_s"] == pytest.approx(120.0 + 0.8 * 170.0)  # numpy's linear interpolation
    assert kpi["wait_mean_s"] == pytest.approx((190.0 + 30.0 + 0.0 + 70.0 + 10.0) / 5)  # reviews only, f's so far
    assert kpi["sla_attainment"] == pytest.approx(1 / 3)  # d in time; b late, e open past its SLA; c and f left out
    assert kpi["decided_within_sla_share"] == pytest.approx(1 / 4)  # c a miss here
    assert (kpi["abandoned_share"], kpi["open_share"]) == (pytest.approx(1 / 9), pytest.approx(2 / 9))
    # c until it left, d and g until removed, y (approved) to the horizon; h and x removed on arrival
    assert kpi["harmful_views"] == pytest.approx(30.0 + 100.0 + 90.0 + 500.0)
    assert (kpi["accuracy"], kpi["precision"], kpi["recall"]) == (1.0, 1.0, 1.0)  # the moderator's b, d, g
    assert kpi["removal_recall"] == pytest.approx(3 / 5)  # d, g, h of c, d, g, h, y
    assert kpi["removal_precision"] == pytest.approx(3 / 4)  # d, g, h of d, g, h, x
    # w waits 95 s of the window, b 190 s, c 30 s, e 70 s, f 10 s: the item side of Little's law, and the engine's
    assert kpi["backlog_mean"] == pytest.approx((95.0 + 190.0 + 30.0 + 70.0 + 10.0) / 995.0)
    assert kpi["engine_backlog_mean"] == pytest.approx(kpi["backlog_mean"])


def test_reviewers_errors_by_hand(tmp_path: Path) -> None:
    """Two moderators, reviews of exactly 100 s, one view a second for every item: the English one is always right,
    the French one always wrong. Violating: p, q, t; the French one approves q (so its views run to the horizon)
    and removes r and u. Precision is the share of removals that were right, recall the share of violating items
    removed: they differ here, so neither can stand in for the other."""
    rows = [("p", 0, "en", "true"), ("q", 0, "fr", "true"), ("r", 200, "fr", "false"), ("s", 200, "en", "false")]
    rows += [("t", 400, "en", "true"), ("u", 400, "fr", "false")]
    (tmp_path / "trace.csv").write_text(
        "id,arrive_at_s,modality,language,region,views_per_hour,true_violating\n"
        + "".join(f"{name},{at},text,{language},us,3600,{violating}\n" for name, at, language, violating in rows)
    )
    english = _replayed_trace(tmp_path)
    wrong = Accuracy(mean=0.000001, concentration=1e9)
    french = english.roster[0].model_copy(update={"name": "french", "languages": {"fr": 1.0}, "accuracy": wrong})
    run = simulate(english.model_copy(update={"roster": [english.roster[0], french]}))
    assert run.verdict.tolist() == [1, 0, 1, 0, 1, 1]
    measured = kpis(run)
    assert measured["overall.accuracy"] == pytest.approx(3 / 6)
    assert measured["overall.precision"] == pytest.approx(2 / 4)  # p, t of the removals p, r, t, u
    assert measured["overall.recall"] == pytest.approx(2 / 3)  # p, t of the violating p, q, t
    assert (measured["overall.removal_precision"], measured["overall.removal_recall"]) == (0.5, pytest.approx(2 / 3))
    assert measured["overall.harmful_views"] == pytest.approx(100.0 + 1000.0 + 100.0)  # p and t until removed


def test_each_queue_and_stream_counts_its_own_items_of_the_window() -> None:
    """Queue and stream KPIs split the overall ones: French items (nobody reviews them) give up after a minute,
    English ones are served. A queue's abandoned share counts its own items only, and the one stream's wait is the
    overall wait, warm-up left out alike."""
    scenario = mm_c(
        servers=2,
        load=0.5,
        horizon_s=4000.0,
        ops=TWO_LANGUAGES,
        arrival={"language": {"en": 1, "fr": 1}, "patience_s": 60},
    )
    measured = kpis(simulate(scenario))
    gave_up = [
        measured[f"queue.{queue}.abandoned_share"] * measured[f"queue.{queue}.items"] for queue in ("fr", "main")
    ]
    assert sum(gave_up) == pytest.approx(measured["overall.abandoned_share"] * measured["overall.items"])
    assert gave_up[0] > 10 * gave_up[1]
    assert measured["stream.item.wait_mean_s"] == measured["overall.wait_mean_s"]


def test_severe_reviews_are_counted_per_hour_on_duty() -> None:
    """The wellbeing KPI is exposure per hour of work paid for: every item severe, one moderator on duty all along
    at load 0.5, so the severe reviews begun in the window over its hours, not over the half of them spent busy."""
    severe = {"signals": {"gore": {"score": {"a": 50.0, "b": 1.0}}}}
    run = simulate(mm_c(servers=1, load=0.5, horizon_s=20000.0, arrival=severe))
    begun = int((run.severe & (run.leased_at >= run.scenario.warmup_s)).sum())
    assert begun > 50
    on_duty_hours = (run.scenario.horizon_s - run.scenario.warmup_s) / 3600.0
    assert kpis(run)["overall.severe_per_moderator_hour"] == pytest.approx(begun / on_duty_hours)
