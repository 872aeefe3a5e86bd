"""Copies (duplicates) ride on the review of their content, under pull and batch strategies alike.

A copy of content whose review is still open is decided by that review: when it is decided, by its moderator, with
its verdict; it is under review from the first moment, from its arrival on, that the review is. A copy of content
decided before it arrived (or actioned automatically) is decided on arrival, by no one. A batch run submits at its
tick what arrived since the last one, so a copy that arrived while its review was under way may reach the engine
after the decision: it still rode on that review (found by a probe: such copies read as decided by no one, so their
time to decision, and the moderators' accuracy, left them out).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from queueopt.domain import QA_SUFFIX, Action, TaskState
from queueopt.sim.arrivals import item_index
from queueopt.sim.scenario import Scenario
from queueopt.sim.simulator import ACTION_CODE, RunRecord, Simulation

from .helpers import ONE_QUEUE_OPS, mm_c

REVIEW, COPY, AUTO_REMOVE = (ACTION_CODE[action] for action in (Action.REVIEW, Action.DUPLICATE, Action.AUTO_REMOVE))
AUTO_REMOVE_OPS = {**ONE_QUEUE_OPS, "auto_actions": {"remove_at": {"spam": 0.9}}}


@dataclass
class Review:
    """One review task as its audit trail tells it: when it was under lease, and its decision if made."""

    leases: list[list[float]] = field(default_factory=list)
    decided_at: float = math.nan
    decided_by: str | None = None
    verdict: bool | None = None

    def under_review_from(self, at: float) -> float:
        """The first instant from `at` on at which the review was under way (NaN: never)."""
        starts = [max(start, at) for start, end in self.leases if end > at]
        return min(starts, default=math.nan)


def reviews(simulation: Simulation) -> dict[str, Review]:
    """Every review task's account, read from the engine's audit (not from the simulator's own records)."""
    found: dict[str, Review] = {}
    for entry in simulation.engine.audit(limit=1_000_000):
        if entry.task_id is None or entry.task_id.endswith(QA_SUFFIX):
            continue
        review = found.setdefault(entry.task_id, Review())
        if entry.transition == "leased":
            review.leases.append([entry.at, math.inf])
        elif entry.transition in ("decided", "released", "skipped", "expired") and review.leases:
            review.leases[-1][1] = min(review.leases[-1][1], entry.at)
        if entry.transition == "decided":
            review.decided_at, review.decided_by = entry.at, entry.actor.removeprefix("moderator:")
            review.verdict = json.loads(entry.note)["verdict"] == "violating"
    return found


def check_copies(simulation: Simulation, run: RunRecord) -> Counter[str]:
    """Every copy against the audit's account of the review it rode on; returns how many copies met each case."""
    assert len(simulation.engine.audit(limit=1_000_000)) < 10_000, "the audit kept only part of the run"
    trail = reviews(simulation)
    open_reviews = (TaskState.QUEUED, TaskState.LEASED)
    riding_on = {task_id: simulation._store.task(task_id) for task_id in simulation._items_of_task}
    assert all(task is not None and task.state in open_reviews for task in riding_on.values()), "rides on nothing"
    row_of = {moderator_id: row for row, moderator_id in enumerate(run.moderators.ids)}
    cases: Counter[str] = Counter()
    for row in np.flatnonzero(run.action == COPY).tolist():
        item_id = run.arrivals.items[row].id
        arrived = run.arrivals.at_s.item(row)
        record = simulation._store.items([item_id])[item_id]
        got = (run.decided_at.item(row), run.decided_by.item(row), run.leased_at.item(row))
        if record.task_id is None:  # a copy of an automatic action
            case, expected = "of an automatic action", (arrived, -1, math.nan)
            assert record.duplicate_of is not None
            assert run.verdict[row] == run.verdict[item_index(record.duplicate_of)] >= 0
        elif not math.isnan(gave_up := run.abandoned_at.item(row)):
            case, expected = "gave up waiting", (math.nan, -1, math.nan)
            assert not trail[record.task_id].under_review_from(arrived) <= gave_up, f"{item_id} gave up under review"
        else:
            review = trail[record.task_id]
            if review.decided_at <= arrived:
                case, expected = "of a decided review", (arrived, -1, math.nan)
            else:
                decider = -1 if review.decided_by is None else row_of[review.decided_by]
                under_review = review.under_review_from(arrived)
                case = "rode on a review then under way" if under_review == arrived else "rode on a waiting review"
                expected = (review.decided_at, decider, under_review)
                if not math.isnan(run.abandoned_at.item(item_index(record.task_id))):
                    case = "rode on a review its own item gave up on"
            if review.verdict is not None:
                assert run.verdict[row] == review.verdict
        np.testing.assert_equal(got, expected, err_msg=f"{item_id} ({case}), arrived at {arrived}")
        cases[case] += 1
    return cases


def busy_team(strategy: str) -> Scenario:
    """Twenty moderators on ten-minute reviews, overloaded (half the items are copies, which need no review of their
    own): many copies arrive while their content waits or is under review, and under a batch strategy with a
    five-minute tick, some of those reach the engine after the decision; a tenth of the content is removed
    automatically."""
    return mm_c(
        servers=20,
        load=2.6,
        mean_s=600.0,
        horizon_s=20000.0,
        strategy=strategy,
        tick_s=300.0,
        ops=AUTO_REMOVE_OPS,
        arrival={
            "duplicate_share": 0.5,
            "patience_s": 1800,
            "signals": {"spam": {"score": {"a": 1, "b": 1}}},
        },
    )


def impatient_pair(strategy: str) -> Scenario:
    """Two moderators, three times the work they can do, and two minutes' patience: originals give up while a copy
    that arrived after them keeps their review open."""
    return mm_c(
        servers=2,
        load=3.0,
        horizon_s=20000.0,
        strategy=strategy,
        tick_s=30.0,
        arrival={"duplicate_share": 0.5, "patience_s": 120},
    )


@pytest.mark.parametrize("strategy", ["fifo", "optimal"])
def test_a_copy_rides_on_its_contents_review_whenever_it_reaches_the_engine(strategy: str) -> None:
    cases: Counter[str] = Counter()
    for scenario in (busy_team(strategy), impatient_pair(strategy)):
        simulation = Simulation(scenario, 0)
        cases.update(check_copies(simulation, simulation.run()))
    many = (
        "rode on a waiting review",
        "rode on a review then under way",
        "of a decided review",
        "of an automatic action",
    )
    assert all(cases[case] >= 5 for case in many), cases
    assert cases["gave up waiting"] >= 1 and cases["rode on a review its own item gave up on"] >= 1, cases


@pytest.mark.parametrize("strategy", ["fifo", "optimal"])
def test_copies_that_arrive_during_a_review_and_reach_the_engine_after_it(strategy: str, tmp_path: Path) -> None:
    """One moderator, reviews of exactly 100 s, a batch run's tick every 60 s: `a0` is leased at 0 and decided at
    100; its copies `a1` (at 50) and `a2` (at 90) arrive mid-review, and a batch run submits them at its ticks (60,
    120), `a2` after the decision; `a3` arrives after it. `b0` is removed automatically at 200, its copy `b1` at 230."""
    trace = tmp_path / "trace.csv"
    trace.write_text(
        "id,arrive_at_s,modality,language,region,content_hash,signals.spam\n"
        "a0,0,text,en,us,a,0.1\na1,50,text,en,us,a,0.1\na2,90,text,en,us,a,0.1\na3,110,text,en,us,a,0.1\n"
        "b0,200,text,en,us,b,0.95\nb1,230,text,en,us,b,0.95\n"
    )
    scenario = mm_c(
        servers=1,
        horizon_s=400.0,
        warmup_s=0.0,
        strategy=strategy,
        tick_s=60.0,
        ops=AUTO_REMOVE_OPS,
        trace=trace,
        group={"speed": {"text": {"median_s": 100.0, "sigma": 0.0}}},
    )
    simulation = Simulation(scenario.model_copy(update={"arrivals": []}), 0)
    run = simulation.run()
    nan = math.nan
    np.testing.assert_equal(run.action.tolist(), [REVIEW, COPY, COPY, COPY, AUTO_REMOVE, COPY])
    np.testing.assert_equal(run.decided_at.tolist(), [100.0, 100.0, 100.0, 110.0, 200.0, 230.0])
    np.testing.assert_equal(run.decided_by.tolist(), [0, 0, 0, -1, -1, -1])
    np.testing.assert_equal(run.leased_at.tolist(), [0.0, 50.0, 90.0, nan, nan, nan])
    assert run.verdict.tolist()[:4] == [run.verdict[0]] * 4 and run.verdict.tolist()[4:] == [1, 1]
    check_copies(simulation, run)


@pytest.mark.parametrize("strategy", ["fifo", "optimal"])
def test_a_copy_carries_the_decision_in_force_and_later_ones_the_escalation_decided_since(
    strategy: str, tmp_path: Path
) -> None:
    """The simulator drives the engine's rule for copies of content questioned since its first review: `a0` is
    decided first; its escalation `e` is kept from `a0`'s decider and reviewed by the other moderator; `a1`, arriving
    while `e` waits or is under review, carries `a0`'s decision at once, and `a2`, arriving after `e`'s decision,
    carries that (the simulator's decisions name no policy, so none is an enforcement `e` would uphold)."""
    trace = tmp_path / "trace.csv"
    trace.write_text(
        "id,arrive_at_s,modality,language,region,content_hash,source,signals.spam\n"
        "a0,0,text,en,us,a,,0.1\ne,150,text,en,us,a,escalation,0.1\n"
        "a1,200,text,en,us,a,,0.1\na2,600,text,en,us,a,,0.1\n"
    )
    scenario = mm_c(
        servers=2,
        horizon_s=800.0,
        warmup_s=0.0,
        strategy=strategy,
        tick_s=60.0,
        trace=trace,
        group={"speed": {"text": {"median_s": 100.0, "sigma": 0.0}}},
    )
    simulation = Simulation(scenario.model_copy(update={"arrivals": []}), 0)
    run = simulation.run()
    np.testing.assert_equal(run.action.tolist(), [REVIEW, REVIEW, COPY, COPY])
    first, escalation, *copies = (item.id for item in run.arrivals.items)
    records = simulation._store.items(copies)
    assert [records[item_id].duplicate_of for item_id in copies] == [first, escalation]
    assert run.decided_by[1] not in (-1, run.decided_by[0])
    assert run.decided_by[2] == run.decided_by[3] == -1
    assert run.verdict.tolist()[2:] == [run.verdict[0], run.verdict[1]]
    check_copies(simulation, run)
