"""The value matrix against the eligibility rules written out pair by pair, and the properties the assignment core
relies on: no value without eligibility, monotone in priority, accuracy and speed, severe budgets respected,
escalation only ever widening the pool."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from queueopt.capability import Model, ModeratorProfile
from queueopt.capability.estimators import (
    HANDLING_PRIOR_LOG_VAR,
    HANDLING_PRIOR_S,
    REFERENCE_MEDIA_S,
    media_scale,
)
from queueopt.capability.model import MIN_HANDLING_S
from queueopt.config import OpsConfig, Requirements
from queueopt.domain import Modality, ModeratorStatus, Task, TaskKind, TaskState

AREAS = ["abuse", "gore", "hate", "spam"]
UNSPOKEN = 0.1
WINDOW_S = 3600.0
NOW = 10_000.0
UNASKED_LANGUAGES = {f"z{index:02}": 1.0 for index in range(70)}


@dataclass
class World:
    profiles: list[ModeratorProfile]
    tasks: list[Task]
    severe: list[tuple[int, float]]
    accuracy: list[tuple[int, str | None, bool]]
    handling: list[tuple[int, Modality, float, float]]
    reviews: list[tuple[int, float | None]] = field(default_factory=list)
    """Severe reviews leased to a moderator, as (moderator, end): under way when the end is None. Each one's lease
    is one of `severe`'s exposures of that moderator (see `model`)."""

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.profiles]

    def model(self, config: OpsConfig) -> Model:
        model = Model(config)
        for profile in self.profiles:
            model.upsert(profile)
        for index, at in self.severe:
            model.record_severe(self.ids[index], at)
        for index, end in self.reviews:
            model.severe_review_started(self.ids[index])
            if end is not None:
                model.severe_review_ended(self.ids[index], end)
        for index, area, correct in self.accuracy:
            model.observe_accuracy(self.ids[index], area, correct)
        for index, modality, handling_s, duration_s in self.handling:
            model.observe_handling(self.ids[index], modality, handling_s, duration_s)
        return model


T = TypeVar("T")


def all_but_one(options: list[T]) -> st.SearchStrategy[list[T]]:
    """Every option, or every option but one: a moderator who lacks at most one skill in a dimension. Drawn in each
    dimension of a profile, most pairs are eligible and a pair that is not usually misses by one rule alone, so each
    rule, and each bound of a severe budget, decides some pairs (profiles drawn as random subsets of each dimension
    were eligible for one task in twenty, and a dropped rule or budget bound was seldom the deciding one)."""
    return st.lists(st.sampled_from(options), max_size=1).map(lambda lacking: [o for o in options if o not in lacking])


def now_and_then(usual: list[T], *rare: T) -> st.SearchStrategy[T]:
    """One of `usual`, or now and then (about one draw in seven) one of `rare`: a code nobody holds or a status that
    takes no work makes a task or a moderator ineligible whatever else they hold, so drawn as often as the rest it
    would hide every other rule."""
    return st.sampled_from([*usual * (6 * len(rare) // len(usual) + 1), *rare])


@st.composite
def profiles(draw: st.DrawFn, moderator_id: str) -> ModeratorProfile:
    languages = draw(all_but_one(["en", "fr", "de"]))
    return ModeratorProfile(
        id=moderator_id,
        vendor=draw(st.sampled_from(["v1", "v2"])),
        regions=draw(all_but_one(["r1", "r2", "r3"])),
        languages={code: draw(st.floats(0.05, 1.0)) for code in languages},
        modalities=draw(all_but_one(list(Modality))),
        policy_areas=draw(all_but_one(AREAS)),
        clearance=draw(all_but_one(["tier1", "tier2"])),
        cooldown_s=draw(st.sampled_from([0.0, 50.0, 100.0])),  # exposures of the last minute fall in either or neither
        # mostly on shift: an unavailable moderator decides nothing else about a pair
        status=draw(now_and_then([ModeratorStatus.AVAILABLE], *ModeratorStatus)),
    )


@st.composite
def tasks(draw: st.DrawFn, index: int, moderator_ids: list[str]) -> Task:
    return Task(
        id=f"t{index}",
        item_id=f"i{index}",
        kind=TaskKind.REVIEW,
        state=TaskState.QUEUED,
        queue=draw(st.sampled_from(["plain", "english", "special", "not-configured"])),
        modality=draw(st.sampled_from(list(Modality))),
        language=draw(now_and_then(["en", "fr", "de"], "xx")),
        region=draw(now_and_then(["r1", "r2", "r3"], "r9")),
        policy=draw(now_and_then([None, *AREAS], "not-an-area")),
        severe=draw(st.booleans()),
        priority=draw(st.floats(0.0, 100.0)),
        aging_rate=draw(st.floats(0.0, 1.0)),
        # each escalation step's wait exactly, and a few dated just after now (a replica whose clock runs ahead)
        enqueued_at=NOW
        - draw(st.sampled_from([0.0, 29.0, 30.0, 59.0, 60.0, 89.0, 90.0, 119.0, 120.0]) | st.floats(-30.0, 200.0)),
        duration_s=draw(st.floats(0.0, 600.0)),
        skipped_by=frozenset(draw(st.lists(st.sampled_from(moderator_ids), max_size=1))),
        # what an appeal or a copy of the same content adds: other areas' tiers and certifications
        clearance=tuple(draw(st.lists(st.sampled_from(["tier1", "tier2"]), max_size=1))),
        areas=tuple(draw(st.lists(st.sampled_from(AREAS), max_size=2, unique=True))),
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    n_moderators = draw(st.integers(1, 6))
    roster = [draw(profiles(f"m{index}")) for index in range(n_moderators)]
    if draw(st.integers(0, 3)) == 0:
        # The first moderator put on the roster also reads languages no task is in, which take the first skill bits:
        # every skill a task asks lands past the first mask word, as on a roster naming a hundred languages.
        roster[0] = roster[0].model_copy(update={"languages": {**UNASKED_LANGUAGES, **roster[0].languages}})
    ids = [p.id for p in roster]
    backlog = [draw(tasks(index, ids)) for index in range(draw(st.integers(1, 8)))]
    moderator = st.integers(0, n_moderators - 1)
    # exposures from the last minute (cool-downs), about an hour ago (the window's edge), the last hour and before
    # (budgets), and a few dated just after now (a replica whose clock runs ahead): they count, and a moderator with
    # no cool-down stays calm
    exposure = (
        st.floats(NOW - 60.0, NOW)
        | st.floats(NOW, NOW + 30.0)
        | st.floats(NOW - WINDOW_S - 30.0, NOW - WINDOW_S + 30.0)
        | st.floats(NOW - 4000.0, NOW)
    )
    severe = draw(st.lists(st.tuples(moderator, exposure), max_size=8))
    for index, profile in enumerate(roster):
        # a budget one under (lowered since), at or one over the exposures in the hour: one exposure miscounted
        # decides pairs, and with one left, half the time, the cool-down does
        seen = sum(at > NOW - WINDOW_S for exposed_index, at in severe if exposed_index == index)
        budget = seen + draw(st.sampled_from([-1, 0, 1, 1]))
        roster[index] = profile.model_copy(update={"severe_per_hour": max(0, budget)})
    return World(
        profiles=roster,
        tasks=backlog,
        severe=severe,
        reviews=draw(st.lists(st.tuples(moderator, st.none() | exposure), max_size=3)),
        accuracy=draw(st.lists(st.tuples(moderator, st.sampled_from([None, *AREAS]), st.booleans()), max_size=10)),
        handling=draw(
            st.lists(
                st.tuples(moderator, st.sampled_from(list(Modality)), st.floats(0.2, 900.0), st.floats(0.0, 600.0)),
                max_size=10,
            )
        ),
    )


def reference_eligible(config: OpsConfig, world: World, task: Task, profile: ModeratorProfile, now: float) -> bool:
    """The rules of issue 3, one pair at a time, with sets; nothing shared with the vectorised code."""
    if profile.status is not ModeratorStatus.AVAILABLE or profile.id in task.skipped_by:
        return False
    if not reference_qualified(config, task, profile, now):
        return False
    return not task.severe or reference_calm(world, profile, now)


def reference_qualified(config: OpsConfig, task: Task, profile: ModeratorProfile, now: float) -> bool:
    """The moderator holds every language, modality, region, certification and clearance the task asks after the
    escalation steps its wait has reached."""
    queue = config.queues_by_name.get(task.queue)
    requires = queue.requires if queue else Requirements()
    relaxed: set[str] = set()
    for step in queue.escalation if queue else []:
        if now - task.enqueued_at >= step.after_s:
            relaxed.update(step.relax)
    area = config.areas_by_name.get(task.policy) if task.policy else None
    languages = {task.language, *requires.languages}
    areas = set(requires.policy_areas) | ({task.policy} if task.policy else set()) | set(task.areas)
    clearance = set(requires.clearance)
    # never relaxed: the primary area's tier and those the task stores (other areas')
    area_clearance = ({area.clearance} if area and area.clearance else set()) | set(task.clearance)
    if "language" not in relaxed and not languages <= set(profile.languages):
        return False
    if "modality" not in relaxed and task.modality not in profile.modalities:
        return False
    if "region" not in relaxed and task.region not in profile.regions:
        return False
    if "policy_areas" not in relaxed and not areas <= set(profile.policy_areas):
        return False
    if "clearance" not in relaxed and not clearance <= set(profile.clearance):
        return False
    return area_clearance <= set(profile.clearance)


def reference_calm(world: World, profile: ModeratorProfile, now: float) -> bool:
    """The moderator may see a severe item now: budget left, no severe review under way, and no cool-down (when one
    is set) running from the last exposure or the end of the last review."""
    if reference_budget_left(world, profile, now) == 0:
        return False
    ends = [end for index, end in world.reviews if world.ids[index] == profile.id]
    if None in ends:  # a severe item in front of them now
        return False
    times = [at for index, at in world.severe if world.ids[index] == profile.id]
    exposed = [*times, *(end for end in ends if end is not None)]
    return not (profile.cooldown_s > 0 and exposed and now - max(exposed) < profile.cooldown_s)


def reference_budget_left(world: World, profile: ModeratorProfile, now: float) -> int:
    """Severe items the moderator may still see within the hour: those of the window (now - 1 h, now], or dated
    later, count against it."""
    seen = sum(at > now - WINDOW_S for index, at in world.severe if world.ids[index] == profile.id)
    return max(0, profile.severe_per_hour - seen)


def reference_value(config: OpsConfig, model: Model, task: Task, profile: ModeratorProfile, now: float) -> float:
    area = task.policy if task.policy in config.areas_by_name else None
    proficiency = profile.languages.get(task.language, UNSPOKEN)
    speed = 1.0 / model.expected_handling_s(profile.id, task.modality, task.duration_s)
    return max(task.priority_at(now) * model.accuracy(profile.id, area) * proficiency * speed, 1e-300)


def pairs(matrix: sp.csr_matrix) -> set[tuple[int, int]]:
    rows, cols = matrix.nonzero()
    return set(zip(rows.tolist(), cols.tolist(), strict=True))


@settings(max_examples=400, deadline=None)
@given(world=worlds())
def test_value_matches_the_per_pair_rules(config: OpsConfig, world: World) -> None:
    model = world.model(config)
    matrix = model.value(world.tasks, world.ids, NOW)
    assert matrix.shape == (len(world.tasks), len(world.profiles))
    assert np.all(matrix.data > 0)
    expected = {
        (i, j)
        for i, task in enumerate(world.tasks)
        for j, profile in enumerate(world.profiles)
        if reference_eligible(config, world, task, profile, NOW)
    }
    assert pairs(matrix) == expected
    for i, j in expected:
        want = reference_value(config, model, world.tasks[i], world.profiles[j], NOW)
        assert np.isclose(matrix[i, j], want, rtol=1e-9, atol=0.0)
    for i, task in enumerate(world.tasks):
        for j, moderator_id in enumerate(world.ids):
            assert model.eligible(task, moderator_id, NOW) == ((i, j) in expected)
            # what a lease must keep satisfying, whoever is on shift, skipped or spent: more pairs decided by skills
            assert model.qualified(task, moderator_id, NOW) is reference_qualified(config, task, world.profiles[j], NOW)
    # the wellbeing rules moderator by moderator (a severe pair needs an otherwise eligible task to show them), as
    # the cool-downs run out
    for later in (0.0, 20.0, 40.0, 75.0):
        for moderator_id, profile in zip(world.ids, world.profiles, strict=True):
            assert model.calm(moderator_id, NOW + later) is reference_calm(world, profile, NOW + later)


@settings(max_examples=60, deadline=None)
@given(world=worlds(), later=st.floats(0.0, 5000.0))
def test_waiting_longer_only_adds_pairs(config: OpsConfig, world: World, later: float) -> None:
    model = world.model(config)
    assert pairs(model.value(world.tasks, world.ids, NOW)) <= pairs(model.value(world.tasks, world.ids, NOW + later))


@settings(max_examples=60, deadline=None)
@given(world=worlds(), boost=st.floats(0.0, 1000.0))
def test_value_is_monotone_in_priority(config: OpsConfig, world: World, boost: float) -> None:
    model = world.model(config)
    urgent = [replace(task, priority=task.priority + boost) for task in world.tasks]
    before, after = model.value(world.tasks, world.ids, NOW), model.value(urgent, world.ids, NOW)
    assert pairs(before) == pairs(after)
    assert np.all(after.data >= before.data)


def _assert_a_beats_b(model: Model, backlog: list[Task]) -> None:
    """Wherever both may take a task with some urgency, moderator a's value is strictly higher (a subnormal
    priority underflows both values to the floor, where they can only tie)."""
    values = model.value(backlog, ["a", "b"], NOW).toarray()
    urgent = np.array([task.priority_at(NOW) > 1e-100 for task in backlog])
    both = urgent & (values[:, 0] > 0) & (values[:, 1] > 0)
    assert np.all(values[both, 0] > values[both, 1])


def _twins(make_profile: Callable[..., ModeratorProfile], config: OpsConfig) -> Model:
    model = Model(config)
    model.upsert(make_profile("a"))
    model.upsert(make_profile("b"))
    return model


@settings(max_examples=40, deadline=None)
@given(world=worlds(), hits=st.integers(0, 20), extra=st.integers(1, 20))
def test_value_is_monotone_in_accuracy(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], world: World, hits: int, extra: int
) -> None:
    """Twins with the same QA volume: the one with more correct verdicts scores higher on every task."""
    model = _twins(make_profile, config)
    for area in [None, *AREAS]:
        for index in range(hits + extra):
            model.observe_accuracy("a", area, index < hits + extra)
            model.observe_accuracy("b", area, index < hits)
    _assert_a_beats_b(model, world.tasks)


@settings(max_examples=40, deadline=None)
@given(world=worlds(), factor=st.floats(0.2, 0.9), times=st.lists(st.floats(5.0, 600.0), min_size=1, max_size=10))
def test_value_is_monotone_in_speed(
    config: OpsConfig,
    make_profile: Callable[..., ModeratorProfile],
    world: World,
    factor: float,
    times: list[float],
) -> None:
    """Twins with the same spread of handling times, one uniformly faster: the faster one scores higher."""
    model = _twins(make_profile, config)
    for modality in Modality:
        for handling_s in times:
            model.observe_handling("a", modality, handling_s * factor, 0.0)
            model.observe_handling("b", modality, handling_s, 0.0)
    _assert_a_beats_b(model, world.tasks)


def _assert_no_value_falls(config: OpsConfig, world: World, better: World) -> None:
    """`better` is `world` with a better record of some moderators: the same pairs, none worth less."""
    before = world.model(config).value(world.tasks, world.ids, NOW)
    after = better.model(config).value(world.tasks, world.ids, NOW)
    assert pairs(after) == pairs(before)
    assert np.all(after.data >= before.data)


@settings(max_examples=40, deadline=None)
@given(world=worlds(), vendor=st.sampled_from(["v1", "v2"]))
def test_a_vendor_s_right_verdicts_raise_every_accuracy_in_their_area(
    config: OpsConfig, world: World, vendor: str
) -> None:
    """Accuracy is shrunk toward the moderator's vendor's record and the population's: one vendor's wrong verdicts
    turned right raise, in each area one was wrong in, every moderator's estimate (that vendor's through their
    prior, the others' through the population's) and lower none. The twins above share a vendor, so they cannot
    see a vendor's or the population's record counted the wrong way round."""
    ours = [profile.vendor == vendor for profile in world.profiles]
    better = replace(world, accuracy=[(index, area, correct or ours[index]) for index, area, correct in world.accuracy])
    righted = {area for index, area, correct in world.accuracy if ours[index] and not correct}
    before, after = world.model(config), better.model(config)
    for moderator_id in world.ids:
        for area in [None, *AREAS]:
            gain = after.accuracy(moderator_id, area) - before.accuracy(moderator_id, area)
            assert gain > 0 if area in righted else gain == 0
    _assert_no_value_falls(config, world, better)


@settings(max_examples=40, deadline=None)
@given(world=worlds(), vendor=st.sampled_from(["v1", "v2"]), factor=st.floats(0.2, 0.9))
def test_a_vendor_s_faster_handling_shortens_every_expected_time_in_their_modality(
    config: OpsConfig, world: World, vendor: str, factor: float
) -> None:
    """Handling times are shrunk, in log seconds per media unit, toward the vendor's record and the population's: one
    vendor's moderators each handling uniformly faster (the spread of each one's times no wider) shorten, in each
    modality one of them got faster in, every moderator's expected time and lengthen none. A time under a second
    counts as one: a modality the vendor was timed in at a second or less only is left as it was, and one where a
    timing took two seconds or more (its faster one counted at least a tenth shorter) gets faster for everyone."""
    ours = [profile.vendor == vendor for profile in world.profiles]
    faster = replace(
        world,
        handling=[
            (index, modality, handling_s * factor if ours[index] else handling_s, duration_s)
            for index, modality, handling_s, duration_s in world.handling
        ],
    )
    timed = {
        modality: [h for index, m, h, _ in world.handling if ours[index] and m is modality] for modality in Modality
    }
    before, after = world.model(config), faster.model(config)
    for moderator_id in world.ids:
        for modality, timings in timed.items():
            saved = before.expected_handling_s(moderator_id, modality, 0.0) - after.expected_handling_s(
                moderator_id, modality, 0.0
            )
            if any(handling_s >= 2 * MIN_HANDLING_S for handling_s in timings):
                assert saved > 0
            elif all(handling_s <= MIN_HANDLING_S for handling_s in timings):
                assert saved == 0
            else:
                assert saved >= 0
    _assert_no_value_falls(config, world, faster)


@settings(max_examples=40, deadline=None)
@given(world=worlds())
def test_no_expected_handling_time_is_below_both_the_prior_and_every_time_counted(
    config: OpsConfig, world: World
) -> None:
    """Each estimate is shrunk toward its vendor's, that toward the population's and that toward the prior, all in log
    seconds per media unit: a moderator's log mean lies between the prior's and the times counted (one under a
    second counting as one), and the spread only adds to the expected time. So none is below both the prior's
    median and the fastest time counted in its modality. The monotone properties hold for a prior that weighs a
    vendor's timings twice, which pulls its newcomers toward one second per unit; this does not."""
    model = world.model(config)
    for modality in Modality:
        counted = [
            max(handling_s, MIN_HANDLING_S) / media_scale(modality, duration_s)
            for _, timed, handling_s, duration_s in world.handling
            if timed is modality
        ]
        floor_s = min([HANDLING_PRIOR_S[modality] * math.exp(-HANDLING_PRIOR_LOG_VAR / 2), *counted])
        for moderator_id in world.ids:
            assert model.expected_handling_s(moderator_id, modality, 0.0) >= floor_s * (1 - 1e-9)


@settings(max_examples=40, deadline=None)
@given(world=worlds(), within=st.floats(0.0, 1.0), longer=st.floats(0.0, 600.0))
def test_a_longer_media_item_is_never_worth_more(config: OpsConfig, world: World, within: float, longer: float) -> None:
    """Expected handling grows with a timed item's length in reference minutes, a clip under a minute taking as long
    as a minute-long one (text and photos take one whatever their length): a task shortened within its first minute
    keeps its value, a longer one is worth no more. The per-pair oracle reads handling times off the model, which
    scales them the same way, so it cannot see where that scale starts."""
    model = world.model(config)

    def value_at(durations: list[float]) -> NDArray[np.float64]:
        backlog = [
            replace(task, duration_s=duration_s) for task, duration_s in zip(world.tasks, durations, strict=True)
        ]
        return model.value(backlog, world.ids, NOW).toarray()

    lengths = [task.duration_s for task in world.tasks]
    assert np.array_equal(
        value_at([within * REFERENCE_MEDIA_S] * len(lengths)), value_at([REFERENCE_MEDIA_S] * len(lengths))
    )
    assert np.all(value_at([length + longer for length in lengths]) <= value_at(lengths))


@settings(max_examples=60, deadline=None)
@given(world=worlds())
def test_over_budget_moderator_never_gets_a_severe_pair(config: OpsConfig, world: World) -> None:
    model = world.model(config)
    for moderator_id, profile in zip(world.ids, world.profiles, strict=True):
        assert model.severe_budget_left(moderator_id, NOW) == reference_budget_left(world, profile, NOW)
        for _ in range(model.severe_budget_left(moderator_id, NOW)):
            model.record_severe(moderator_id, NOW - 1000.0)
        assert model.severe_budget_left(moderator_id, NOW) == 0
    matrix = model.value(world.tasks, world.ids, NOW).toarray()
    severe = np.array([task.severe for task in world.tasks])
    assert not matrix[severe].any()
    # As a batch calls it, with the caps it works out once for the solve as well.
    caps = model.severe_caps(world.ids, NOW)
    assert np.array_equal(model.value(world.tasks, world.ids, NOW, caps).toarray(), matrix)
    assert np.array_equal(model.value_dense(world.tasks, world.ids, NOW, caps), matrix)
    refilled = model.value(world.tasks, world.ids, NOW + WINDOW_S).toarray()
    assert pairs(sp.csr_matrix(matrix)) <= pairs(sp.csr_matrix(refilled))


@settings(max_examples=200, deadline=None)
@given(world=worlds(), data=st.data())
def test_takers_take_exactly_the_tasks_with_a_pair(config: OpsConfig, world: World, data: st.DataObject) -> None:
    """A batch's window keeps a task when `Takers.take` says one of the free moderators may take it; the batch
    then values only those, so this must be exactly the rows of the value matrix that hold a pair."""
    model = world.model(config)
    free = data.draw(st.lists(st.sampled_from(world.ids), min_size=1, unique=True))
    takers = model.takers(free, NOW)
    rows = np.diff(model.value(world.tasks, free, NOW).indptr) > 0
    assert [takers.take(task) for task in world.tasks] == rows.tolist()


@settings(max_examples=200, deadline=None)
@given(world=worlds(), data=st.data())
def test_a_lane_verdict_says_what_take_says_at_its_step(config: OpsConfig, world: World, data: st.DataObject) -> None:
    """`Takers.opens` answers for every task requiring what this one requires once `step` escalation steps have
    passed: a copy of each task (unskipped) that has waited just into each step, and one that waited longest in
    it, is taken exactly when the verdict says so."""
    model = world.model(config)
    free = data.draw(st.lists(st.sampled_from(world.ids), min_size=1, unique=True))
    takers = model.takers(free, NOW)
    for task in world.tasks:
        waits = model.escalation_waits(task.queue)
        starts, ends = [0.0, *waits], [*(wait - 1.0 for wait in waits), 10 * WINDOW_S]
        for step, (start, end) in enumerate(zip(starts, ends, strict=True)):
            verdict = takers.opens(model.required_steps(task)[step], task.severe)
            for wait in (start, end):
                assert takers.take(replace(task, enqueued_at=NOW - wait, skipped_by=frozenset())) is verdict


@pytest.mark.parametrize("waited", [0.0, 60.0, 119.0, 120.0, 5_000.0])
def test_an_areas_tier_holds_after_every_step_of_a_queue_relaxing_clearance(
    config: OpsConfig,
    make_profile: Callable[..., ModeratorProfile],
    make_task: Callable[..., Task],
    waited: float,
) -> None:
    """Relaxing `clearance` widens who may take a queue's other work, never who may see an area's content that asks
    a tier (child-sexual-abuse material). The property above states it, but its random worlds rarely draw the pair
    that shows it (found by a hand-run mutation review: a step relaxing `clearance` that dropped the area's tier
    passed every test)."""
    # `english` relaxes language after 60 s, then region and clearance after 120 s; `abuse` asks tier1.
    model = Model(config)
    model.upsert(make_profile("uncleared", clearance=["tier2"]))
    model.upsert(make_profile("cleared", clearance=["tier1"]))
    abuse = make_task("a", queue="english", policy="abuse", severe=False, enqueued_at=NOW - waited)
    hate = make_task("h", queue="english", policy="hate", enqueued_at=NOW - waited)
    assert model.eligible(abuse, "cleared", NOW)
    assert not model.eligible(abuse, "uncleared", NOW)
    assert not model.qualified(abuse, "uncleared", NOW)
    assert model.eligible(hate, "uncleared", NOW)  # the queue's other work: no tier asked
    for value in (
        model.value([abuse, hate], ["uncleared", "cleared"], NOW).toarray(),
        model.value_dense([abuse, hate], ["uncleared", "cleared"], NOW),
        np.hstack([model.value([abuse, hate], [m], NOW).toarray() for m in ("uncleared", "cleared")]),
    ):
        assert value[0, 0] == 0.0 and value[0, 1] > 0.0
        assert value[1, 0] > 0.0


@pytest.mark.parametrize(
    ("queue", "waited", "asked"),
    [
        ("english", 0.0, True),
        ("english", 60.0, True),  # a step relaxing language keeps the certifications
        ("english", 5_000.0, True),  # and so does one relaxing region and clearance
        ("special", 29.0, True),
        ("special", 30.0, False),  # relaxed, as the task's own area is, by a step relaxing policy areas
    ],
)
def test_an_appeals_extra_certifications_are_relaxed_only_by_a_step_relaxing_policy_areas(
    config: OpsConfig,
    make_profile: Callable[..., ModeratorProfile],
    make_task: Callable[..., Task],
    queue: str,
    waited: float,
    asked: bool,
) -> None:
    """`Task.areas`, the certifications an appeal asks for every earlier review of its content; the random worlds of
    `test_value_matches_the_per_pair_rules` draw no such task (found by a hand-run mutation review: areas dropped
    after any step passed every test)."""
    model = Model(config)
    model.upsert(make_profile("uncertified", policy_areas=["hate", "spam"]))
    appeal = make_task("p", queue=queue, policy="spam", areas=("gore",), enqueued_at=NOW - waited)
    assert model.eligible(appeal, "uncertified", NOW) is not asked
    assert (model.value([appeal], ["uncertified"], NOW).nnz == 0) is asked


def test_a_tier_past_the_first_mask_word_is_required_as_any_other(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], make_task: Callable[..., Task]
) -> None:
    """A roster naming more than 63 skills needs masks of several words, and a clearance tier first named after the
    63rd skill lands in the second (found by a hand-run mutation review: eligibility that read only the first word
    passed every test, whose rosters name a few dozen skills)."""
    codes = [a + b for a in "abcdefghij" for b in "abcdefghij"][:70]
    model = Model(config)
    model.upsert(make_profile("polyglot", languages=dict.fromkeys([*codes, "en"], 1.0), clearance=["tier2"]))
    model.upsert(make_profile("cleared", clearance=["tier1"]))
    assert model.vocabulary > 64
    abuse = make_task("a", policy="abuse", language="en")
    ids = ["polyglot", "cleared"]
    assert not model.eligible(abuse, "polyglot", NOW) and model.eligible(abuse, "cleared", NOW)
    assert model.value([abuse], ids, NOW).toarray()[0].tolist()[0] == 0.0
    assert model.value_dense([abuse], ids, NOW)[0, 0] == 0.0 and model.value_dense([abuse], ids, NOW)[0, 1] > 0.0


@pytest.mark.parametrize(
    ("queue", "waited"),
    [("english", 0.0), ("english", 60.0), ("english", 5_000.0), ("special", 30.0), ("special", 90.0)],
)
def test_a_tier_the_task_stores_holds_after_every_step(
    config: OpsConfig,
    make_profile: Callable[..., ModeratorProfile],
    make_task: Callable[..., Task],
    queue: str,
    waited: float,
) -> None:
    """`Task.clearance`, the tier another area of the same content asks (a copy of child-abuse material filed as
    hate), protects the moderator as the area's own tier does: no escalation step relaxes it (found by a hand-run
    mutation review: the stored tier required before the first step only passed the capability tests, whose random
    worlds rarely draw that pair)."""
    model = Model(config)
    model.upsert(make_profile("uncleared", clearance=["tier2"]))
    model.upsert(make_profile("cleared", clearance=["tier1", "tier2"]))
    copy = make_task("c", queue=queue, policy="hate", clearance=("tier1",), enqueued_at=NOW - waited)
    assert model.eligible(copy, "cleared", NOW)
    assert not model.eligible(copy, "uncleared", NOW)
    assert not model.qualified(copy, "uncleared", NOW)
    for value in (
        model.value([copy], ["uncleared", "cleared"], NOW).toarray(),
        model.value_dense([copy], ["uncleared", "cleared"], NOW),
        model.value([copy], ["uncleared"], NOW).toarray(),
    ):
        assert value[0, 0] == 0.0


@pytest.mark.parametrize(("waited", "qualified"), [(0.0, False), (59.0, False), (60.0, True)])
def test_a_held_task_is_qualified_for_by_the_step_its_wait_has_reached(
    config: OpsConfig,
    make_profile: Callable[..., ModeratorProfile],
    make_task: Callable[..., Task],
    waited: float,
    qualified: bool,
) -> None:
    """`qualified` decides whether a moderator keeps a lease after their profile changes: before `english` relaxes
    its language, a moderator who reads neither English nor French must lose a French task, not keep it by the rules
    of a later step. The queue's languages are asked on top of the task's own until then: one who reads French
    alone may not take it either (found by a hand-run mutation review: a task's language replacing its queue's passed
    every test, whose random worlds rarely draw a moderator reading the task's language but not the queue's)."""
    model = Model(config)
    model.upsert(make_profile("german", languages={"de": 1.0}))
    model.upsert(make_profile("french", languages={"fr": 1.0}))
    french = make_task("f", queue="english", language="fr", enqueued_at=NOW - waited)
    assert model.qualified(french, "german", NOW) is qualified
    assert _answers(model, french, "french") == {qualified}


@pytest.mark.parametrize(
    ("policy", "waited", "eligible"), [("spam", 0.0, False), (None, 29.0, False), ("spam", 30.0, True)]
)
def test_a_queue_s_policy_areas_are_asked_beside_the_task_s_own(
    config: OpsConfig,
    make_profile: Callable[..., ModeratorProfile],
    make_task: Callable[..., Task],
    policy: str | None,
    waited: float,
    eligible: bool,
) -> None:
    """A queue's certifications (`special` asks `hate`) are asked of every task in it, whatever area the task names
    or none, until a step relaxes policy areas. The random worlds rarely draw a moderator holding the queue's tier but
    not its area (found by a hand-run mutation review: a task's own area replacing its queue's passed every test)."""
    model = Model(config)
    model.upsert(make_profile("spammy", policy_areas=["spam"]))
    task = make_task("s", queue="special", policy=policy, enqueued_at=NOW - waited)
    assert _answers(model, task, "spammy") == {eligible}


def _answers(model: Model, task: Task, moderator_id: str) -> set[bool]:
    """Whether the moderator may take the task now, as each of the model's three ways of asking answers."""
    return {
        model.eligible(task, moderator_id, NOW),
        model.value([task], [moderator_id], NOW).nnz == 1,
        model.takers([moderator_id], NOW).take(task),
    }


def test_a_severe_task_skipped_by_the_one_who_may_see_it_is_taken_by_nobody(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], make_task: Callable[..., Task]
) -> None:
    """`Takers` answers a skipped task person by person, and a severe one only among those who may see a severe
    item now: a teammate of the same skills whose budget is spent must not keep a batch reading it. The random
    worlds rarely draw that pair (found by a hand-run mutation review: counting every member of a group with someone
    calm passed every test)."""
    model = Model(config)
    model.upsert(make_profile("calm"))
    model.upsert(make_profile("spent", severe_per_hour=1))
    model.record_severe("spent", NOW - 10.0)
    gore = make_task("g", policy="gore", severe=True, skipped_by=frozenset({"calm"}))
    ids = ["calm", "spent"]
    assert model.value([gore], ids, NOW).nnz == 0
    assert not model.takers(ids, NOW).take(gore)
    assert model.takers(ids, NOW).take(replace(gore, skipped_by=frozenset()))


def test_a_severe_task_is_not_taken_on_the_word_of_a_skipped_one_asking_the_same_skills(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], make_task: Callable[..., Task]
) -> None:
    """`Takers` keeps the groups covering a mask apart for severe and other work: one batch reads both, and a group
    whose members' severe budgets are spent covers the one and not the other, whichever the batch read first (found
    by a hand-run mutation review: one cache for both passed every test, whose random worlds rarely put a skipped
    task before a severe one of the same skills)."""
    model = Model(config)
    model.upsert(make_profile("spent", severe_per_hour=1))
    model.record_severe("spent", NOW - 10.0)
    skipped = make_task("s", policy="gore", skipped_by=frozenset({"elsewhere"}))
    severe = make_task("g", policy="gore", severe=True)
    takers = model.takers(["spent"], NOW)
    assert takers.take(skipped)
    assert not takers.take(severe)
    assert np.diff(model.value([skipped, severe], ["spent"], NOW).indptr).tolist() == [1, 0]


def test_each_skill_group_answers_for_its_own_members_on_severe_work(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], make_task: Callable[..., Task]
) -> None:
    """`Takers` works out per skill group, once a batch, whether someone of it may see a severe item now and who:
    each group's answer must be its own, whichever group a batch asked first. The random worlds rarely give two
    groups covering one severe task different answers (found by a hand-run mutation review: one group's answer,
    or one group's calm members, standing for every group passed every test)."""
    model = Model(config)
    model.upsert(make_profile("french", languages={"en": 1.0, "fr": 1.0}))
    model.upsert(make_profile("english", languages={"en": 1.0}))
    model.upsert(make_profile("spent", languages={"en": 1.0, "de": 1.0}, severe_per_hour=1))
    model.record_severe("spent", NOW - 10.0)
    tasks = [
        make_task("en", policy="gore", severe=True),
        make_task("de", policy="gore", severe=True, language="de"),  # only the spent moderator reads German
        make_task("fr", policy="gore", severe=True, language="fr", skipped_by=frozenset({"french"})),
        make_task("en-1", policy="gore", severe=True, skipped_by=frozenset({"english"})),
        make_task("en-2", policy="gore", severe=True, skipped_by=frozenset({"french"})),
    ]
    ids = ["french", "english", "spent"]
    expected = [True, False, False, True, True]
    takers = model.takers(ids, NOW)
    assert [takers.take(task) for task in tasks] == expected
    assert (np.diff(model.value(tasks, ids, NOW).indptr) > 0).tolist() == expected
