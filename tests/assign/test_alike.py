"""Moderators with the same value for every task (and the same vendor) are solved as one column and spread back:
the matching must stay feasible for each of them and exactly as good as the integer program on the unmerged input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.assign.test_properties import EXACT, Instance, instances, integer_program, reference_greedy, run

from queueopt.assign import alike, solve
from queueopt.assign.problem import build_problem


@st.composite
def alike_instances(draw: st.DrawFn, side: bool) -> Instance:
    """An instance whose moderators are copies of a few kinds, each copy with its own capacity and budgets; with side
    caps some copies of a kind sit at another vendor, which must keep them apart."""
    base = draw(instances(max_tasks=30, max_moderators=4, max_capacity=3, side=side))
    n_tasks, kinds = base.value.shape
    if kinds == 0:
        return base
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, kinds, size=draw(st.integers(2, 12)))
    capacity = rng.integers(0, 4, size=kind.size)
    if not side:
        return Instance(base.value[:, kind], capacity)
    assert base.vendor is not None and base.vendor_cap is not None
    vendor = np.where(rng.random(kind.size) < 0.8, base.vendor[kind], rng.integers(0, base.vendor_cap.size, kind.size))
    return Instance(
        base.value[:, kind],
        capacity,
        severe=base.severe,
        severe_cap=rng.integers(0, 3, size=kind.size),
        vendor=vendor,
        vendor_cap=base.vendor_cap,
    )


@settings(max_examples=120, deadline=None)
@given(alike_instances(side=False), st.booleans(), st.sampled_from([1, 3, alike.SAMPLE_ROWS]))
def test_alike_moderators_merged_keep_the_optimum(instance: Instance, sparse: bool, sample: int) -> None:
    """With a sample of a few rows, columns equal in the sample and different further down must stay apart."""
    exact = integer_program(instance)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(alike, "SAMPLE_ROWS", sample)
        for method in EXACT:
            assert run(instance, method, sparse=sparse).objective == pytest.approx(exact, rel=1e-9, abs=1e-12), method


@settings(max_examples=120, deadline=None)
@given(alike_instances(side=True))
def test_alike_moderators_merged_keep_every_cap_and_the_optimum(instance: Instance) -> None:
    exact = integer_program(instance)
    for method in ("flow", "auto"):
        assert run(instance, method).objective == pytest.approx(exact, rel=1e-7, abs=1e-9), method


@settings(max_examples=80, deadline=None)
@given(alike_instances(side=True))
def test_alike_moderators_keep_their_slots_when_severe_work_fills_them(instance: Instance) -> None:
    """Vendor volumes no limit, so merged columns often fill every slot of their members with severe and other work:
    spreading back must count a member's severe tasks against its slots too, or its other tasks overfill it."""
    loose = Instance(
        instance.value,
        instance.capacity,
        instance.severe,
        instance.severe_cap,
        instance.vendor,
        None if instance.vendor_cap is None else np.full(instance.vendor_cap.size, instance.value.shape[0]),
    )
    assert run(loose, "flow").objective == pytest.approx(integer_program(loose), rel=1e-7, abs=1e-9)


def test_a_copy_given_severe_work_takes_only_its_remaining_slots() -> None:
    """Two copies, each with a severe task first: the other two tasks must go one to each, not both to the first."""
    value = np.ones((4, 2))
    severe = np.array([True, True, False, False])
    matching = solve(value, np.array([2, 2]), severe=severe, severe_cap=np.array([1, 1]))
    assert len(matching) == 4
    assert np.bincount(matching.moderator, minlength=2).tolist() == [2, 2]


@settings(max_examples=60, deadline=None)
@given(alike_instances(side=True), st.booleans())
def test_greedy_never_merges(instance: Instance, side: bool) -> None:
    if not side:
        instance = Instance(instance.value, instance.capacity)
    matching = run(instance, "greedy")
    assert list(zip(matching.task.tolist(), matching.moderator.tolist(), strict=True)) == reference_greedy(instance)


def test_copies_of_a_kind_become_one_column_per_kind_and_vendor() -> None:
    kinds = np.array([[3.0, 1.0], [2.0, 0.0], [1.0, 2.0]])
    value = kinds[:, [0, 1, 0, 0, 1]]
    problem = build_problem(value, np.array([1, 2, 1, 1, 1]))
    assert problem.n_moderators == 2
    assert problem.capacity.tolist() == [3, 3]
    assert problem.alike is not None
    by_vendor = build_problem(value, vendor=np.array([0, 0, 1, 0, 0]), vendor_cap=np.array([1, 1]))
    assert by_vendor.n_moderators == 3
    apart_below_the_sample = np.vstack([np.ones((alike.SAMPLE_ROWS, 2)), [[1.0, 2.0]]])
    assert build_problem(apart_below_the_sample).n_moderators == 2
    alike_below_the_sample = np.vstack([np.ones((alike.SAMPLE_ROWS, 2)), [[2.0, 2.0]]])
    assert build_problem(alike_below_the_sample).n_moderators == 1
    assert build_problem(value, merge_alike=False).n_moderators == 5


def test_round_numbers_and_mirrored_columns_keep_their_own_fingerprints() -> None:
    """Hypothesis found these: small whole numbers (bits ending in dozens of zeros) and mirrored columns shared a
    fingerprint with unlike columns, so the two equal columns beside them were never merged."""
    round_numbers = np.array([[3.0, 3.0, 3.0], [3.0, 1.0, 1.0], [2.0, 1.0, 1.0], [1.0, 3.0, 3.0]])
    mirrored = np.array([[3.0, 2.0, 2.0], [2.0, 3.0, 3.0], [2.0, 3.0, 3.0], [3.0, 2.0, 2.0]])
    for dense in (round_numbers, mirrored):
        of_column = alike.alike_columns(dense, None)
        assert of_column is not None and of_column.tolist() == [0, 1, 1]


def test_severe_tasks_go_to_the_copies_with_budget_left() -> None:
    value = np.ones((4, 3))
    severe = np.array([True, True, False, False])
    matching = solve(value, np.array([2, 1, 1]), severe=severe, severe_cap=np.array([0, 1, 1]))
    assert matching.method == "flow"
    assert len(matching) == 4
    assert sorted(matching.moderator[severe[matching.task]].tolist()) == [1, 2]
    assert np.bincount(matching.moderator, minlength=3).tolist() == [2, 1, 1]


@settings(max_examples=200, deadline=None)
@given(alike_instances(side=True), st.booleans(), st.sampled_from([1, 3, alike.SAMPLE_ROWS]))
def test_columns_are_numbered_like_a_plain_grouping(instance: Instance, by_vendor: bool, sample: int) -> None:
    """`alike_columns` (fingerprints, the all-distinct shortcut, first members by running maximum) against grouping
    equal (column, vendor) keys in a dict, numbered by first appearance; None exactly when every key differs."""
    dense = np.where(instance.value > 0, instance.value, 0.0)
    vendor = instance.vendor if by_vendor else None
    keys = [
        (tuple(dense[:, column].tolist()), None if vendor is None else int(vendor[column]))
        for column in range(dense.shape[1])
    ]
    first: dict[object, int] = {}
    expected = [first.setdefault(key, len(first)) for key in keys]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(alike, "SAMPLE_ROWS", sample)
        of_column = alike.alike_columns(dense, vendor)
    if dense.shape[1] < 2 or len(first) == len(keys):
        assert of_column is None
    else:
        assert of_column is not None and of_column.tolist() == expected
