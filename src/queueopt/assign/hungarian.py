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

from queueopt.assign.problem import Problem


def solve_hungarian(problem: Problem) -> NDArray[np.intp]:
    if problem.n_pairs == 0:
        return np.empty(0, np.intp)
    rows, task_row = np.unique(problem.task, return_inverse=True)
    moderators, moderator_col = np.unique(problem.moderator, return_inverse=True)
    slots = np.minimum(problem.capacity[moderators], rows.size)
    first_slot = np.concatenate(([0], np.cumsum(slots)[:-1]))
    per_pair = slots[moderator_col]
    pair = np.repeat(np.arange(problem.n_pairs), per_pair)
    within = np.arange(pair.size) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    matrix = np.zeros((rows.size, int(slots.sum())))
    matrix[task_row[pair], first_slot[moderator_col[pair]] + within] = problem.value[pair]
    row, col = linear_sum_assignment(matrix, maximize=True)
    useful = matrix[row, col] > 0
    slot_owner = np.repeat(np.arange(moderators.size), slots)
    chosen_task = rows[row[useful]]
    chosen_moderator = moderators[slot_owner[col[useful]]]
    key = problem.task * problem.n_moderators + problem.moderator
    chosen: NDArray[np.intp] = np.searchsorted(key, chosen_task * problem.n_moderators + chosen_moderator)
    return chosen.astype(np.intp)
