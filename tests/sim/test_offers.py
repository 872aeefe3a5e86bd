"""Waiting work and idle moderators in pull runs: new work, and a QA review a decision makes, go to an idle
moderator eligible for them at once, and polls go on while any waits beside the idle."""

from __future__ import annotations

from typing import Any

from queueopt.domain import QA_SUFFIX, TaskState
from queueopt.sim.scenario import Scenario
from queueopt.sim.simulator import Simulation

from .helpers import ONE_QUEUE_OPS, mm_c
from .test_simulator import run_counting_waiting

QA_OPS: dict[str, Any] = {
    **ONE_QUEUE_OPS,
    "queues": [{"name": "main", "sla_s": 60, "sla_target": 0.8, "qa_sample_rate": 0.5}],
}


def _left_waiting_beside_the_idle(simulation: Simulation) -> tuple[list[str], list[tuple[float, str]]]:
    """Check after every review's end: a QA review it made that still waits has no idle moderator eligible for it,
    and a poll is due while it waits beside idle moderators (found by a probe: neither held). Returns the QA reviews
    made, and those left waiting."""
    made: list[str] = []
    stranded: list[tuple[float, str]] = []
    finish = simulation._finish

    def finish_and_check(task_id: str, *rest: Any) -> None:
        fresh = simulation._store.task(task_id + QA_SUFFIX) is None
        finish(task_id, *rest)
        qa = simulation._store.task(task_id + QA_SUFFIX)
        if qa is None or not fresh:
            return
        made.append(qa.id)
        if qa.state is not TaskState.QUEUED or not simulation._idle:
            return
        idle = [simulation.moderators.ids[m] for m in simulation._idle]
        eligible = simulation.engine.model.value([qa], idle, simulation.clock.now()).nnz
        if eligible or not simulation._poll_pending:
            stranded.append((simulation.clock.now(), qa.id))

    simulation._finish = finish_and_check  # type: ignore[method-assign]
    return made, stranded


def _quiet(servers: int) -> Scenario:
    """Little work for the team: moderators mostly sit idle when a decision is sampled for QA."""
    return mm_c(servers=servers, load=0.2, horizon_s=20000.0, ops=QA_OPS, tick_s=600.0)


def test_a_qa_review_made_while_colleagues_sit_idle_goes_to_one_of_them_at_once() -> None:
    simulation = Simulation(_quiet(3), 0)
    made, stranded = _left_waiting_beside_the_idle(simulation)
    simulation.run()
    assert len(made) > 50 and stranded == []


def test_a_qa_review_only_the_decider_sits_idle_next_to_keeps_the_poll_going() -> None:
    """One moderator: the decider may not check their own decision, so the review waits, counted, and polled for."""
    simulation = Simulation(_quiet(1), 0)
    made, stranded = _left_waiting_beside_the_idle(simulation)
    simulation.run()
    assert len(made) > 10 and stranded == []


def test_work_nobody_on_the_roster_may_take_is_not_polled_for_to_the_horizon() -> None:
    """One moderator, every tick 1 s: the QA reviews of their decisions wait for ever. Polls used to repeat every
    tick to the horizon (16,000 of 20,000 s); a run of polls that leased nothing now asks the engine whether anyone
    may take what waits, and stops. What the run measures is the same either way: such a poll leases nothing."""
    simulation = Simulation(mm_c(servers=1, load=0.2, horizon_s=20000.0, ops=QA_OPS, tick_s=1.0), 0)
    ticks = 0
    tick = simulation._tick

    def counted() -> None:
        nonlocal ticks
        ticks += 1
        tick()

    simulation._tick = counted  # type: ignore[method-assign]
    run = simulation.run()
    waiting = simulation.engine.unstaffed()
    assert waiting > 10 and waiting == sum(queue.unstaffed for queue in simulation.engine.queues())
    assert ticks < 20 * len(run.arrivals) < 2000


def test_the_simulators_count_of_waiting_work_is_the_engines_with_qa_reviews() -> None:
    _, seen = run_counting_waiting(mm_c(servers=3, load=0.9, horizon_s=20000.0, ops=QA_OPS))
    assert sum(depth for _, depth in seen) > 50
    assert all(waiting == depth for waiting, depth in seen), seen


def test_new_work_the_longest_idle_may_not_take_goes_to_an_idle_colleague_who_may() -> None:
    """Half the team reads only Spanish, half only English, and half the items are in each: the longest idle is
    often not eligible, and the offer goes on to the idle who are. A guard for the offer QA reviews now share: a
    probe found it sound (in this run 225 offers where the longest idle was not eligible, 169 taken by a colleague)."""
    scenario = mm_c(
        servers=4,
        load=0.3,
        horizon_s=20000.0,
        tick_s=600.0,
        arrival={"language": {"en": 1, "es": 1}},
        group={"count": 2, "languages": {"es": 1.0}},
    )
    data = scenario.model_dump()
    english = {**data["roster"][0], "name": "english", "languages": {"en": 1.0}}
    scenario = scenario.model_validate({**data, "roster": [data["roster"][0], english]})
    simulation = Simulation(scenario, 0)
    stranded: list[tuple[float, str]] = []
    submit = simulation._submit

    def submit_and_check(rows: list[int]) -> None:
        submit(rows)
        for row in rows:
            task = simulation._store.task(simulation.arrivals.items[row].id)
            if task is None or task.state is not TaskState.QUEUED or not simulation._idle:
                continue
            idle = [simulation.moderators.ids[m] for m in simulation._idle]
            if simulation.engine.model.value([task], idle, simulation.clock.now()).nnz:
                stranded.append((simulation.clock.now(), task.id))

    simulation._submit = submit_and_check  # type: ignore[method-assign]
    run = simulation.run()
    assert len(set(run.decided_by[run.decided_by >= 0].tolist())) == 4
    assert stranded == []
