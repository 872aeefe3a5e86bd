"""The enqueue layer: which queue an item goes to, how urgent it is, and the queues themselves."""

from queueopt.enqueue.priority import PriorityModel, PriorityTerms
from queueopt.enqueue.queues import QueueSet
from queueopt.enqueue.router import ASKED_NOTHING, Asked, DuplicateOf, Router, Routing
from queueopt.enqueue.rules import unreachable_rules

__all__ = [
    "ASKED_NOTHING",
    "Asked",
    "DuplicateOf",
    "PriorityModel",
    "PriorityTerms",
    "QueueSet",
    "Router",
    "Routing",
    "unreachable_rules",
]
