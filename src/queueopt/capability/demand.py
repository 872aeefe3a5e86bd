"""What a task asks of a moderator at a given moment, and the skill bits that asks for.

Tasks are grouped by `Demand` before any pair is scored: a batch of thousands of tasks usually carries a few hundred
distinct demands, so eligibility and the moderator-side factors of the value are computed per demand and then
broadcast to tasks.
"""

from __future__ import annotations

from typing import NamedTuple

from queueopt.capability.skills import SkillBits
from queueopt.config import OpsConfig, QueueConfig, Requirements
from queueopt.domain import Modality


class Demand(NamedTuple):
    queue: str
    relaxed: frozenset[str]
    modality: Modality
    language: str
    region: str
    policy: str | None
    severe: bool


_NOTHING: frozenset[str] = frozenset()
_NO_REQUIREMENTS = Requirements()


class DemandRules:
    """The queue-side rules from the ops config: extra requirements, escalation relaxations, area clearances.

    A task in a queue the config does not know gets no extra requirements and no relaxation.
    """

    def __init__(self, config: OpsConfig) -> None:
        self._requires: dict[str, Requirements] = {q.name: q.requires for q in config.queues}
        self._steps: dict[str, list[tuple[float, frozenset[str]]]] = {q.name: _cumulative(q) for q in config.queues}
        self._clearance: dict[str, str | None] = {a.name: a.clearance for a in config.policy_areas}

    def relaxed(self, queue: str, waited_s: float) -> frozenset[str]:
        """Requirement dimensions dropped for a task of `queue` that has waited `waited_s` (cumulative over steps)."""
        dropped = _NOTHING
        for after_s, relax in self._steps.get(queue, ()):
            if waited_s < after_s:
                break
            dropped = relax
        return dropped

    def required_mask(self, demand: Demand, skills: SkillBits) -> int:
        """The required skill bits as one Python int: cheap to build, split into uint64 words by `skills.words`."""
        requires = self._requires.get(demand.queue, _NO_REQUIREMENTS)
        relaxed = demand.relaxed
        bits: list[int] = []
        if "language" not in relaxed:
            bits += [skills.bit("language", code) for code in (demand.language, *requires.languages)]
        if "modality" not in relaxed:
            bits.append(skills.bit("modality", demand.modality.value))
        if "region" not in relaxed:
            bits.append(skills.bit("region", demand.region))
        if "policy_areas" not in relaxed:
            areas = list(requires.policy_areas)
            if demand.policy is not None:
                areas.append(demand.policy)
            bits += [skills.bit("policy", code) for code in areas]
        if "clearance" not in relaxed:
            tiers = list(requires.clearance)
            area_tier = self._clearance.get(demand.policy) if demand.policy is not None else None
            if area_tier is not None:
                tiers.append(area_tier)
            bits += [skills.bit("clearance", code) for code in tiers]
        mask = 0
        for bit in bits:
            mask |= 1 << bit
        return mask


def _cumulative(queue: QueueConfig) -> list[tuple[float, frozenset[str]]]:
    steps = []
    dropped: frozenset[str] = _NOTHING
    for step in queue.escalation:
        dropped = dropped | frozenset(step.relax)
        steps.append((step.after_s, dropped))
    return steps
