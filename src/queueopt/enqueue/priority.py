"""Harm-rate priority: how much harm per hour an item does while it waits, the `c` of the cμ rule.

Every term is monotone non-decreasing in views, signals, reports and severities, so raising any of them can
never push an item further back. Aging is linear in waiting time and stored as a rate, which keeps each
queue's order time-invariant (see `Task.key`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from queueopt.config import OpsConfig, QueueConfig
from queueopt.domain import Item, Source
from queueopt.enqueue.rules import Fields
from queueopt.errors import InvalidInput


class PriorityTerms(NamedTuple):
    """The parts of one item's priority, kept so a routing decision can be explained term by term.

    A named tuple holding references, not copies: one is made per item routed, and the per-area breakdown is
    only formatted when someone reads the explanation.
    """

    harm: float
    exposure: float
    priority: float
    policy: str | None
    severe: bool
    signals: Mapping[str, float]
    severities: Mapping[str, float]
    clearance: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()  # policy-area certifications asked beyond `policy` (an appeal's, see `Task.areas`)

    def describe(self) -> str:
        # %-formatting (UP031 waived): it formats a float in C, about a third faster here than an f-string spec.
        severities = self.severities
        parts = " + ".join(["%s %.3g" % (area, severities[area] * score) for area, score in self.signals.items()])  # noqa: UP031
        # Where a floor stood in (the base harm of an item scored low, the priority floor of one nobody sees), the
        # explanation says so: the product of the terms shown would not be the priority (found by a probe).
        floored = " (floor)" if self.priority > self.harm * self.exposure else ""
        return "harm %.3g (%s%s) x exposure %.3g/h = %.4g%s" % (  # noqa: UP031
            self.harm,
            parts or "no signals",
            "; base harm" if self.harm > sum(severities[area] * score for area, score in self.signals.items()) else "",
            self.exposure,
            self.priority,
            floored,
        )


class PriorityModel:
    """Computes `PriorityTerms` for items and aging rates for queues from one config's weights."""

    __slots__ = (
        "_base_harm",
        "_clearance_of",
        "_deadline",
        "_floor",
        "_per_report",
        "_sensitive_at",
        "_severe",
        "_severities",
        "_source",
        "_views",
    )

    def __init__(self, config: OpsConfig) -> None:
        weights = config.priority
        self._severities = {area.name: area.severity for area in config.policy_areas}
        # Areas a moderator must be protected from: severe ones (the wellbeing budget) and cleared ones.
        self._sensitive_at = {
            area.name: area.severe_at for area in config.policy_areas if area.severe or area.clearance
        }
        self._severe = frozenset(area.name for area in config.policy_areas if area.severe)
        self._clearance_of = {area.name: area.clearance for area in config.policy_areas if area.clearance}
        self._views = weights.views
        self._per_report = weights.per_report
        self._source = {source: weights.source.get(source, 0.0) for source in Source}
        self._base_harm = weights.base_harm
        self._deadline = weights.deadline
        self._floor = weights.floor

    def terms(self, item: Item) -> PriorityTerms:
        """Harm rate of `item`. Its primary policy is the area with the largest expected severity, except that an
        item reaching the `severe_at` of a severe or cleared area takes the largest such area: the task must
        need that area's clearance even when a milder area scores higher. It is severe when any severe area's
        score reaches its `severe_at`, whichever area is primary."""
        return self.terms_of(item.__dict__)

    def terms_of(self, fields: Fields) -> PriorityTerms:
        """`terms` of the item whose field values are `fields` (its `__dict__`), for the router's hot path."""
        severities = self._severities
        sensitive_at = self._sensitive_at
        harm = 0.0
        policy: str | None = None
        sensitive: str | None = None
        top = 0.0  # a zero score is no evidence of its area: it never makes the area primary
        sensitive_top = -1.0
        severe = False
        cleared: list[str] | None = None  # cleared areas past their threshold; None for nearly every item
        signals = fields["signals"]
        for area, score in signals.items():
            severity = severities.get(area)
            if severity is None:
                raise InvalidInput(f"unknown policy area {area!r}", field=f"signals.{area}")
            weighted = severity * score
            harm += weighted
            if weighted > top or (weighted == top and policy is not None and self._outranks(area, policy)):
                top = weighted
                policy = area
            threshold = sensitive_at.get(area)
            if threshold is not None and score >= threshold:
                severe = severe or area in self._severe
                if area in self._clearance_of:
                    cleared = [area] if cleared is None else [*cleared, area]
                if weighted > sensitive_top or (
                    weighted == sensitive_top and sensitive is not None and self._outranks(area, sensitive)
                ):
                    sensitive_top = weighted
                    sensitive = area
        if sensitive is not None:
            policy = sensitive
        clearance: tuple[str, ...] = ()
        if cleared is not None:  # the primary area may be a severe one without clearance, or another cleared one
            own = self._clearance_of.get(policy or "")
            clearance = tuple(sorted({self._clearance_of[area] for area in cleared} - {own}))
        if harm < self._base_harm:
            harm = self._base_harm
        exposure = (
            self._views * fields["views_per_hour"]
            + self._per_report * fields["reports"]
            + self._source[fields["source"]]
        )
        priority = harm * exposure
        if priority < self._floor:
            priority = self._floor
        return PriorityTerms(harm, exposure, priority, policy, severe, signals, severities, clearance)

    def _outranks(self, area: str, other: str) -> bool:
        """Between two areas of equal weighted score, the one whose review protects more: a cleared area, then a
        severe one, then the first by name. Without it the primary area (and with it the clearance the task asks)
        followed the order the pipeline wrote the signals in (found by a probe: child_safety first asked csam,
        spam first asked nothing)."""
        mine, theirs = self._protection(area), self._protection(other)
        return mine > theirs or (mine == theirs and area < other)

    def _protection(self, area: str) -> tuple[bool, bool]:
        return area in self._clearance_of, area in self._severe

    def aging_rate(self, queue: QueueConfig) -> float:
        """Priority gained per second of waiting: the queue's own rate plus the deadline term.

        One rate per queue: tasks aging at different rates would overtake each other and break the static key.
        """
        return queue.aging_rate + self._deadline / queue.sla_s
