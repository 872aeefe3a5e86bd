"""Routing rules compiled for the hot path, and the check that finds rules no item can ever reach.

A `Predicate` from the config is turned once into sets and tuples, and a router's rules for one modality into
one generated function, so matching an item is a handful of set lookups and comparisons on locals; the router
runs it for every item a pipeline sends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from queueopt.config import OpsConfig, Predicate, Range, RoutingRule
from queueopt.domain import AttributeValue, Modality, Source


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


Fields = Mapping[str, Any]
"""An item's field values by name: a pydantic model's `__dict__`, read by subscript at a fraction of the cost of
an attribute."""

RuleChain = Callable[[Fields], CompiledRule]


def compile_chain(rules: Sequence[CompiledRule]) -> RuleChain:
    """The first of `rules` that an item matches, as one generated function of the item's fields.

    Every condition present must hold; a missing signal counts as a score of 0, a missing attribute never
    matches. The router checks a dozen rules per item, and one function of plain comparisons on locals costs
    a fraction of a method call per rule reading the item's attributes. The generated source names only the
    fields and the constants it was handed (never a value from the config), and every comparison is written
    as the negation of the one that rejects, so a value compares exactly as the condition in words says.
    Without a rule that matches everything (the loaded config always ends with one) it raises AssertionError.
    """
    constants: dict[str, object] = {}

    def constant(value: object) -> str:
        name = f"c{len(constants)}"
        constants[name] = value
        return name

    body: list[str] = []
    used: set[str] = set()
    conditions: list[str] = []

    def holds(field: str, condition: str) -> None:
        used.add(field)
        conditions.append(condition)

    for rule in rules:
        conditions.clear()
        for field, values in (("language", rule.language), ("region", rule.region), ("source", rule.source)):
            if values is not None:
                holds(field, f"{field} in {constant(values)}")
        for area, threshold in rule.min_signal:
            holds("signals", f"not signals.get({constant(area)}, 0.0) < {constant(threshold)}")
        for area, threshold in rule.max_signal:
            holds("signals", f"not signals.get({constant(area)}, 0.0) > {constant(threshold)}")
        if rule.min_duration is not None:
            holds("duration_s", f"not duration_s < {constant(rule.min_duration)}")
        if rule.max_duration is not None:
            holds("duration_s", f"not duration_s > {constant(rule.max_duration)}")
        if rule.min_reports is not None:
            holds("reports", f"not reports < {constant(rule.min_reports)}")
        for name, value in rule.attributes:
            key = constant(name)
            if isinstance(value, bool):  # True and False are singletons, and `is` tells them from 1 and 0
                holds("attributes", f"{key} in attributes and attributes[{key}] is {constant(value)}")
            elif isinstance(value, int | float):
                same = f"not attributes[{key}] != {constant(value)}"
                boolean = f"attributes[{key}].__class__ is {constant(bool)}"
                holds("attributes", f"{key} in attributes and {same} and not {boolean}")
            else:
                holds("attributes", f"{key} in attributes and not attributes[{key}] != {constant(value)}")
        if not conditions:
            body.append(f"    return {constant(rule)}")
            break
        body.append(f"    if {' and '.join(conditions)}:\n        return {constant(rule)}")
    else:
        body.append('    raise AssertionError("ops config without a catch-all rule")')
    reads = [f"    {field} = fields[{field!r}]" for field in sorted(used)]
    source = "\n".join(["def first_match(fields):", *reads, *body])
    namespace: dict[str, Any] = dict(constants)
    exec(compile(source, "<queueopt routing rules>", "exec"), namespace)  # noqa: S102 - source built above
    chain: RuleChain = namespace["first_match"]
    return chain


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
    return all(
        name in narrow_attributes and same_attribute(narrow_attributes[name], value)
        for name, value in (wide.attributes or {}).items()
    )


def same_attribute(value: AttributeValue, expected: AttributeValue) -> bool:
    """An attribute condition's equality: as Python's, except that a boolean equals only a boolean (found by a
    probe: `verified = true` matched items sending `"verified": 1`)."""
    return value == expected and isinstance(value, bool) == isinstance(expected, bool)


def unreachable_rules(config: OpsConfig) -> list[str]:
    """One warning per rule earlier rules catch every item of: one earlier rule alone, or several together, each
    catching every item of one modality and source the rule could match (a probe found a rule behind one rule per
    modality passed without a word). Both tests are sound, never calling a live rule dead; several rules splitting
    an open list (languages, say) between them are not seen. The last rule is the catch-all the config requires, so
    it is not said to be dead when earlier rules leave it nothing: it stays as the safety net."""
    rules = config.rules
    warnings = []
    for index, rule in enumerate(rules):
        earlier = rules[:index]
        alone = _first_covering(earlier, rule.when)
        if alone is not None:
            warnings.append(
                f"rules.{index}: rule {rule.name!r} can never match: "
                f"rule {earlier[alone].name!r} (rules.{alone}) already catches every item it would"
            )
            continue
        together = _covering_per_cell(earlier, rule.when) if index < len(rules) - 1 else None
        if together is not None:
            names = ", ".join(f"{earlier[position].name!r} (rules.{position})" for position in together)
            warnings.append(
                f"rules.{index}: rule {rule.name!r} can never match: rules {names} between them already catch "
                "every item it would (each modality and source by one of them)"
            )
    return warnings


def _covering_per_cell(earlier: Sequence[RoutingRule], when: Predicate) -> list[int] | None:
    """The earlier rules that between them catch every item `when` matches, found by splitting it into one
    predicate per modality and source (closed lists, so the split is exact) and finding, for each, one earlier rule
    that covers it; None when a part is caught by no one rule."""
    found: set[int] = set()
    for modality in when.modality or list(Modality):
        for source in when.source or list(Source):
            position = _first_covering(earlier, when.model_copy(update={"modality": [modality], "source": [source]}))
            if position is None:
                return None
            found.add(position)
    return sorted(found)


def _first_covering(earlier: Sequence[RoutingRule], when: Predicate) -> int | None:
    """The position of the first earlier rule that catches every item `when` matches, or None."""
    return next((position for position, other in enumerate(earlier) if covers(other.when, when)), None)
