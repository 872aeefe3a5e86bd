"""The result every method returns, built one way so objectives and ordering never differ between methods."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from queueopt.assign.problem import IntArray, Problem


@dataclass(frozen=True, slots=True)
class Matching:
    """Chosen (task, moderator) pairs sorted by task, the sum of their values, and the method that found them."""

    task: NDArray[np.intp]
    moderator: NDArray[np.intp]
    objective: float
    method: str

    def __len__(self) -> int:
        return int(self.task.size)


def empty_matching(method: str) -> Matching:
    return Matching(np.empty(0, np.intp), np.empty(0, np.intp), 0.0, method)


def matching_from_pairs(problem: Problem, task: IntArray, moderator: IntArray, method: str) -> Matching:
    """Sum the caller's original floats (not a solver's scaled integers) so objectives compare across methods; fsum
    makes the total independent of the order a solver reported its pairs in. Merged moderators' pairs are spread
    back over them, each keeping the value of the column it was merged into."""
    order = np.argsort(task, kind="stable")
    task, moderator = task[order].astype(np.intp), moderator[order].astype(np.intp)
    objective = math.fsum(problem.values_at(task, moderator).tolist())
    if problem.alike is not None:
        moderator = problem.alike.spread(task, moderator, problem.severe)
    return Matching(task, moderator, objective, method)
