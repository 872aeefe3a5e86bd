"""Assignment core: the best batch matching of waiting tasks to moderators with free slots."""

from queueopt.assign.matching import Matching
from queueopt.assign.solve import solve

__all__ = ["Matching", "solve"]
