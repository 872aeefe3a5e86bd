"""The operations config: policy areas, queues, routing rules, auto-actions and priority weights.

Strategists change these often, so they are data (one TOML file) validated with errors that name the field.
Cross-references (a rule naming a queue, a threshold naming a policy area) are checked here, once, so the
router and the engine can trust the config without re-checking on the hot path.
"""

from __future__ import annotations

import codecs
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from queueopt.domain import (
    MAX_CLEARANCE_TIERS,
    MAX_DURATION_S,
    MAX_POLICY_AREAS,
    MAX_REPORTS,
    AttributeName,
    AttributeValue,
    Code,
    Modality,
    Score,
    Source,
    Verdict,
    validation_reason,
)

# Numbers and flags are strict, as a scenario's are: `sla_s = "60"` or `severe = "yes"` is a mistake in the file,
# not a value to convert (an integer is still a valid float).
PositiveFloat = Annotated[float, Field(strict=True, gt=0.0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(strict=True, ge=0.0, allow_inf_nan=False)]
StrictScore = Annotated[Score, Field(strict=True)]

MAX_EXTEND_S = 4 * 3600.0
"""The most one extension asks for, how far past its own length (`Engine._lease_length`, counted from when it was
leased) extensions may take a lease in all, and the longest `lease_s`: a held task must come back some time."""

MAX_WEIGHT = 1e6
"""The largest severity, priority weight or aging rate. With at most 64 signals and an item's views and reports
capped (domain.py), harm stays below 64 * MAX_WEIGHT and exposure below MAX_WEIGHT * (MAX_VIEWS_PER_HOUR +
MAX_REPORTS + 1), so a priority stays below about 1e26 and every sum the engine and the matching make of them is
finite: an unbounded weight (`views = 1e308`) made priorities infinite, which the matching refuses and JSON cannot
carry. A million is far past any ranking a strategist means (examples/ops.toml's largest weight is 500)."""
MIN_SLA_S = 1.0
MAX_SLA_S = 30 * 86400.0
"""An SLA is seconds to days: the deadline term `deadline / sla_s` overflowed at `sla_s = 1e-308`, and an SLA
beyond a month is a typo in units (the example's longest, appeals, is a day)."""
Weight = Annotated[float, Field(strict=True, ge=0.0, le=MAX_WEIGHT, allow_inf_nan=False)]
PositiveWeight = Annotated[float, Field(strict=True, gt=0.0, le=MAX_WEIGHT, allow_inf_nan=False)]
SlaSeconds = Annotated[float, Field(strict=True, ge=MIN_SLA_S, le=MAX_SLA_S, allow_inf_nan=False)]
Relaxable = Literal["language", "region", "policy_areas", "clearance", "modality"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyArea(_Strict):
    """A harm category. Items of a `severe` area whose score reaches `severe_at` count against a moderator's
    wellbeing budget (a faint signal is not graphic content, and counting it would starve the budget);
    `clearance` names the clearance tier a moderator must hold to see them at all (for example child safety)."""

    name: Code
    severity: PositiveWeight
    severe: Annotated[bool, Field(strict=True)] = False
    severe_at: StrictScore = 0.5
    clearance: Code | None = None
    # Enforcement actions of this area alone (`report_ncmec` of child safety): a decision carrying one is a decision
    # under the area, and needs what one naming it needs (found by a probe: a spam-only moderator's decision with
    # `report_ncmec` and no policy was recorded, and every re-upload inherited the report).
    actions: list[Code] = Field(default_factory=list)


class EscalationStep(_Strict):
    """After a task waited `after_s`, drop the listed requirements so a wider pool may take it."""

    after_s: PositiveFloat
    relax: list[Relaxable] = Field(min_length=1)


class Requirements(_Strict):
    """Skills a queue adds on top of those the item implies (its language, modality and region)."""

    policy_areas: list[Code] = Field(default_factory=list)
    clearance: list[Code] = Field(default_factory=list)
    languages: list[Code] = Field(default_factory=list)


class QueueConfig(_Strict):
    name: Code
    sla_s: SlaSeconds
    sla_target: Annotated[float, Field(strict=True, gt=0.0, le=1.0, allow_inf_nan=False)] = 0.95
    aging_rate: Weight = 0.0
    top_k: Annotated[int, Field(strict=True, ge=1, le=100_000)] = 200
    requires: Requirements = Field(default_factory=Requirements)
    escalation: list[EscalationStep] = Field(default_factory=list)
    allowed_verdicts: list[Verdict] = Field(default_factory=lambda: list(Verdict), min_length=1)
    allowed_actions: list[Code] | None = None
    qa_sample_rate: Annotated[float, Field(strict=True, ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0

    @model_validator(mode="after")
    def _escalation_in_order(self) -> Self:
        waits = [step.after_s for step in self.escalation]
        if waits != sorted(waits) or len(set(waits)) != len(waits):
            raise ValueError("escalation steps must have strictly increasing after_s")
        return self


class Range(_Strict):
    min: NonNegativeFloat | None = None
    max: NonNegativeFloat | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


OneOrMore = Field(min_length=1)
"""A condition's list of accepted values: an empty one would match nothing (leave the condition out to match all)."""


class Predicate(_Strict):
    """Every condition present must hold; an absent condition matches everything. A condition no item can meet
    is refused, not left to make its rule dead (found by a probe: check-config passed them without a word)."""

    modality: Annotated[list[Modality], OneOrMore] | None = None
    language: Annotated[list[Code], OneOrMore] | None = None
    region: Annotated[list[Code], OneOrMore] | None = None
    source: Annotated[list[Source], OneOrMore] | None = None
    min_signal: dict[Code, StrictScore] | None = None
    max_signal: dict[Code, StrictScore] | None = None
    duration_s: Range | None = None
    min_reports: Annotated[int, Field(strict=True, ge=0)] | None = None
    attributes: dict[AttributeName, AttributeValue] | None = None

    @model_validator(mode="after")
    def _satisfiable(self) -> Self:
        for area, low in (self.min_signal or {}).items():
            high = (self.max_signal or {}).get(area)
            if high is not None and low > high:
                raise ValueError(f"min_signal {area} = {low:g} exceeds max_signal {area} = {high:g}: nothing matches")
        # Beyond what an item may carry (`domain.Item`), so nothing would match (found by a probe).
        if self.duration_s is not None and self.duration_s.min is not None and self.duration_s.min > MAX_DURATION_S:
            raise ValueError(f"duration_s.min {self.duration_s.min:g} exceeds any item's ({MAX_DURATION_S:g} s)")
        if self.min_reports is not None and self.min_reports > MAX_REPORTS:
            raise ValueError(f"min_reports {self.min_reports} exceeds any item's ({MAX_REPORTS})")
        return self


class RoutingRule(_Strict):
    name: Code
    queue: Code
    when: Predicate = Field(default_factory=Predicate)


class AutoActions(_Strict):
    """Thresholds per policy area: a score at or above `remove_at` removes without review; when every
    signal is at or below its `approve_at` (and the item has no reports) it is approved without review."""

    remove_at: dict[Code, StrictScore] = Field(default_factory=dict)
    approve_at: dict[Code, StrictScore] = Field(default_factory=dict)


class PriorityWeights(_Strict):
    """Terms of the harm rate `c_i = harm * exposure` (docs/configuration.md has the formula).

    `harm` is the expected severity, `sum(severity * signal)`, never below `base_harm` so an item without
    classifier signals (a bare user report) still ranks by its exposure. `exposure` counts views per hour, reports
    and a per-source bonus, all in views-per-hour equivalents. `deadline` is the priority a task gains by waiting
    one full SLA of its queue, on top of the queue's own `aging_rate`; both are per queue, never per task, so a
    queue's order stays time-invariant.
    """

    views: Weight = 1.0
    per_report: Weight = 10.0
    source: dict[Source, Weight] = Field(default_factory=dict)
    base_harm: PositiveWeight = 0.05
    deadline: Weight = 10.0
    floor: PositiveWeight = 1e-3


class OpsConfig(_Strict):
    policy_areas: list[PolicyArea] = Field(min_length=1, max_length=MAX_POLICY_AREAS)
    queues: list[QueueConfig] = Field(min_length=1)
    rules: list[RoutingRule] = Field(min_length=1)
    auto_actions: AutoActions = Field(default_factory=AutoActions)
    priority: PriorityWeights = Field(default_factory=PriorityWeights)
    lease_s: Annotated[float, Field(strict=True, gt=0.0, le=MAX_EXTEND_S, allow_inf_nan=False)] = 600.0

    @model_validator(mode="after")
    def _references_exist(self) -> Self:
        """Every name used is defined once; all such problems are reported together, not one per run."""
        areas = {area.name for area in self.policy_areas}
        queues = {queue.name for queue in self.queues}
        problems = [
            *_duplicates("policy_areas", [area.name for area in self.policy_areas]),
            *_duplicates("queues", [queue.name for queue in self.queues]),
            *_duplicates("rules", [rule.name for rule in self.rules]),
        ]
        if self.rules[-1].when != Predicate():
            problems.append(
                (f"rules.{len(self.rules) - 1}.when", "the last rule must match every item (no conditions)")
            )
        for index, rule in enumerate(self.rules):
            if rule.queue not in queues:
                problems.append((f"rules.{index}.queue", f"unknown queue {rule.queue!r}"))
            for kind in ("min_signal", "max_signal"):
                problems += [
                    (f"rules.{index}.when.{kind}.{area}", f"unknown policy area {area!r}")
                    for area in getattr(rule.when, kind) or {}
                    if area not in areas
                ]
        owners: dict[str, str] = {}
        for index, area in enumerate(self.policy_areas):
            for position, action in enumerate(area.actions):
                if owners.setdefault(action, area.name) != area.name:
                    problems.append(
                        (f"policy_areas.{index}.actions.{position}", f"{action!r} is an action of {owners[action]!r}")
                    )
        for index, queue in enumerate(self.queues):
            problems += [
                (f"queues.{index}.requires.policy_areas", f"unknown policy area {area!r}")
                for area in queue.requires.policy_areas
                if area not in areas
            ]
        for kind in ("remove_at", "approve_at"):
            problems += [
                (f"auto_actions.{kind}.{area}", f"unknown policy area {area!r}")
                for area in getattr(self.auto_actions, kind)
                if area not in areas
            ]
        if len(self.clearance_tiers) > MAX_CLEARANCE_TIERS:
            problems.append(
                (
                    "(root)",
                    f"{len(self.clearance_tiers)} clearance tiers; a moderator's profile holds at most "
                    f"{MAX_CLEARANCE_TIERS}",
                )
            )
        if problems:
            raise _ReferenceError(problems)
        return self

    @cached_property
    def queues_by_name(self) -> dict[str, QueueConfig]:
        return {queue.name: queue for queue in self.queues}

    @cached_property
    def areas_by_name(self) -> dict[str, PolicyArea]:
        return {area.name: area for area in self.policy_areas}

    @cached_property
    def area_of_action(self) -> dict[str, str]:
        """The policy area each area's own enforcement action (`PolicyArea.actions`) belongs to."""
        return {action: area.name for area in self.policy_areas for action in area.actions}

    def relaxed_by_queue(self) -> dict[str, frozenset[str]]:
        """Per queue, every dimension one of its escalation steps relaxes: what its tasks ask in the end. Made anew
        on each call, not cached: a copy of the config with other queues (`model_copy`) would carry the cache."""
        return {
            queue.name: frozenset(dimension for step in queue.escalation for dimension in step.relax)
            for queue in self.queues
        }

    @cached_property
    def clearance_tiers(self) -> frozenset[str]:
        """Every tier the config names, on a policy area or a queue: a profile may hold only these."""
        tiers = {area.clearance for area in self.policy_areas if area.clearance is not None}
        return frozenset(tiers.union(tier for queue in self.queues for tier in queue.requires.clearance))


class ConfigError(Exception):
    """A config file that cannot be used; `problems` holds one `field.path: reason` line per mistake."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


class _ReferenceError(ValueError):
    """Names that do not resolve, each as `(field path, reason)`: reported as lines of their own."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {reason}" for path, reason in problems))


def _duplicates(section: str, names: list[str]) -> list[tuple[str, str]]:
    seen: set[str] = set()
    found = []
    for index, name in enumerate(names):
        if name in seen:
            found.append((f"{section}.{index}.name", f"duplicate name {name!r}"))
        seen.add(name)
    return found


def format_validation_error(error: ValidationError) -> list[str]:
    """One `field.path: reason` line per pydantic error, the format the CLI and the HTTP layer share."""
    lines = []
    for detail in error.errors():
        path = ".".join(str(part) for part in detail["loc"]) or "(root)"
        context = detail.get("ctx", {}).get("error")
        if isinstance(context, _ReferenceError):
            # Paths inside the config, under the config's own place when it is part of something larger.
            inside = "" if path == "(root)" else f"{path}."
            lines += [f"{inside}{where}: {reason}" for where, reason in context.problems]
        else:
            lines.append(f"{path}: {validation_reason(detail)}")
    return lines


def parse_config(data: object, source: str = "<config>") -> OpsConfig:
    try:
        return OpsConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(source, format_validation_error(error)) from None


def read_text(path: str | Path) -> str:
    """Read a file the operator named (config, scenario, roster, tokens, items); an unreadable one, or one that is
    not UTF-8, is a `ConfigError` naming it."""
    try:
        return decoded(Path(path).read_bytes(), str(path))
    except OSError as error:
        raise ConfigError(str(path), [f"(file): {error.strerror or error}"]) from None


def decoded(data: bytes, source: str) -> str:
    """UTF-8, with or without the byte-order mark some editors put first."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:  # its offset counts from after the mark, the byte named from the file's start
        at = bom + error.start
        raise ConfigError(source, [f"(file): not UTF-8 text (byte {at} is {data[at]:#04x})"]) from None


def read_toml(path: str | Path) -> dict[str, object]:
    """Read a TOML file; an unreadable or malformed file is a `ConfigError` naming it (ops configs, scenarios)."""
    text = read_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), [f"(toml): {error}"]) from None
    except RecursionError:  # tomllib reads nested arrays and tables recursively (found by a probe: a traceback)
        raise ConfigError(str(path), ["(toml): arrays or tables nested too deeply"]) from None


def load_config(path: str | Path) -> OpsConfig:
    """Read and validate a TOML ops config; every failure is a `ConfigError` naming the file."""
    return parse_config(read_toml(path), str(path))
