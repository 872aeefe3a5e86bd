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
        self._parts: dict[tuple[str, str, str | None], int] = {}
        self._vocabulary = 0

    def escalation(self, queue: str) -> list[tuple[float, frozenset[str]]]:
        """The queue's steps as (wait, everything relaxed by then), in order."""
        return self._steps.get(queue, [])

    def required_mask(self, demand: Demand, skills: SkillBits) -> int:
        """The required skill bits as one Python int, split into uint64 words by the caller.

        Built from per-dimension parts (a queue's languages plus the task's, a queue's areas plus the task's...),
        each remembered until the vocabulary grows, so a batch of new demands costs a few dictionary lookups each.
        """
        if self._vocabulary != skills.size:
            self._parts, self._vocabulary = {}, skills.size
        codes = {
            "language": demand.language,
            "modality": demand.modality.value,
            "region": demand.region,
            "policy_areas": demand.policy,
            "clearance": demand.policy,
        }
        mask = 0
        for dimension, code in codes.items():
            if dimension in demand.relaxed:
                continue
            key = (dimension, demand.queue, code)
            part = self._parts.get(key)
            if part is None:
                part = self._parts[key] = _bits(self._part(dimension, demand.queue, code), skills, dimension)
            mask |= part
        return mask

    def _part(self, dimension: str, queue: str, code: str | None) -> list[str]:
        """The codes one dimension requires of a task in `queue` whose own code in that dimension is `code`."""
        requires = self._requires.get(queue, _NO_REQUIREMENTS)
        if dimension == "language":
            return [code, *requires.languages] if code is not None else list(requires.languages)
        if dimension == "policy_areas":
            return [*requires.policy_areas, *([code] if code is not None else [])]
        if dimension == "clearance":
            area_tier = self._clearance.get(code) if code is not None else None
            return [*requires.clearance, *([area_tier] if area_tier is not None else [])]
        return [code] if code is not None else []


_SKILL_OF = {"language": "language", "modality": "modality", "region": "region", "policy_areas": "policy"}


def _bits(codes: list[str], skills: SkillBits, dimension: str) -> int:
    kind = _SKILL_OF.get(dimension, dimension)
    mask = 0
    for code in codes:
        mask |= 1 << skills.bit(kind, code)
    return mask


def _cumulative(queue: QueueConfig) -> list[tuple[float, frozenset[str]]]:
    steps = []
    dropped: frozenset[str] = _NOTHING
    for step in queue.escalation:
        dropped = dropped | frozenset(step.relax)
        steps.append((step.after_s, dropped))
    return steps
