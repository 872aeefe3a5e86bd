"""Capability model: who may review what, how accurately and how fast, and how much severe content they can take."""

from queueopt.capability.model import Model
from queueopt.capability.profile import ModeratorProfile
from queueopt.capability.takers import Takers

__all__ = ["Model", "ModeratorProfile", "Takers"]
