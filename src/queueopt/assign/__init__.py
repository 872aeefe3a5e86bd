"""Assignment core: the best batch matching of waiting tasks to moderators with free slots."""

from queueopt.assign.matching import Matching
from queueopt.assign.solve import load_solvers, solve

__all__ = ["Matching", "load_solvers", "solve"]
