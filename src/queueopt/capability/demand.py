"""What a task asks of a moderator at a given moment, and the skill bits that asks for.

Tasks are grouped by what they demand before any pair is scored (see `Model.value`): a batch of thousands of tasks
usually carries a few hundred distinct demands, so eligibility and the moderator-side factors of the value are
computed per demand and then broadcast to tasks.
"""

from __future__ import annotations

from queueopt.capability.skills import SkillBits
from queueopt.config import OpsConfig, QueueConfig, Requirements
from queueopt.domain import Modality

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

    def required_masks(
        self, queue: str, modality: Modality, language: str, region: str, policy: str | None, skills: SkillBits
    ) -> tuple[int, ...]:
        """The required skill bits as Python ints (split into uint64 words by the caller): before any escalation,
        then after each of the queue's steps.

        Built from per-dimension parts (a queue's languages plus the task's, a queue's areas plus the task's...),
        each looked up once per call and remembered until the vocabulary grows, then combined per step without the
        dimensions that step has relaxed; a batch of new demands costs a few dictionary lookups each.
        """
        if self._vocabulary != skills.size:
            self._parts, self._vocabulary = {}, skills.size
        codes = (
            ("language", language),
            ("modality", str(modality)),
            ("region", region),
            ("policy_areas", policy),
            ("clearance", None),
            ("area_clearance", policy),
        )
        parts = self._parts
        bits: dict[str, int] = {}
        for dimension, code in codes:
            key = (dimension, queue, code)
            part = parts.get(key)
            if part is None:
                part = parts[key] = _bits(self._part(dimension, queue, code), skills, dimension)
            bits[dimension] = part
        everything = 0
        for part in bits.values():
            everything |= part
        masks = [everything]
        for _, relaxed in self.escalation(queue):
            mask = 0
            for dimension, part in bits.items():
                if dimension not in relaxed:
                    mask |= part
            masks.append(mask)
        return tuple(masks)

    def clearance_bits(self, tiers: tuple[str, ...], skills: SkillBits) -> int:
        """The skill bits of clearance tiers a task needs beyond its queue's and its policy area's."""
        return _bits(list(tiers), skills, "clearance")

    def area_bits(self, areas: tuple[str, ...], skills: SkillBits) -> int:
        """The skill bits of policy-area certifications a task asks beyond its own area and its queue's."""
        return _bits(list(areas), skills, "policy_areas")

    def keeps_areas(self, queue: str) -> tuple[bool, ...]:
        """Per mask of `required_masks` (before any step, then after each), whether policy areas are still asked."""
        return (True, *("policy_areas" not in relaxed for _, relaxed in self.escalation(queue)))

    def _part(self, dimension: str, queue: str, code: str | None) -> list[str]:
        """The codes one dimension requires of a task in `queue` whose own code in that dimension is `code`."""
        requires = self._requires.get(queue, _NO_REQUIREMENTS)
        if dimension == "language":
            return [code, *requires.languages] if code is not None else list(requires.languages)
        if dimension == "policy_areas":
            return [*requires.policy_areas, *([code] if code is not None else [])]
        if dimension == "clearance":
            return list(requires.clearance)
        if dimension == "area_clearance":
            # A policy area's own tier is no dimension an escalation step can name: relaxing `clearance` widens who
            # may take a queue's other work, never who may see child-sexual-abuse material (found by a probe).
            area_tier = self._clearance.get(code) if code is not None else None
            return [area_tier] if area_tier is not None else []
        return [code] if code is not None else []


_SKILL_OF = {
    "language": "language",
    "modality": "modality",
    "region": "region",
    "policy_areas": "policy",
    "area_clearance": "clearance",
}


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
