"""The result every method returns, built one way so objectives and ordering never differ between methods."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from queueopt.assign.problem import Problem


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


def matching_from_pairs(problem: Problem, chosen: NDArray[np.intp], method: str) -> Matching:
    """`chosen` indexes the problem's pairs; summing the original floats (not a solver's scaled integers) keeps the
    objective comparable across methods, and fsum keeps it independent of the order the solver reported pairs in."""
    chosen = np.sort(chosen)
    return Matching(
        task=problem.task[chosen],
        moderator=problem.moderator[chosen],
        objective=math.fsum(problem.value[chosen].tolist()),
        method=method,
    )
