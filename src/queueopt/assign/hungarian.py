"""Exact one-to-one assignment (scipy's Jonker-Volgenant), with each moderator expanded into one column per slot.

Ineligible cells are 0, not a large negative: the rectangular solver assigns every row or column of the smaller side,
and any feasible matching extends to such a full assignment with zero cells without changing its value, so the
optimum is the same and the zero cells it picks are simply dropped. This is fast on dense, mostly one-slot batches;
its memory grows with tasks x slots, so sparse or many-slot batches go to the flow model instead.

A batch with far more tasks than slots (an engine batch on a quiet floor) is first solved on its tasks with the best
values only, and that answer is kept only with a proof that no other task could improve it. Linear-programming
duality gives the proof: a matching is optimal when each moderator j has a price u_j >= 0 and each task a surplus
v_i >= 0 with u_j + v_i >= value[i, j] for every pair, equality on the matched pairs, a zero price for a moderator
with a free slot and a zero surplus for an unmatched task. Given the restricted optimum, the least such prices solve
a longest-path problem over the moderators (a matched task i of moderator m may move to j:
u_j >= value[i, j] - value[i, m] + u_m; an unmatched task i bounds u_j >= value[i, j]), found by vectorised
Bellman-Ford passes. A left-out task has surplus 0 and cannot improve the matching if value[i, j] <= u_j for every j;
if that holds for all of them the restricted optimum is the optimum, else the offending tasks join and the
restricted problem is solved again.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from queueopt.assign.problem import IntArray, Problem

FloatArray = NDArray[np.float64]

# Restrict only when there are at least this many tasks per slot; the first guess is GUESS_PER_SLOT tasks per slot
# plus GUESS_EXTRA. On bench_engine's batch (878 tasks, 300 one-slot moderators with learned estimates) the optimum
# lies within the best 360 tasks, and LSAP on them plus the proof takes ~15 ms against ~25 ms for all 878.
RESTRICT_MIN_TASKS_PER_SLOT = 1.5
GUESS_PER_SLOT = 1.2
GUESS_EXTRA = 16
# Restricted solves (the guess plus repairs) before solving everything, and Bellman-Ford passes per proof.
MAX_ROUNDS = 3
MAX_PASSES = 200
# Prices are summed along paths in floating point; a left-out task must beat them by this share of the largest value
# to count as no better, so rounding can never certify a matching that is not optimal.
PRICE_SLACK = 1e-12


def solve_hungarian(problem: Problem) -> tuple[IntArray, IntArray]:
    tasks, moderators = problem.active
    slots = np.minimum(problem.capacity[moderators], tasks.size)
    value = _active_matrix(problem, tasks, moderators)
    rows = _first_guess(value, slots)
    for _ in range(MAX_ROUNDS):
        if rows is None:
            break
        row, column = _assign(value[rows], slots)
        missing = _better_left_out(value, rows, row, column)
        if missing is None or missing.size > rows.size:
            break
        if missing.size == 0:
            return tasks[rows[row]], moderators[column]
        rows = np.union1d(rows, missing)
    row, column = _assign(value, slots)
    return tasks[row], moderators[column]


def _active_matrix(problem: Problem, tasks: IntArray, moderators: IntArray) -> FloatArray:
    """Active tasks x active moderators; cut from the caller's dense matrix when there is one, else scattered."""
    if problem.dense is not None:
        matrix = problem.dense
        if tasks.size < problem.n_tasks:
            matrix = matrix[tasks]
        if moderators.size < problem.n_moderators:
            matrix = matrix[:, moderators]
        return matrix
    _, task_row = problem.task_index
    _, moderator_col = problem.moderator_index
    scattered = np.zeros((tasks.size, moderators.size))
    scattered[task_row, moderator_col] = problem.pairs.value
    return scattered


def _first_guess(value: FloatArray, slots: NDArray[np.int64]) -> IntArray | None:
    """The tasks with the best values, or None when there are too few tasks per slot for a restriction to pay."""
    total = int(slots.sum())
    n_tasks = value.shape[0]
    if n_tasks < RESTRICT_MIN_TASKS_PER_SLOT * total:
        return None
    size = min(n_tasks, math.ceil(GUESS_PER_SLOT * total) + GUESS_EXTRA)
    best: IntArray = np.sort(np.argpartition(-value.max(axis=1), size - 1)[:size]).astype(np.intp)
    return best


def _assign(value: FloatArray, slots: NDArray[np.int64]) -> tuple[IntArray, IntArray]:
    """The optimum on `value` (rows, moderator columns), each moderator's column repeated once per slot."""
    # scipy.optimize loads here, not with the module: it is half a second of every `queueopt` command's start
    # (the CLI, the crash-safe store's tools), and only a solve needs it.
    from scipy.optimize import linear_sum_assignment

    one_slot = bool((slots == 1).all())
    matrix = value if one_slot else np.repeat(value, slots, axis=1)
    row, col = linear_sum_assignment(matrix, maximize=True)
    useful = matrix[row, col] > 0
    owner = col if one_slot else np.repeat(np.arange(slots.size), slots)[col]
    return row[useful].astype(np.intp), owner[useful].astype(np.intp)


def _better_left_out(value: FloatArray, rows: IntArray, row: IntArray, column: IntArray) -> IntArray | None:
    """Left-out tasks that might improve the restricted optimum (`row` of `rows` matched to `column`): none proves it
    optimal; None when the prices do not settle within MAX_PASSES."""
    restricted = value[rows]
    n_moderators = value.shape[1]
    unmatched = np.ones(rows.size, dtype=np.bool_)
    unmatched[row] = False
    floor = restricted[unmatched].max(axis=0, initial=0.0)
    # gain[m, j]: the most a task of moderator m gives up by moving to j, as a price bound u_j >= gain[m, j] + u_m.
    gain = np.full((n_moderators, n_moderators), -np.inf)
    if row.size:
        order = np.argsort(column, kind="stable")
        owned = column[order]
        first = np.flatnonzero(np.diff(owned, prepend=-1))  # where each owner's run starts: `np.unique` would sort
        owners = owned[first]
        moves = restricted[row[order]] - restricted[row[order], column[order]][:, None]
        gain[owners] = np.maximum.reduceat(moves, first, axis=0)
    slack = PRICE_SLACK * float(value.max(initial=0.0))
    price = floor.copy()
    changed = np.arange(n_moderators)
    for _ in range(MAX_PASSES):
        # Only moderators whose price rose in the last pass can raise others. Every price set here is a lower bound
        # of the least prices, and a rise within `slack` is not propagated, so stopping early only makes the test
        # stricter.
        reach = (gain[changed] + price[changed, None]).max(axis=0)
        rises = np.flatnonzero(reach > price + slack)
        if rises.size == 0:
            break
        price[rises] = reach[rises]
        changed = rises
    else:
        return None
    # A cell beats both 0 and its price less the slack exactly when it beats the larger of the two; tested on the
    # whole matrix in one pass, the restricted rows then struck, rather than on a copy of the left-out rows.
    better = (value > np.maximum(price - slack, 0.0)).any(axis=1)
    better[rows] = False
    left_out: IntArray = np.flatnonzero(better)
    return left_out
