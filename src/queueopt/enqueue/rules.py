"""Routing rules compiled for the hot path, and the check that finds rules no item can ever reach.

A `Predicate` from the config is turned once into sets and tuples so matching an item is a handful of set
lookups and comparisons; the router runs it for every item a pipeline sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from queueopt.config import OpsConfig, Predicate, Range, RoutingRule
from queueopt.domain import AttributeValue, Item


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str
    queue: str
    reason: str
    """"rule 'name' -> queue 'queue'", the opening of every explanation of this rule, formatted once."""
    modality: frozenset[str] | None
    language: frozenset[str] | None
    region: frozenset[str] | None
    source: frozenset[str] | None
    min_signal: tuple[tuple[str, float], ...]
    max_signal: tuple[tuple[str, float], ...]
    min_duration: float | None
    max_duration: float | None
    min_reports: int | None
    attributes: tuple[tuple[str, AttributeValue], ...]

    @classmethod
    def of(cls, rule: RoutingRule) -> CompiledRule:
        when = rule.when
        duration = when.duration_s or Range()
        return cls(
            name=rule.name,
            queue=rule.queue,
            reason=f"rule {rule.name!r} -> queue {rule.queue!r}",
            modality=_set(when.modality),
            language=_set(when.language),
            region=_set(when.region),
            source=_set(when.source),
            min_signal=tuple((when.min_signal or {}).items()),
            max_signal=tuple((when.max_signal or {}).items()),
            min_duration=duration.min,
            max_duration=duration.max,
            min_reports=when.min_reports,
            attributes=tuple((when.attributes or {}).items()),
        )

    def matches(self, item: Item) -> bool:
        """Every condition present must hold; a missing signal counts as a score of 0."""
        if self.modality is not None and item.modality not in self.modality:
            return False
        return self.matches_beyond_modality(item)

    def matches_beyond_modality(self, item: Item) -> bool:
        """`matches` for a rule already known to accept the item's modality (the router indexes by it)."""
        if self.language is not None and item.language not in self.language:
            return False
        if self.region is not None and item.region not in self.region:
            return False
        if self.source is not None and item.source not in self.source:
            return False
        signals = item.signals
        for area, threshold in self.min_signal:
            if signals.get(area, 0.0) < threshold:
                return False
        for area, threshold in self.max_signal:
            if signals.get(area, 0.0) > threshold:
                return False
        if self.min_duration is not None and item.duration_s < self.min_duration:
            return False
        if self.max_duration is not None and item.duration_s > self.max_duration:
            return False
        if self.min_reports is not None and item.reports < self.min_reports:
            return False
        if self.attributes:
            attributes = item.attributes
            for name, value in self.attributes:
                if name not in attributes or attributes[name] != value:
                    return False
        return True


def _set(values: Sequence[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(str(value) for value in values)


def covers(wide: Predicate, narrow: Predicate) -> bool:
    """True when every item `narrow` matches is also matched by `wide` (a sound, conservative test)."""
    for name in ("modality", "language", "region", "source"):
        wide_values, narrow_values = getattr(wide, name), getattr(narrow, name)
        if wide_values is not None and (narrow_values is None or not set(narrow_values) <= set(wide_values)):
            return False
    for area, threshold in (wide.min_signal or {}).items():
        if (narrow.min_signal or {}).get(area, 0.0) < threshold:
            return False
    for area, threshold in (wide.max_signal or {}).items():
        if (narrow.max_signal or {}).get(area, 1.0) > threshold:
            return False
    wide_range, narrow_range = wide.duration_s or Range(), narrow.duration_s or Range()
    if wide_range.min is not None and (narrow_range.min or 0.0) < wide_range.min:
        return False
    if wide_range.max is not None and (narrow_range.max is None or narrow_range.max > wide_range.max):
        return False
    if wide.min_reports is not None and (narrow.min_reports or 0) < wide.min_reports:
        return False
    narrow_attributes = narrow.attributes or {}
    return all(narrow_attributes.get(name, _ABSENT) == value for name, value in (wide.attributes or {}).items())


_ABSENT = object()


def unreachable_rules(config: OpsConfig) -> list[str]:
    """One warning per rule shadowed by an earlier rule that catches everything it would."""
    warnings = []
    for index, rule in enumerate(config.rules):
        for earlier_index, earlier in enumerate(config.rules[:index]):
            if covers(earlier.when, rule.when):
                warnings.append(
                    f"rules.{index}: rule {rule.name!r} can never match: "
                    f"rule {earlier.name!r} (rules.{earlier_index}) already catches every item it would"
                )
                break
    return warnings
