"""The one entry point: check the input, pick a method, return a `Matching`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from queueopt.assign.flow import solve_flow
from queueopt.assign.greedy import solve_greedy
from queueopt.assign.hungarian import solve_hungarian
from queueopt.assign.matching import Matching, empty_matching, matching_from_pairs
from queueopt.assign.problem import IntArray, Problem, build_problem

METHODS: dict[str, Callable[[Problem], tuple[IntArray, IntArray]]] = {
    "hungarian": solve_hungarian,
    "flow": solve_flow,
    "greedy": solve_greedy,
}

# Measured with benchmarks/bench_assign.py on the project's 2-core machine (see docs/assignment.md): the slot-expanded
# dense solver wins while at least this share of the tasks x slots cells is eligible, or while the matrix is tiny.
HUNGARIAN_MIN_DENSITY = 0.1
HUNGARIAN_MAX_TINY_CELLS = 4_096
HUNGARIAN_MAX_CELLS = 25_000_000


def load_solvers() -> None:
    """Load the solvers' libraries now. scipy.optimize and OR-Tools load at a solve's first call, as most `queueopt`
    commands never solve and half a second of every start was theirs; an engine loads them as it starts, so that its
    first batch (after a take-over, say) does not wait for them."""
    importlib.import_module("scipy.optimize")
    importlib.import_module("ortools.graph.python.min_cost_flow")


def solve(
    value: Any,
    capacity: Any = None,
    *,
    method: str = "auto",
    severe: Any = None,
    severe_cap: Any = None,
    vendor: Any = None,
    vendor_cap: Any = None,
) -> Matching:
    """Maximise the total value of (task, moderator) pairs: each task at most once, each moderator at most
    `capacity[j]` times, at most `severe_cap[j]` severe tasks per moderator and `vendor_cap[v]` tasks per vendor,
    never an ineligible pair (value <= 0 or NaN, or not stored in a sparse matrix)."""
    if method != "auto" and method not in METHODS:
        raise ValueError(f"method: expected one of 'auto', {', '.join(map(repr, METHODS))}; got {method!r}")
    if method == "hungarian" and (severe is not None or vendor is not None):
        raise ValueError("method: 'hungarian' cannot enforce severe or vendor caps; use 'flow' or 'auto'")
    problem = build_problem(
        value,
        capacity,
        severe=severe,
        severe_cap=severe_cap,
        vendor=vendor,
        vendor_cap=vendor_cap,
        merge_alike=method != "greedy",
    )
    chosen_method = pick_method(problem) if method == "auto" else method
    if problem.n_pairs == 0:
        return empty_matching(chosen_method)
    return matching_from_pairs(problem, *METHODS[chosen_method](problem), chosen_method)


def pick_method(problem: Problem) -> str:
    """Always an exact method: flow when a side cap can bind or the slot matrix would be mostly empty cells."""
    if problem.has_side_constraints:
        return "flow"
    tasks, moderators = problem.active
    n_tasks = tasks.size
    cells = n_tasks * int(np.minimum(problem.capacity[moderators], n_tasks).sum())
    if cells <= HUNGARIAN_MAX_TINY_CELLS:
        return "hungarian"
    if cells <= HUNGARIAN_MAX_CELLS and problem.n_pairs >= HUNGARIAN_MIN_DENSITY * cells:
        return "hungarian"
    return "flow"
