"""A batch solves outside the engine's lock and leases only what still holds when it commits.

Whatever happens to the engine while the solver runs (a moderator pulls, decides a severe item, goes away or loses
a skill; an admin assigns; an item is cancelled), the batch must never lease a task twice, exceed a moderator's
capacity or severe budget, or lease to someone who may no longer take the task; and with nothing in between it
leases exactly what the solver chose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.conftest import assert_never_leased_twice, profile, video

from queueopt.assign import Matching
from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.domain import Decision, ModeratorStatus, TaskState, Verdict
from queueopt.engine import Engine
from queueopt.engine import engine as engine_module
from queueopt.errors import QueueoptError
from queueopt.store import MemoryStore

MODERATORS = [f"m{index}" for index in range(4)]

Step = tuple[str, int, int]
steps = st.lists(
    st.tuples(
        st.sampled_from(["pull", "pull_and_decide", "away", "unskilled", "assign", "cancel"]),
        st.integers(0, len(MODERATORS) - 1),
        st.integers(0, 11),
    ),
    max_size=6,
)


def _interfere(engine: Engine, step: Step) -> None:
    kind, moderator_index, item_index = step
    moderator_id, item_id = MODERATORS[moderator_index], f"i{item_index}"
    try:
        if kind == "pull":
            engine.next_for(moderator_id)
        elif kind == "pull_and_decide":
            task = engine.next_for(moderator_id)
            if task is not None and task.lease_token is not None:
                engine.decide(task.id, task.lease_token, moderator_id, Decision(verdict=Verdict.VIOLATING))
        elif kind == "away":
            engine.set_status(moderator_id, ModeratorStatus.AWAY)
        elif kind == "unskilled":
            engine.upsert_moderator(profile(moderator_id, modalities=["text"], severe_per_hour=1))
        elif kind == "assign":
            engine.assign_to(item_id, moderator_id)
        else:
            engine.cancel(item_id)
    except QueueoptError:
        pass  # refused (not eligible, no free slot, already decided): the engine's state is unchanged


@settings(max_examples=120, deadline=None)
@given(during=steps, severe=st.lists(st.booleans(), min_size=12, max_size=12), capacity=st.integers(1, 3))
def test_a_batch_leases_only_what_still_holds_after_its_solve(
    example_config: OpsConfig, during: list[Step], severe: list[bool], capacity: int
) -> None:
    clock = VirtualClock(1_000.0)
    engine = Engine(MemoryStore(), clock, example_config)
    engine.submit(
        [
            video(f"i{index}", views_per_hour=10_000.0 if hot else 10.0, signals={"violence" if hot else "nudity": 0.8})
            for index, hot in enumerate(severe)
        ]
    )
    for moderator_id in MODERATORS:
        engine.upsert_moderator(profile(moderator_id, capacity=capacity, severe_per_hour=2))
    real_solve: Callable[..., Matching] = engine_module.solve
    chosen: list[Matching] = []

    def solve_then_interfere(*args: Any, **kwargs: Any) -> Matching:
        matching = real_solve(*args, **kwargs)
        chosen.append(matching)
        for step in during:
            _interfere(engine, step)
        return matching

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine_module, "solve", solve_then_interfere)
        leases = engine.assign_batch()

    assert len(chosen) == 1
    if not during:
        assert len(leases) == len(chosen[0].task), "nothing changed: every pair the solver chose is leased"
    assert_never_leased_twice(engine.audit(limit=10**6))
    now = clock.now()
    audit = engine.audit(limit=10**6)
    for moderator_id in MODERATORS:
        assert len(engine.moderator(moderator_id).leases) <= capacity
        severe = sum(
            1
            for entry in audit
            if entry.transition == "leased"
            and entry.note.removesuffix(", severe") == f"to {moderator_id}"
            and entry.task_id is not None
            and engine.task(entry.task_id).severe
        )
        assert severe <= 2, "no moderator is leased more severe items in the hour than the budget, whoever leased them"
    for lease in leases:
        task = engine._tasks[lease.task_id]
        assert task.state is TaskState.LEASED and task.holder == lease.moderator_id
        # available, still skilled enough and not skipped (the severe budget is counted above: this lease spent it)
        holder = engine.moderator(lease.moderator_id).profile
        assert holder.status is ModeratorStatus.AVAILABLE and lease.moderator_id not in task.skipped_by
        assert engine.model.qualified(task, lease.moderator_id, now)


def _batch_with_solver(engine: Engine, rows: list[int], columns: list[int]) -> list[Any]:
    def faulty_solve(*args: Any, **kwargs: Any) -> Matching:
        return Matching(np.array(rows, dtype=np.intp), np.array(columns, dtype=np.intp), 0.0, "faulty")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine_module, "solve", faulty_solve)
        return engine.assign_batch()


def test_a_batch_never_leases_one_moderator_two_severe_items_whatever_the_solver_chose(
    example_config: OpsConfig,
) -> None:
    """The commit (`_still_open`) is the last check before a lease is written, so a solver that broke a cap (a new
    method, a bug in one) must not reach a moderator (found by a hand-run mutation review: with the severe recheck
    at commit removed every test passed, as the solvers never break the caps they are given)."""
    engine = Engine(MemoryStore(), VirtualClock(1_000.0), example_config)
    engine.submit([video(f"s{index}", views_per_hour=10_000.0) for index in range(3)])
    assert all(engine.task(f"s{index}").severe for index in range(3))
    engine.upsert_moderator(profile("m0", capacity=3, severe_per_hour=5, cooldown_s=0.0))
    leases = _batch_with_solver(engine, [0, 1, 2], [0, 0, 0])
    assert len(leases) == 1, "one severe item at a time: the next waits for this one's review to end"
    assert len(engine.moderator("m0").leases) == 1


def test_a_batch_never_leases_past_a_moderators_free_slots_whatever_the_solver_chose(
    example_config: OpsConfig,
) -> None:
    engine = Engine(MemoryStore(), VirtualClock(1_000.0), example_config)
    engine.submit([video(f"n{index}", signals={"nudity": 0.8}, views_per_hour=10.0) for index in range(3)])
    engine.upsert_moderator(profile("m0", capacity=2))
    leases = _batch_with_solver(engine, [0, 1, 2], [0, 0, 0])
    assert len(leases) == 2
    assert len(engine.moderator("m0").leases) == 2


def test_a_batch_leases_a_task_once_whatever_the_solver_chose(engine: Engine) -> None:
    """Found by a hand-run mutation review: a solve naming one task for two moderators had the memory store (the
    simulator's) lease it to both under one token, as its conditional write compares each write with the state
    before the batch, and SQLite and PostgreSQL refuse the whole batch (StaleWrite out of `assign_batch`)."""
    engine.submit([video("n0", signals={"nudity": 0.8}), video("n1", signals={"nudity": 0.8})])
    engine.upsert_moderator(profile("m0"))
    engine.upsert_moderator(profile("m1"))
    leases = _batch_with_solver(engine, [0, 0, 1], [0, 1, 1])
    assert sorted((lease.task_id, lease.moderator_id) for lease in leases) == [("n0", "m0"), ("n1", "m1")]
    assert engine.task("n0").holder == "m0" and engine.task("n1").holder == "m1"
    assert_never_leased_twice(engine.audit(limit=10**6))
