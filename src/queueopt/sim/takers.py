"""Which roster groups may take a routed item, by the engine's own eligibility rules.

A staffing plan sizes each queue with the handling time of the moderators who may review its items: a French
queue with the French team's speed, not the whole roster's. Who may take an item is what the engine would ask of a
reviewer (language, region, modality, policy area, clearance), so the capability model answers it, once per kind
of item. Requirements an escalation step relaxes count as relaxed only when no group qualifies before it: the
engine hands the item to a qualified group first and to others only after the step's wait.
"""

from __future__ import annotations

import math

from queueopt.capability import Model
from queueopt.domain import Item, Task
from queueopt.engine import review_task
from queueopt.enqueue.router import Routing
from queueopt.sim.roster import build_moderators
from queueopt.sim.scenario import Scenario


class GroupTakers:
    """`groups(item, routing)`: the indices of the scenario's roster groups that may review a routed item; for a
    severe item, not a group whose `severe_per_hour` is 0, which the engine never gives one (found by a probe: such
    a group, averaged in, made the severe floor infinite, and a severe queue only it could take was sized)."""

    def __init__(self, scenario: Scenario) -> None:
        one_each = [group.model_copy(update={"count": 1}) for group in scenario.roster]
        members = build_moderators(scenario.model_copy(update={"roster": one_each, "horizon_s": 1.0}), 0)
        self._model = Model(scenario.ops)
        for profile in members.profiles:
            self._model.upsert(profile)
        self._ids = members.ids
        self._sees_severe = [group.severe_per_hour != 0 for group in scenario.roster]
        self._known: dict[tuple[object, ...], tuple[int, ...]] = {}

    def groups(self, item: Item, routing: Routing) -> tuple[int, ...]:
        assert routing.queue is not None
        terms = routing.terms
        policy, severe = routing.policy, routing.severe
        key = (routing.queue, item.modality, item.language, item.region, policy, terms.clearance, terms.areas, severe)
        known = self._known.get(key)
        if known is None:
            task = review_task(item.id, item, routing, 0.0)
            known = self._qualified(task, 0.0) or self._qualified(task, math.inf)
            self._known[key] = known
        return known

    def _qualified(self, task: Task, now: float) -> tuple[int, ...]:
        return tuple(
            group
            for group, member in enumerate(self._ids)
            if self._model.qualified(task, member, now) and (self._sees_severe[group] or not task.severe)
        )
