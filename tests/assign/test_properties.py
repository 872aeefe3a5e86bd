"""Property tests: every method returns a feasible matching, the exact ones agree with brute force and each other,
and greedy never beats them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp

from queueopt.assign import Matching, flow, hungarian, pricing, solve
from queueopt.assign.problem import build_problem

EXACT = ("hungarian", "flow", "auto")
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Instance:
    value: NDArray[np.float64]
    capacity: NDArray[np.int64]
    severe: NDArray[np.bool_] | None = None
    severe_cap: NDArray[np.int64] | None = None
    vendor: NDArray[np.int64] | None = None
    vendor_cap: NDArray[np.int64] | None = None

    def side(self) -> dict[str, object]:
        return {
            "severe": self.severe,
            "severe_cap": self.severe_cap,
            "vendor": self.vendor,
            "vendor_cap": self.vendor_cap,
        }


@st.composite
def instances(draw: st.DrawFn, max_tasks: int, max_moderators: int, max_capacity: int, side: bool = False) -> Instance:
    n = draw(st.integers(0, max_tasks))
    m = draw(st.integers(0, max_moderators))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    density = draw(st.sampled_from([0.2, 0.5, 1.0]))
    # Few distinct values create ties, many create the usual continuous case.
    if draw(st.booleans()):
        value = rng.integers(1, 4, size=(n, m)).astype(np.float64)
    else:
        value = rng.random((n, m)) * 10.0
    ineligible = rng.random((n, m)) >= density
    value[ineligible] = np.where(rng.random(int(ineligible.sum())) < 0.5, 0.0, np.nan)
    capacity = rng.integers(0, max_capacity + 1, size=m)
    if not side:
        return Instance(value, capacity)
    n_vendors = max(1, m // 2)
    return Instance(
        value,
        capacity,
        severe=rng.random(n) < 0.5,
        severe_cap=rng.integers(0, 2, size=m),
        vendor=rng.integers(0, n_vendors, size=m),
        vendor_cap=rng.integers(0, 3, size=n_vendors),
    )


def assert_feasible(instance: Instance, matching: Matching) -> None:
    value = instance.value
    assert matching.task.shape == matching.moderator.shape
    assert np.all(np.diff(matching.task) > 0), "each task at most once, sorted by task"
    chosen = value[matching.task, matching.moderator]
    assert np.all(chosen > 0), "never an ineligible pair"
    counts = np.bincount(matching.moderator, minlength=value.shape[1])
    assert np.all(counts <= instance.capacity)
    if instance.severe is not None and instance.severe_cap is not None:
        severe_counts = np.bincount(matching.moderator[instance.severe[matching.task]], minlength=value.shape[1])
        assert np.all(severe_counts <= instance.severe_cap)
    if instance.vendor is not None and instance.vendor_cap is not None:
        vendor_counts = np.bincount(instance.vendor[matching.moderator], minlength=instance.vendor_cap.size)
        assert np.all(vendor_counts <= instance.vendor_cap)
    assert matching.objective == pytest.approx(float(chosen.sum()), rel=1e-12, abs=1e-12)


def brute_force(instance: Instance) -> float:
    """Try every way to give each task one eligible moderator or none, keep the best feasible total."""
    n = instance.value.shape[0]
    options = [[-1, *np.flatnonzero(instance.value[i] > 0).tolist()] for i in range(n)]
    best = 0.0
    for choice in itertools.product(*options):
        pairs = [(i, j) for i, j in enumerate(choice) if j >= 0]
        candidate = Matching(
            np.array([i for i, _ in pairs], dtype=np.intp),
            np.array([j for _, j in pairs], dtype=np.intp),
            float(sum(instance.value[i, j] for i, j in pairs)),
            "brute",
        )
        if candidate.objective > best and _is_feasible(instance, candidate):
            best = candidate.objective
    return best


def integer_program(instance: Instance) -> float:
    """The same problem as a 0/1 program solved by HiGHS: an independent exact reference for medium instances."""
    value = np.nan_to_num(instance.value, nan=0.0)
    task, moderator = np.nonzero(value > 0)
    n, m = value.shape
    pair = np.arange(task.size)
    blocks = [
        (sp.csr_matrix((np.ones(task.size), (task, pair)), shape=(n, task.size)), np.ones(n)),
        (sp.csr_matrix((np.ones(task.size), (moderator, pair)), shape=(m, task.size)), instance.capacity),
    ]
    if instance.severe is not None and instance.severe_cap is not None:
        severe = instance.severe[task]
        rows = sp.csr_matrix((np.ones(int(severe.sum())), (moderator[severe], pair[severe])), shape=(m, task.size))
        blocks.append((rows, instance.severe_cap))
    if instance.vendor is not None and instance.vendor_cap is not None:
        rows = sp.csr_matrix(
            (np.ones(task.size), (instance.vendor[moderator], pair)), shape=(instance.vendor_cap.size, task.size)
        )
        blocks.append((rows, instance.vendor_cap))
    if task.size == 0:
        return 0.0
    limits = LinearConstraint(sp.vstack([a for a, _ in blocks]), -np.inf, np.concatenate([b for _, b in blocks]))
    result = milp(
        -value[task, moderator],
        constraints=limits,
        integrality=np.ones(task.size),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0},
    )
    assert result.success
    return float(-result.fun)


def _is_feasible(instance: Instance, matching: Matching) -> bool:
    try:
        assert_feasible(instance, matching)
    except AssertionError:
        return False
    return True


def run(instance: Instance, method: str, *, sparse: bool = False) -> Matching:
    value: object = instance.value
    if sparse:
        value = sp.csr_matrix(np.nan_to_num(instance.value, nan=0.0))
    matching = solve(value, instance.capacity, method=method, **instance.side())
    assert_feasible(instance, matching)
    return matching


@settings(max_examples=150, deadline=None)
@given(instances(max_tasks=5, max_moderators=4, max_capacity=2))
def test_exact_methods_match_brute_force_on_tiny_instances(instance: Instance) -> None:
    best = brute_force(instance)
    for method in EXACT:
        assert run(instance, method).objective == pytest.approx(best, rel=TOLERANCE, abs=1e-12)
    assert run(instance, "greedy").objective <= best + 1e-12


@settings(max_examples=150, deadline=None)
@given(instances(max_tasks=5, max_moderators=4, max_capacity=3, side=True))
def test_side_constraints_match_brute_force_on_tiny_instances(instance: Instance) -> None:
    best = brute_force(instance)
    for method in ("flow", "auto"):
        matching = run(instance, method)
        assert matching.objective == pytest.approx(best, rel=TOLERANCE, abs=1e-12)
    assert run(instance, "greedy").objective <= best + 1e-12


@settings(max_examples=60, deadline=None)
@given(instances(max_tasks=60, max_moderators=40, max_capacity=4), st.booleans())
def test_exact_methods_agree_on_larger_instances(instance: Instance, sparse: bool) -> None:
    objectives = {method: run(instance, method, sparse=sparse).objective for method in EXACT}
    reference = objectives["hungarian"]
    for method, objective in objectives.items():
        assert objective == pytest.approx(reference, rel=TOLERANCE, abs=1e-12), method
    assert run(instance, "greedy", sparse=sparse).objective <= reference * (1 + TOLERANCE) + 1e-12


@settings(max_examples=40, deadline=None)
@given(instances(max_tasks=40, max_moderators=30, max_capacity=3, side=True))
def test_flow_matches_an_integer_program_under_side_constraints(instance: Instance) -> None:
    exact = integer_program(instance)
    for method in ("flow", "auto"):
        assert run(instance, method).objective == pytest.approx(exact, rel=1e-7, abs=1e-9)
    assert run(instance, "greedy").objective <= exact * (1 + 1e-7) + 1e-9


@settings(max_examples=30, deadline=None)
@given(instances(max_tasks=30, max_moderators=20, max_capacity=3, side=True))
def test_same_input_gives_the_same_matching(instance: Instance) -> None:
    for method in ("flow", "greedy"):
        first, second = run(instance, method), run(instance, method)
        assert np.array_equal(first.task, second.task)
        assert np.array_equal(first.moderator, second.moderator)


@settings(max_examples=60, deadline=None)
@given(instances(max_tasks=40, max_moderators=30, max_capacity=3, side=True), st.sampled_from([1, 2]))
def test_flow_restricted_to_few_options_per_task_is_still_exact(instance: Instance, options: int) -> None:
    """With one or two options per task the first restricted flow is usually wrong; pricing must repair it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pricing, "OPTIONS_PER_TASK", options)
        patch.setattr(pricing, "MIN_OPTIONS_TO_RESTRICT", 0)
        restricted = run(instance, "flow").objective
    assert restricted == pytest.approx(integer_program(instance), rel=1e-7, abs=1e-9)


@settings(max_examples=20, deadline=None)
@given(instances(max_tasks=40, max_moderators=30, max_capacity=3))
def test_flow_falls_back_to_the_whole_network_when_pricing_gives_up(instance: Instance) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pricing, "OPTIONS_PER_TASK", 1)
        patch.setattr(pricing, "MIN_OPTIONS_TO_RESTRICT", 0)
        patch.setattr(pricing, "MAX_PASSES", 0)
        restricted = run(instance, "flow").objective
    assert restricted == pytest.approx(run(instance, "hungarian").objective, rel=TOLERANCE, abs=1e-12)


@pytest.mark.parametrize("values", ["ties", "continuous"])
def test_flow_candidates_keep_every_tasks_best_and_the_wanted_share(values: str) -> None:
    """The restricted flow starts from at least `OPTIONS_PER_TASK` pairs per task, always each task's best: with few
    distinct values most pairs tie with the threshold, and all of them must stay, or the first guess is poor and the
    repairs (or a solve of every pair) pay for it."""
    rng = np.random.default_rng(3)
    value = rng.integers(1, 4, size=(40, 60)).astype(np.float64) if values == "ties" else rng.random((40, 60))
    problem = build_problem(value, np.full(60, 2), merge_alike=False)
    included = pricing.candidate_pairs(problem)
    assert included is not None
    pairs = problem.pairs
    assert int(included.sum()) >= pricing.OPTIONS_PER_TASK * 40
    best = np.zeros(40)
    np.maximum.at(best, pairs.task[included], pairs.value[included])
    assert best.tolist() == value.max(axis=1).tolist()


def count_flow_solves(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of pairs of each flow solve from now on, in order."""
    solved: list[int] = []
    original = flow.Network.solve

    def counted(network: flow.Network, pairs: NDArray[np.intp]) -> flow.FlowSolution:
        solved.append(int(pairs.size))
        return original(network, pairs)

    monkeypatch.setattr(flow.Network, "solve", counted)
    return solved


def test_flow_accepts_a_restricted_optimum_without_solving_the_whole_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sixty tasks with fifty options each: the best ten per task hold the optimum, and the potentials must settle and
    prove it, so the flow is solved once, on the restricted pairs. Potentials that never settle still give the optimum,
    but by a second solve of every pair, which the restriction exists to avoid."""
    solved = count_flow_solves(monkeypatch)
    value = np.random.default_rng(0).random((60, 50))
    matching = solve(value, np.full(50, 2), method="flow")
    assert matching.objective == pytest.approx(integer_program(Instance(value, np.full(50, 2))), rel=1e-9)
    assert len(solved) == 1 and solved[0] < value.size


def test_flow_repairs_a_guess_missing_a_few_pairs_by_a_second_restricted_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    """With three options per task the same batch's first guess misses a few pairs the potentials cannot rule out:
    pricing names them, and one more restricted solve with them added must prove the optimum, without solving all
    3,000 pairs. Repairs that never added the named pairs (the same guess solved until the rounds ran out), or a single
    round, still reached the optimum, but by the whole network, and no test counted the solves of a repair."""
    monkeypatch.setattr(pricing, "OPTIONS_PER_TASK", 3)
    monkeypatch.setattr(pricing, "MIN_OPTIONS_TO_RESTRICT", 0)
    solved = count_flow_solves(monkeypatch)
    value = np.random.default_rng(0).random((60, 50))
    matching = solve(value, np.full(50, 2), method="flow")
    assert matching.objective == pytest.approx(integer_program(Instance(value, np.full(50, 2))), rel=1e-9)
    assert len(solved) == 2 and solved[0] < solved[1] < value.size


def test_flow_solves_the_whole_network_when_its_repairs_run_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both tasks' best pair is moderator 0's: the restricted flow gives it task 0 (3.0) and leaves task 1, which only
    moderator 0 can take, while the optimum moves task 0 to moderator 1 (4.5). Pricing names that pair; with no round
    left to add it, the unproven answer must be thrown away and the whole network solved. Returning the last restricted
    answer passed every test: the random batches' repairs finish within three rounds, or their unproven answer is
    optimal anyway."""
    monkeypatch.setattr(pricing, "OPTIONS_PER_TASK", 1)
    monkeypatch.setattr(pricing, "MIN_OPTIONS_TO_RESTRICT", 0)
    monkeypatch.setattr(flow, "MAX_ROUNDS", 1)  # flow reads its own binding of pricing's constant
    solved = count_flow_solves(monkeypatch)
    matching = solve(np.array([[3.0, 2.0], [2.5, 0.0]]), method="flow")
    assert (matching.moderator.tolist(), matching.objective) == ([1, 0], 4.5)
    assert solved == [2, 3]  # the two best pairs, then all three


@settings(max_examples=80, deadline=None)
@given(instances(max_tasks=40, max_moderators=12, max_capacity=3), st.sampled_from([0.3, 1.0]), st.booleans())
def test_hungarian_restricted_to_the_best_tasks_is_still_exact(instance: Instance, share: float, sparse: bool) -> None:
    """A guess far too small (a third of a task per slot) must be repaired by the price test until it is optimal."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hungarian, "RESTRICT_MIN_TASKS_PER_SLOT", 0.0)
        patch.setattr(hungarian, "GUESS_PER_SLOT", share)
        patch.setattr(hungarian, "GUESS_EXTRA", 1)
        patch.setattr(hungarian, "MAX_ROUNDS", 50)
        restricted = run(instance, "hungarian", sparse=sparse).objective
    assert restricted == pytest.approx(integer_program(instance), rel=1e-9, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(instances(max_tasks=40, max_moderators=12, max_capacity=3), st.sampled_from([0, 1]))
def test_hungarian_solves_every_task_when_the_restriction_gives_up(instance: Instance, limit: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hungarian, "RESTRICT_MIN_TASKS_PER_SLOT", 0.0)
        patch.setattr(hungarian, "GUESS_PER_SLOT", 0.3)
        patch.setattr(hungarian, "GUESS_EXTRA", 1)
        patch.setattr(hungarian, "MAX_PASSES" if limit == 0 else "MAX_ROUNDS", limit)
        restricted = run(instance, "hungarian").objective
    assert restricted == pytest.approx(integer_program(instance), rel=1e-9, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(instances(max_tasks=30, max_moderators=8, max_capacity=3), st.integers(0, 2**32 - 1))
def test_hungarian_price_test_accepts_a_restricted_optimum_exactly_when_it_is_optimal(
    instance: Instance, seed: int
) -> None:
    """Any subset of the tasks: the restricted optimum passes the price test (no left-out task named) only if it is the
    optimum of all tasks."""
    value = np.nan_to_num(np.where(instance.value > 0, instance.value, 0.0))
    capacity = np.minimum(instance.capacity, value.shape[0])
    if not value.any() or not capacity.any():
        return
    rows = np.flatnonzero(np.random.default_rng(seed).random(value.shape[0]) < 0.5)
    if rows.size == 0:
        return
    row, column = hungarian._assign(value[rows], capacity)
    restricted = float(value[rows[row], column].sum())
    missing = hungarian._better_left_out(value, rows, row, column)
    best = integer_program(Instance(value, capacity))
    assert missing is not None
    if missing.size == 0:
        assert restricted == pytest.approx(best, rel=1e-9, abs=1e-12)


def test_hungarian_price_test_names_a_left_out_task_better_by_a_hair() -> None:
    """One moderator; the restricted optimum takes task 0 and leaves task 1, so its price is task 1's value, 0.995: task
    2, left out and worth 1.004, is better than the matching by 0.4% and must be named, and a task worth 0.99 not."""
    value = np.array([[1.0], [0.995], [1.004], [0.99]])
    rows = np.array([0, 1])
    row, column = hungarian._assign(value[rows], np.array([1]))
    assert (rows[row].tolist(), column.tolist()) == ([0], [0])
    missing = hungarian._better_left_out(value, rows, row, column)
    assert missing is not None and missing.tolist() == [2]


def test_hungarian_price_test_carries_a_full_moderators_price_by_its_most_willing_task() -> None:
    """Moderator 0 (two slots, both taken) has price 8 from task 3, left unmatched; its task 0 would give up only 6 to
    move to moderator 1, so moderator 1's least price is 2, not 0. A left-out task worth 1 to moderator 1 cannot improve
    the optimum and must not be named: a price carried by any other task than the most willing one is too low, and the
    restriction then never proves its answer."""
    value = np.array([[10.0, 4.0], [10.0, 1.0], [0.0, 5.0], [8.0, 0.0], [0.0, 1.0]])
    rows = np.array([0, 1, 2, 3])
    row, column = hungarian._assign(value[rows], np.array([2, 1]))
    assert (rows[row].tolist(), column.tolist()) == ([0, 1, 2], [0, 0, 1])
    assert integer_program(Instance(value, np.array([2, 1]))) == pytest.approx(25.0)
    missing = hungarian._better_left_out(value, rows, row, column)
    assert missing is not None and missing.tolist() == []


def test_hungarian_price_test_never_names_a_task_for_an_ineligible_cell() -> None:
    """Moderator 1 has no pair among the restricted tasks, so its price is 0: task 3, worth 4 to it, is rightly named,
    but task 2, worth 1 to moderator 0 (price 2) and ineligible (0) for moderator 1, must not be, or nearly every
    left-out task is named whenever a moderator's price is 0 and the restriction gives up for all tasks."""
    value = np.array([[5.0, 0.0], [2.0, 0.0], [1.0, 0.0], [0.0, 4.0]])
    rows = np.array([0, 1])
    row, column = hungarian._assign(value[rows], np.array([1, 1]))
    assert (rows[row].tolist(), column.tolist()) == ([0], [0])
    missing = hungarian._better_left_out(value, rows, row, column)
    assert missing is not None and missing.tolist() == [3]


def test_hungarian_first_guess_is_the_tasks_with_the_best_values() -> None:
    """The guess must hold the tasks most likely in the optimum, each by its best value: a guess of the worst tasks is
    still repaired to the optimum, but only by solving every task, which the restriction exists to avoid."""
    rng = np.random.default_rng(7)
    value = rng.random((200, 3)) * np.array([1.0, 2.0, 0.5])
    slots = np.array([2, 1, 1])
    guess = hungarian._first_guess(value, slots)
    size = int(np.ceil(hungarian.GUESS_PER_SLOT * slots.sum())) + hungarian.GUESS_EXTRA
    assert guess is not None
    assert guess.tolist() == sorted(np.argsort(-value.max(axis=1), kind="stable")[:size].tolist())


def reference_greedy(instance: Instance) -> list[tuple[int, int]]:
    """Textbook greedy: pairs by value (ties by task, then moderator), keep each one that still fits every limit."""
    value = np.nan_to_num(instance.value, nan=0.0)
    pairs = sorted(zip(*np.nonzero(value > 0), strict=True), key=lambda p: (-value[p], p[0], p[1]))
    slots = instance.capacity.copy()
    severe_slots = None if instance.severe_cap is None else instance.severe_cap.copy()
    vendor_slots = None if instance.vendor_cap is None else instance.vendor_cap.copy()
    taken: set[int] = set()
    chosen = []
    for i, j in pairs:
        severe = instance.severe is not None and bool(instance.severe[i])
        fits = i not in taken and slots[j] > 0
        fits = fits and not (severe and severe_slots is not None and severe_slots[j] == 0)
        if instance.vendor is not None and vendor_slots is not None:
            fits = fits and vendor_slots[instance.vendor[j]] > 0
        if not fits:
            continue
        taken.add(int(i))
        slots[j] -= 1
        if severe and severe_slots is not None:
            severe_slots[j] -= 1
        if instance.vendor is not None and vendor_slots is not None:
            vendor_slots[instance.vendor[j]] -= 1
        chosen.append((int(i), int(j)))
    return sorted(chosen)


@settings(max_examples=80, deadline=None)
@given(instances(max_tasks=40, max_moderators=30, max_capacity=3, side=True), st.booleans())
def test_greedy_is_exactly_the_textbook_greedy(instance: Instance, side: bool) -> None:
    if not side:
        instance = Instance(instance.value, instance.capacity)
    matching = run(instance, "greedy")
    assert list(zip(matching.task.tolist(), matching.moderator.tolist(), strict=True)) == reference_greedy(instance)


@settings(max_examples=60, deadline=None)
@given(instances(max_tasks=30, max_moderators=3, max_capacity=2, side=True), st.booleans(), st.booleans())
def test_batches_with_far_more_tasks_than_slots_stay_exact(instance: Instance, side: bool, sparse: bool) -> None:
    """Here most pairs rank below their moderator's reach and are pruned before any method runs."""
    if not side:
        instance = Instance(instance.value, instance.capacity)
    exact = integer_program(instance)
    for method in ("flow", "auto") if side else EXACT:
        assert run(instance, method, sparse=sparse).objective == pytest.approx(exact, rel=1e-7, abs=1e-9)
    greedy = run(instance, "greedy", sparse=sparse)
    assert list(zip(greedy.task.tolist(), greedy.moderator.tolist(), strict=True)) == reference_greedy(instance)


@pytest.mark.parametrize("sparse", [False, True])
def test_pairs_below_a_moderators_reach_are_pruned(sparse: bool) -> None:
    """Two slots in all: each moderator keeps its two best tasks and those tied with its second, nothing else."""
    value = np.array([[5.0, 1.0], [3.0, 2.0], [3.0, 3.0], [3.0, 4.0], [1.0, 0.0]])
    problem = build_problem(sp.csr_matrix(value) if sparse else value, np.array([1, 1]))
    kept = sorted(zip(problem.pairs.task.tolist(), problem.pairs.moderator.tolist(), strict=True))
    assert kept == [(0, 0), (1, 0), (2, 0), (2, 1), (3, 0), (3, 1)]


def test_severe_and_other_tasks_are_ranked_apart_while_severe_caps_bind() -> None:
    """Three slots in all; moderator 0's four severe tasks lose their worst, its three others all stay."""
    value = np.array([[5.0, 1.0], [4.0, 2.0], [3.0, 3.0], [3.0, 4.0], [1.0, 0.0], [2.0, 5.0], [6.0, 6.0]])
    severe = np.array([False, False, False, True, True, True, True])
    problem = build_problem(value, np.array([2, 1]), severe=severe, severe_cap=np.array([1, 1]))
    kept = set(zip(problem.pairs.task.tolist(), problem.pairs.moderator.tolist(), strict=True))
    assert kept == {(task, moderator) for task, moderator in zip(*np.nonzero(value), strict=True)} - {(4, 0)}
