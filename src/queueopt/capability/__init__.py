"""Capability model: who may review what, how accurately and how fast, and how much severe content they can take."""

from queueopt.capability.model import Lane, Model, Takers
from queueopt.capability.profile import ModeratorProfile

__all__ = ["Lane", "Model", "ModeratorProfile", "Takers"]
