"""Exact one-to-one assignment (scipy's Jonker-Volgenant), with each moderator expanded into one column per slot.

Ineligible cells are 0, not a large negative: the rectangular solver assigns every row or column of the smaller side,
and any feasible matching extends to such a full assignment with zero cells without changing its value, so the
optimum is the same and the zero cells it picks are simply dropped. This is fast on dense, mostly one-slot batches;
its memory grows with tasks x slots, so sparse or many-slot batches go to the flow model instead.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from queueopt.assign.problem import IntArray, Problem


def solve_hungarian(problem: Problem) -> tuple[IntArray, IntArray]:
    tasks, moderators = problem.active
    slots = np.minimum(problem.capacity[moderators], tasks.size)
    matrix = _slot_matrix(problem, tasks, moderators, slots)
    row, col = linear_sum_assignment(matrix, maximize=True)
    useful = matrix[row, col] > 0
    slot_owner = np.repeat(moderators, slots)
    return tasks[row[useful]], slot_owner[col[useful]]


def _slot_matrix(
    problem: Problem, tasks: IntArray, moderators: IntArray, slots: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Active tasks x slots; cut from the caller's dense matrix when there is one, else scattered from the pairs."""
    if problem.dense is not None:
        matrix = problem.dense
        if tasks.size < problem.n_tasks:
            matrix = matrix[tasks]
        if moderators.size < problem.n_moderators:
            matrix = matrix[:, moderators]
        return matrix if bool((slots == 1).all()) else np.repeat(matrix, slots, axis=1)
    pairs = problem.pairs
    _, task_row = problem.task_index
    _, moderator_col = problem.moderator_index
    first_slot = np.cumsum(slots) - slots
    per_pair = slots[moderator_col]
    pair = np.repeat(np.arange(pairs.task.size), per_pair)
    within = np.arange(pair.size) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    matrix = np.zeros((tasks.size, int(slots.sum())))
    matrix[task_row[pair], first_slot[moderator_col[pair]] + within] = pairs.value[pair]
    return matrix
