"""The engine's hot paths: one moderator's column and single-pair eligibility must match the batch matrix, and
estimates kept up to date per observation must match a from-scratch computation after any mix of observations,
group changes and removals."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import replace
from unittest.mock import patch

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.capability.test_value import AREAS, NOW, World, worlds

from queueopt.capability import Model, ModeratorProfile
from queueopt.capability.estimators import (
    ACCURACY_PRIOR,
    GROUP_STRENGTH,
    HANDLING_PRIOR_LOG_VAR,
    HANDLING_PRIOR_S,
    MODERATOR_STRENGTH,
    POPULATION_STRENGTH,
)
from queueopt.capability.state import NO_AREA, ModelState
from queueopt.config import OpsConfig
from queueopt.domain import Modality, Task

EXTRA = ModeratorProfile(id="extra", regions=["r1"], languages={"en": 1.0}, modalities=[Modality.TEXT], policy_areas=[])


@settings(max_examples=150, deadline=None)
@given(world=worlds(), later=st.sampled_from([0.0, 45.0, 100.0, 5000.0]))
def test_one_moderator_column_equals_the_batch_column(config: OpsConfig, world: World, later: float) -> None:
    """`value(tasks, [m])` takes the single-moderator path; with a second column it takes the batch path."""
    model = world.model(config)
    model.upsert(EXTRA)
    now = NOW + later
    batch = model.value(world.tasks, [*world.ids, EXTRA.id], now)
    for j, moderator_id in enumerate(world.ids):
        column = model.value(world.tasks, [moderator_id], now)
        assert column.shape == (len(world.tasks), 1)
        assert column.has_canonical_format
        assert np.all(column.data > 0)
        assert np.array_equal(column.toarray()[:, 0], batch[:, [j]].toarray()[:, 0])
        for i, task in enumerate(world.tasks):
            assert model.eligible(task, moderator_id, now) == bool(column[i, 0])


@settings(max_examples=150, deadline=None)
@given(world=worlds(), later=st.sampled_from([0.0, 45.0, 100.0, 5000.0]), split=st.integers(0, 6))
def test_takers_take_a_task_exactly_when_its_value_row_has_a_pair(
    config: OpsConfig, world: World, later: float, split: int
) -> None:
    """The engine's batch relies on this both ways: a window is walked deeper exactly past the tasks with empty rows,
    and rows already valued are reused for the tasks `Takers` accepts (any subset of the roster may be free)."""
    model = world.model(config)
    now = NOW + later
    free = world.ids[split:] or world.ids
    rows = np.diff(model.value(world.tasks, free, now).indptr)
    takers = model.takers(free, now)
    assert [takers.take(task) for task in world.tasks] == [bool(count) for count in rows.tolist()]


@settings(max_examples=100, deadline=None)
@given(world=worlds(), later=st.sampled_from([0.0, 45.0, 5000.0]), cut=st.integers(0, 8))
def test_a_value_row_depends_on_its_task_alone(config: OpsConfig, world: World, later: float, cut: int) -> None:
    """The batch values only the tasks a deeper window adds and stacks their rows under the ones it has: the rows
    must be exactly those of valuing the whole window at once."""
    model = world.model(config)
    now = NOW + later
    whole = model.value(world.tasks, world.ids, now)
    head, tail = world.tasks[:cut], world.tasks[cut:]
    stacked = sp.vstack([model.value(part, world.ids, now) for part in (tail, head)], format="csr")
    back_in_order = np.r_[len(tail) + np.arange(len(head)), np.arange(len(tail))]
    assert np.array_equal(stacked[back_in_order].toarray(), whole.toarray())


@settings(max_examples=100, deadline=None)
@given(world=worlds(), later=st.sampled_from([0.0, 45.0, 5000.0]), split=st.integers(0, 6))
def test_the_dense_value_is_the_sparse_one_expanded(config: OpsConfig, world: World, later: float, split: int) -> None:
    """The engine's batch solves `value_dense`, the solver's tests check `value`: the two must agree bit for bit,
    for any subset of the roster (one moderator and an unavailable one included), and whether or not the caller
    passes the severe caps it has worked out already."""
    model = world.model(config)
    now = NOW + later
    free = world.ids[split:] or world.ids
    dense = model.value_dense(world.tasks, free, now)
    assert dense.shape == (len(world.tasks), len(free))
    assert dense.tobytes() == model.value(world.tasks, free, now).toarray().tobytes()
    caps = model.severe_caps(free, now)
    assert model.value_dense(world.tasks, free, now, caps).tobytes() == dense.tobytes()
    assert model.value(world.tasks, free, now, caps).toarray().tobytes() == dense.tobytes()


@settings(max_examples=100, deadline=None)
@given(world=worlds(), later=st.sampled_from([0.0, 45.0, 5000.0]))
def test_a_value_does_not_depend_on_the_tasks_valued_before(config: OpsConfig, world: World, later: float) -> None:
    """The model keeps each task's facts from batch to batch, by the task object, and starts over when its table is
    full: tasks valued before, copies of them (new objects for the same tasks) and tasks changed since must all be
    valued as a fresh model values them."""
    now = NOW + later

    def fresh(tasks: list[Task]) -> bytes:
        return bytes(world.model(config).value(tasks, world.ids, now).toarray().tobytes())

    model = world.model(config)
    with patch("queueopt.capability.model._FACTS_KEPT", 3):
        for size in range(1, len(world.tasks) + 1):
            newest_first = world.tasks[size - 1 :: -1]
            assert model.value(newest_first, world.ids, now).toarray().tobytes() == fresh(newest_first)
        assert model.value_dense(world.tasks, world.ids, now).tobytes() == fresh(world.tasks)
        twice = [*world.tasks, *reversed(world.tasks)]
        assert model.value(twice, world.ids, now).toarray().tobytes() == fresh(twice)
        copies = [replace(task) for task in world.tasks]
        assert model.value(copies, world.ids, now).toarray().tobytes() == fresh(world.tasks)
        changed = [
            replace(task, enqueued_at=task.enqueued_at - 4000.0, priority=2.0 * task.priority) for task in copies
        ]
        assert model.value(changed, world.ids, now).toarray().tobytes() == fresh(changed)


def test_one_moderator_column_of_nothing(config: OpsConfig, make_profile: Callable[..., ModeratorProfile]) -> None:
    model = Model(config)
    model.upsert(make_profile("m"))
    empty = model.value([], ["m"], 0.0)
    assert empty.shape == (0, 1)
    assert empty.nnz == 0


def reference_estimates(
    config: OpsConfig, model: Model
) -> dict[str, tuple[dict[str | None, float], dict[Modality, float]]]:
    """Every moderator's accuracy per area and seconds per text unit, recomputed from the saved statistics with the
    shrinkage formulas of docs/capability.md, exact sums and nothing kept between calls."""
    state = ModelState.model_validate(model.state_dict())
    areas: list[str | None] = [area.name for area in config.policy_areas] + [None]
    group_of = {entry.profile.id: (entry.profile.vendor, entry.profile.site) for entry in state.moderators}
    accuracy_of = {
        e.profile.id: {None if a == NO_AREA else a: v for a, v in e.accuracy.items()} for e in state.moderators
    }
    handling_of = {entry.profile.id: entry.handling for entry in state.moderators}

    def summed(members: list[str], area: str | None, part: int) -> float:
        return math.fsum(accuracy_of[m].get(area, (0.0, 0.0))[part] for m in members)

    def handled(members: list[str], modality: Modality, term: Callable[[tuple[float, float, float]], float]) -> float:
        return math.fsum(term(handling_of[m][modality]) for m in members if modality in handling_of[m])

    everyone = list(group_of)
    result: dict[str, tuple[dict[str | None, float], dict[Modality, float]]] = {}
    for moderator_id, group in group_of.items():
        members = [m for m in everyone if group_of[m] == group]
        accuracy: dict[str | None, float] = {}
        for area in areas:
            population = (POPULATION_STRENGTH * ACCURACY_PRIOR + summed(everyone, area, 0)) / (
                POPULATION_STRENGTH + summed(everyone, area, 1)
            )
            prior = (GROUP_STRENGTH * population + summed(members, area, 0)) / (
                GROUP_STRENGTH + summed(members, area, 1)
            )
            correct, trials = accuracy_of[moderator_id].get(area, (0.0, 0.0))
            accuracy[area] = (MODERATOR_STRENGTH * prior + correct) / (MODERATOR_STRENGTH + trials)
        unit_s: dict[Modality, float] = {}
        for modality in Modality:
            prior_mean = math.log(HANDLING_PRIOR_S[modality]) - HANDLING_PRIOR_LOG_VAR / 2
            n_all, n_group = handled(everyone, modality, lambda s: s[0]), handled(members, modality, lambda s: s[0])
            pop_mean = (POPULATION_STRENGTH * prior_mean + handled(everyone, modality, lambda s: s[0] * s[1])) / (
                POPULATION_STRENGTH + n_all
            )
            pop_var = (POPULATION_STRENGTH * HANDLING_PRIOR_LOG_VAR + handled(everyone, modality, lambda s: s[2])) / (
                POPULATION_STRENGTH + n_all
            )
            g_mean = (GROUP_STRENGTH * pop_mean + handled(members, modality, lambda s: s[0] * s[1])) / (
                GROUP_STRENGTH + n_group
            )
            g_var = (GROUP_STRENGTH * pop_var + handled(members, modality, lambda s: s[2])) / (GROUP_STRENGTH + n_group)
            count, mean, m2 = handling_of[moderator_id].get(modality, (0.0, 0.0, 0.0))
            own_mean = (MODERATOR_STRENGTH * g_mean + count * mean) / (MODERATOR_STRENGTH + count)
            own_var = (MODERATOR_STRENGTH * g_var + m2) / (MODERATOR_STRENGTH + count)
            unit_s[modality] = math.exp(own_mean + own_var / 2)
        result[moderator_id] = (accuracy, unit_s)
    return result


def assert_estimates_match(config: OpsConfig, model: Model) -> None:
    for moderator_id, (accuracy, unit_s) in reference_estimates(config, model).items():
        for area, want in accuracy.items():
            assert model.accuracy(moderator_id, area) == pytest.approx(want, rel=1e-12)
        for modality, want in unit_s.items():
            assert model.expected_handling_s(moderator_id, modality, 0.0) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_incremental_estimates_match_a_fresh_computation(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], seed: int
) -> None:
    """Observations, vendor moves, removals and slot reuse in a random order; every estimate of every moderator is
    checked against the from-scratch formulas after each step, so a stale group or population prior shows up."""
    rng = random.Random(seed)
    model = Model(config)
    live: list[str] = []
    for step in range(120):
        action = rng.random()
        if action < 0.15 or len(live) < 2:
            moderator_id = f"m{step}" if rng.random() < 0.7 or not live else rng.choice(live)
            model.upsert(make_profile(moderator_id, vendor=rng.choice(["a", "b", "c"]), site=rng.choice(["x", "y"])))
            live = model.moderator_ids()
        elif action < 0.2:
            model.remove(live.pop(rng.randrange(len(live))))
        elif action < 0.6:
            model.observe_accuracy(rng.choice(live), rng.choice([None, *AREAS]), rng.random() < 0.8)
        else:
            modality = rng.choice(list(Modality))
            model.observe_handling(rng.choice(live), modality, rng.lognormvariate(4.0, 0.7), rng.uniform(0.0, 900.0))
        if step % 10 == 0 or step > 110:
            assert_estimates_match(config, model)


def test_observed_moderator_is_exact_right_after_each_observation(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], make_task: Callable[..., Task]
) -> None:
    """The one-moderator path reads the estimates the observation just changed, not a cached column."""
    model = Model(config)
    for index in range(6):
        model.upsert(make_profile(f"m{index}", vendor=f"v{index % 2}"))
    backlog = [make_task("t", policy="hate")]
    for round_ in range(30):
        moderator_id = f"m{round_ % 6}"
        before = model.value(backlog, [moderator_id], NOW).data[0]
        model.observe_handling(moderator_id, Modality.TEXT, 5.0, 0.0)
        model.observe_accuracy(moderator_id, "hate", True)
        after = model.value(backlog, [moderator_id], NOW).data[0]
        want = backlog[0].priority_at(NOW) * model.accuracy(moderator_id, "hate")
        want /= model.expected_handling_s(moderator_id, Modality.TEXT, 0.0)
        assert after == pytest.approx(want, rel=1e-12)
        assert after > before
    assert_estimates_match(config, model)


def test_restored_model_scores_bit_for_bit_after_removals(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], make_task: Callable[..., Task]
) -> None:
    """Slots reused and skills first seen in another order: the restored model adds its rows in a different order
    and numbers the skills differently, and must still score exactly alike, including a model restored onto
    itself after it has scored (its demand caches hold the old bit numbers)."""
    model = Model(config)
    model.upsert(make_profile("a", languages={"en": 1.0}, vendor="v"))
    model.upsert(make_profile("b", languages={"fr": 1.0}, vendor="v"))
    model.upsert(make_profile("c", languages={"fr": 0.5}, vendor="w"))
    rng = random.Random(5)
    for _ in range(200):
        moderator_id = rng.choice(["a", "b", "c"])
        model.observe_handling(moderator_id, Modality.VIDEO, rng.lognormvariate(5.0, 0.5), rng.uniform(0.0, 900.0))
        model.observe_accuracy(moderator_id, rng.choice(AREAS), rng.random() < 0.9)
    model.remove("a")
    model.upsert(make_profile("a", languages={"en": 1.0}, vendor="w"))
    model.observe_handling("a", Modality.VIDEO, 100.0, 120.0)
    backlog = [
        make_task("english", language="en", modality=Modality.VIDEO, duration_s=300.0),
        make_task("french", language="fr", modality=Modality.VIDEO, duration_s=60.0),
    ]
    ids = model.moderator_ids()
    expected = model.value(backlog, ids, NOW).toarray()
    columns = [model.value(backlog, [moderator_id], NOW).toarray() for moderator_id in ids]
    state = json.loads(json.dumps(model.state_dict()))
    restored = Model(config)
    restored.load_state_dict(state)
    model.load_state_dict(state)
    for other in (restored, model):
        assert np.array_equal(other.value(backlog, ids, NOW).toarray(), expected)
        for moderator_id, column in zip(ids, columns, strict=True):
            assert np.array_equal(other.value(backlog, [moderator_id], NOW).toarray(), column)
        assert other.eligible(backlog[0], "a", NOW)
        assert not other.eligible(backlog[0], "b", NOW)
