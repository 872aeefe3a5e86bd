"""The scenario file: what arrives, who reviews it, under which ops config and strategy, for how long.

A scenario is data a strategist edits and compares, so like the ops config it is one TOML file validated with
errors that name the field (`file: arrivals.0.rate_per_hour: ...`). Checks that need the ops config (a signal or a
skill naming a policy area) run here too, so the simulator can trust every name. docs/simulation.md is the reference.

Rates are per hour in the file because that is how operations plan; `rates_per_s` converts for the event loop.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from queueopt.capability.profile import (
    Capacity,
    Clearance,
    CooldownS,
    Modalities,
    PolicyAreas,
    Proficiency,
    Regions,
    SeverePerHour,
    clearance_tiers,
    unknown_skills,
)
from queueopt.config import ConfigError, OpsConfig, format_validation_error, load_config, read_toml
from queueopt.domain import (
    MAX_DURATION_S,
    MAX_REPORTS,
    MAX_VIEWS_PER_HOUR,
    AttributeValue,
    Code,
    Modality,
    Source,
    Verdict,
)

# Numbers are strict: TOML has types, and `seed = true`, `count = "5"` or `replications = 2.0` is a mistake to
# report, not a value to convert.
PositiveFloat = Annotated[float, Field(strict=True, gt=0.0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(strict=True, ge=0.0, allow_inf_nan=False)]
Probability = Annotated[float, Field(strict=True, ge=0.0, le=1.0, allow_inf_nan=False)]
Weight = Annotated[float, Field(strict=True, gt=0.0, allow_inf_nan=False)]
Sigma = Annotated[float, Field(strict=True, ge=0.0, le=5.0, allow_inf_nan=False)]
"""A lognormal's sigma: at 5 its draws already span 10^±11 times the median; more is a typo, and overflows."""
MAX_HOURLY_COST = 1e9
"""Far above any hourly wage in any currency; a cost near the largest float overflowed the cost KPI to infinity."""
Seconds = Annotated[float, Field(strict=True, gt=0.0, le=MAX_DURATION_S, allow_inf_nan=False)]
"""A handling time's median or mean: up to a week, the longest item there is."""
HOURS = 24
MAX_HORIZON_S = 366 * 86400.0
MAX_EXPECTED_ITEMS = 20_000_000
MAX_EXPECTED_STATUS_CHANGES = 20_000_000
"""Every moderator's shifts and breaks over the horizon are drawn up front, as the items are: the same bound."""
MAX_REPLICATIONS = 100_000
"""A scenario's `replications` and the command line's `-n` alike: more is a typo, not a study."""
Strategy = Literal["fifo", "priority", "optimal", "config"]


class Strict(BaseModel):
    """Every scenario section: a key the model does not have is a typo to report, and a loaded scenario is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LogNormal(Strict):
    """Parameterised by its median because "half of videos take under 90 s" is what people know."""

    median: PositiveFloat
    sigma: Sigma = 0.0

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2.0)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.median * np.exp(self.sigma * rng.standard_normal(size))


class Beta(Strict):
    a: PositiveFloat
    b: PositiveFloat

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)


class IdentityCalibration(Strict):
    """Scores are calibrated: a score of 0.7 violates 70% of the time."""

    kind: Literal["identity"] = "identity"

    def probability(self, score: np.ndarray) -> np.ndarray:
        return np.asarray(score, dtype=float)


class PowerCalibration(Strict):
    """`P = score ** exponent`; an exponent above 1 models an over-confident classifier."""

    kind: Literal["power"]
    exponent: PositiveFloat

    def probability(self, score: np.ndarray) -> np.ndarray:
        probability: np.ndarray = np.power(np.asarray(score, dtype=float), self.exponent)
        return probability


class LogisticCalibration(Strict):
    """`P = 1 / (1 + exp(-slope (score - midpoint)))`, the Platt-scaling shape."""

    kind: Literal["logistic"]
    slope: PositiveFloat
    midpoint: Probability = 0.5

    def probability(self, score: np.ndarray) -> np.ndarray:
        exponent = -self.slope * (np.asarray(score, dtype=float) - self.midpoint)
        with np.errstate(over="ignore"):  # a steep slope's exp overflows to inf, and 1 / (1 + inf) is the right 0
            return 1.0 / (1.0 + np.exp(exponent))


Calibration = Annotated[IdentityCalibration | PowerCalibration | LogisticCalibration, Field(discriminator="kind")]


class Signal(Strict):
    """One policy area's classifier: scores drawn from a Beta, ground truth drawn from the calibration curve."""

    score: Beta
    calibration: Calibration = Field(default_factory=IdentityCalibration)

    @field_validator("calibration", mode="before")
    @classmethod
    def _named_calibration(cls, value: object) -> object:
        return {"kind": value} if isinstance(value, str) else value


class Reports(Strict):
    """User reports on an item, Poisson distributed."""

    mean: Annotated[float, Field(strict=True, ge=0.0, le=MAX_REPORTS, allow_inf_nan=False)] = 0.0


def _hourly(values: list[float] | None, name: str) -> None:
    if values is not None and len(values) != HOURS:
        raise ValueError(f"{name} needs {HOURS} values (one per hour of day), got {len(values)}")


class ArrivalType(Strict):
    """A stream of items of one kind.

    The rate is either `rate_per_hour` (optionally shaped by 24 `hourly_multipliers`) or 24 absolute
    `hourly_rates`. Each item's views per hour start at a draw from `views_per_hour` and halve every
    `views_half_life_s` (drawn per item; constant views when absent). With `patience_s` an item leaves the queue
    after an exponential time with that mean (deleted upstream, expired), the Erlang A model.
    """

    name: Code
    rate_per_hour: NonNegativeFloat | None = None
    hourly_multipliers: list[NonNegativeFloat] | None = None
    hourly_rates: list[NonNegativeFloat] | None = None
    modality: dict[Modality, Weight] = Field(min_length=1)
    language: dict[Code, Weight] = Field(min_length=1)
    region: dict[Code, Weight] = Field(min_length=1)
    source: dict[Source, Weight] = Field(default_factory=lambda: {Source.PROACTIVE: 1.0}, min_length=1)
    duration_s: LogNormal | None = None
    signals: dict[Code, Signal] = Field(default_factory=dict)
    views_per_hour: LogNormal | None = None
    views_half_life_s: LogNormal | None = None
    reports: Reports = Field(default_factory=Reports)
    duplicate_share: Annotated[float, Field(strict=True, ge=0.0, lt=1.0, allow_inf_nan=False)] = 0.0
    patience_s: PositiveFloat | None = None
    attributes: dict[Annotated[str, Field(min_length=1, max_length=64)], AttributeValue] = Field(default_factory=dict)

    @field_validator("duration_s", "views_per_hour", "views_half_life_s")
    @classmethod
    def _median_within_reach(cls, value: LogNormal | None, info: ValidationInfo) -> LogNormal | None:
        """A median past what the simulator can draw is a typo: 1e308 overflowed in the draw and the durations
        were clipped silently (found by a review)."""
        ceiling = _MEDIAN_CEILINGS[info.field_name or ""]
        if value is not None and value.median > ceiling:
            raise ValueError(f"median must be at most {ceiling:g}")
        return value

    @model_validator(mode="after")
    def _one_rate(self) -> Self:
        if (self.rate_per_hour is None) == (self.hourly_rates is None):
            raise ValueError("give exactly one of rate_per_hour or hourly_rates")
        if self.hourly_multipliers is not None and self.rate_per_hour is None:
            raise ValueError("hourly_multipliers scale rate_per_hour; with hourly_rates give the rates directly")
        _hourly(self.hourly_multipliers, "hourly_multipliers")
        _hourly(self.hourly_rates, "hourly_rates")
        return self

    @cached_property
    def rates_per_s(self) -> tuple[float, ...]:
        """Arrival rate per second for each hour of day, before bursts."""
        if self.hourly_rates is not None:
            return tuple(rate / 3600.0 for rate in self.hourly_rates)
        base = (self.rate_per_hour or 0.0) / 3600.0
        return tuple(base * multiplier for multiplier in self.hourly_multipliers or [1.0] * HOURS)

    @property
    def patience_rate(self) -> float | None:
        return None if self.patience_s is None else 1.0 / self.patience_s


_MEDIAN_CEILINGS = {
    "duration_s": MAX_DURATION_S,  # a week, the longest item there is
    "views_per_hour": MAX_VIEWS_PER_HOUR,
    "views_half_life_s": MAX_HORIZON_S,  # a longer half-life is no decay within any horizon
}


class Burst(Strict):
    """Multiplies arrival rates during `[start_s, start_s + length_s)`; all types unless `arrivals` names some."""

    start_s: NonNegativeFloat
    length_s: PositiveFloat
    multiplier: Annotated[float, Field(strict=True, ge=0.0, le=1000.0, allow_inf_nan=False)]
    arrivals: list[Code] | None = Field(default=None, min_length=1)  # none named would be a burst of nothing

    def applies_to(self, name: str) -> bool:
        return self.arrivals is None or name in self.arrivals

    def active(self, t: float) -> bool:
        return self.start_s <= t < self.start_s + self.length_s


class Shift(Strict):
    """Hours of day on duty; `end_h < start_h` wraps past midnight (a night shift 22 -> 6)."""

    start_h: Annotated[float, Field(strict=True, ge=0.0, lt=24.0, allow_inf_nan=False)]
    end_h: Annotated[float, Field(strict=True, gt=0.0, le=24.0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start_h == self.end_h:
            raise ValueError("a shift must not start and end at the same hour")
        return self

    def hours(self) -> list[tuple[float, float]]:
        """The shift as non-wrapping `[start, end)` spans of one day."""
        if self.start_h < self.end_h:
            return [(self.start_h, self.end_h)]
        return [(self.start_h, 24.0), (0.0, self.end_h)]


class Breaks(Strict):
    """After every `every_s` on shift a moderator takes `length_s` off (finishing the task in hand first). The group's
    moderators are spread evenly over that cycle, starting `phase` of the way into it: two groups at one site, or the
    layers of a staffing check's roster, offset by `phase` do not all leave at once."""

    # At least five minutes on shift between breaks and a minute off: a break is two status changes per moderator,
    # and every_s = 1e-9 made a run draw changes until it ran out of memory (found by a review).
    every_s: Annotated[float, Field(strict=True, ge=300.0, allow_inf_nan=False)]
    length_s: Annotated[float, Field(strict=True, ge=60.0, allow_inf_nan=False)]
    phase: Annotated[float, Field(strict=True, ge=0.0, lt=1.0, allow_inf_nan=False)] = 0.0

    @model_validator(mode="after")
    def _shorter_than_period(self) -> Self:
        if self.length_s >= self.every_s:
            raise ValueError("length_s must be shorter than every_s")
        return self


class HandlingTime(Strict):
    """True time to review one item of a modality: `base + duration_factor * media duration`.

    `lognormal` (median and sigma) is realistic; `exponential` (mean) is memoryless, for validating against
    Erlang and Cobham formulas.
    """

    distribution: Literal["lognormal", "exponential"] = "lognormal"
    median_s: Seconds | None = None
    sigma: Sigma = 0.5
    mean_s: Seconds | None = None
    duration_factor: NonNegativeFloat = 0.0

    @model_validator(mode="after")
    def _parameters_match(self) -> Self:
        if self.distribution == "lognormal" and (self.median_s is None or self.mean_s is not None):
            raise ValueError("a lognormal handling time takes median_s (and sigma), not mean_s")
        if self.distribution == "exponential" and (self.mean_s is None or self.median_s is not None):
            raise ValueError("an exponential handling time takes mean_s, not median_s")
        return self

    @property
    def base_mean_s(self) -> float:
        """Mean handling time of an item without media duration."""
        if self.mean_s is not None:
            return self.mean_s
        assert self.median_s is not None
        return self.median_s * math.exp(self.sigma**2 / 2.0)

    def sample(self, rng: np.random.Generator, duration_s: np.ndarray) -> np.ndarray:
        durations = np.asarray(duration_s, dtype=float)
        if self.mean_s is not None:
            base = rng.exponential(self.mean_s, durations.shape)
        else:
            assert self.median_s is not None
            base = self.median_s * np.exp(self.sigma * rng.standard_normal(durations.shape))
        return base + self.duration_factor * durations


class Accuracy(Strict):
    """Each moderator's true accuracy is drawn once from a Beta with this mean and concentration (a + b)."""

    mean: Annotated[float, Field(strict=True, gt=0.0, lt=1.0, allow_inf_nan=False)]
    concentration: PositiveFloat = 50.0

    @property
    def beta(self) -> Beta:
        return Beta(a=self.mean * self.concentration, b=(1.0 - self.mean) * self.concentration)


class RosterGroup(Strict):
    """`count` interchangeable moderators; individuals differ by their accuracy draw and a speed factor
    (lognormal with median 1 and sigma `speed_spread`) that scales every handling time."""

    name: Code
    count: Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
    vendor: Code
    site: Code
    regions: Regions
    languages: dict[Code, Proficiency] = Field(min_length=1, max_length=256)
    modalities: Modalities
    policy_areas: PolicyAreas = Field(default_factory=list)
    clearance: Clearance = Field(default_factory=list)
    capacity: Capacity = 1
    severe_per_hour: SeverePerHour | None = None
    cooldown_s: CooldownS = 0.0
    hourly_cost: Annotated[float, Field(strict=True, ge=0.0, le=MAX_HOURLY_COST, allow_inf_nan=False)] = 0.0
    shifts: list[Shift] = Field(default_factory=lambda: [Shift(start_h=0.0, end_h=24.0)], min_length=1)
    breaks: Breaks | None = None
    accuracy: Accuracy = Field(default_factory=lambda: Accuracy(mean=0.9))
    speed: dict[Modality, HandlingTime] = Field(min_length=1)
    speed_spread: Sigma = 0.0

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        spans = sorted(span for shift in self.shifts for span in shift.hours())
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            if start < end:
                raise ValueError("shifts overlap")
        missing = [modality.value for modality in self.modalities if modality not in self.speed]
        if missing:
            raise ValueError(f"speed has no handling time for modalities {missing}")
        unused = [modality.value for modality in self.speed if modality not in self.modalities]
        if unused:  # a mistyped `modalities` would leave the group idle with its handling times read and unused
            raise ValueError(f"speed has handling times for modalities the group does not review: {unused}")
        return self

    def on_shift(self, t: float) -> bool:
        hour = (t % 86400.0) / 3600.0
        return any(start <= hour < end for shift in self.shifts for start, end in shift.hours())


class Scenario(Strict):
    """A validated scenario; `ops` is the ops config itself, read from `ops_config` or given inline."""

    ops_config: Path | None = None
    ops: OpsConfig
    arrivals: list[ArrivalType] = Field(default_factory=list)
    bursts: list[Burst] = Field(default_factory=list)
    roster: list[RosterGroup] = Field(min_length=1)
    strategy: Strategy = "priority"
    # At least 10 ms: a finer tick changes nothing a person could notice, and 1e-4 s made a day a billion batches.
    tick_s: Annotated[float, Field(strict=True, ge=0.01, le=3600.0, allow_inf_nan=False)] = 1.0
    # At least a second, as `--horizon-s`: the run samples its backlog a fraction of the horizon apart, and a horizon
    # of 5e-324 s made that step 0, so the clock never moved and the run never ended (found by a probe).
    horizon_s: Annotated[float, Field(strict=True, ge=1.0, le=MAX_HORIZON_S, allow_inf_nan=False)]
    warmup_s: NonNegativeFloat = 0.0
    replications: Annotated[int, Field(strict=True, ge=1, le=MAX_REPLICATIONS)] = 1
    seed: Annotated[int, Field(strict=True, ge=0)] = 0
    trace: Path | None = None

    @field_validator("warmup_s")
    @classmethod
    def _warmup_inside_horizon(cls, warmup: float, info: ValidationInfo) -> float:
        horizon = info.data.get("horizon_s")
        if horizon is not None and warmup >= horizon:
            raise ValueError(f"warmup_s must be less than horizon_s ({horizon})")
        return warmup

    @model_validator(mode="after")
    def _bursts_within_horizon(self) -> Self:
        """A burst that starts at or after the horizon changes nothing: a mistake (hours for seconds, say), said
        rather than run as if the burst were modelled (found by a probe)."""
        for index, burst in enumerate(self.bursts):
            if burst.start_s >= self.horizon_s:
                raise ValueError(
                    f"bursts.{index} starts at {burst.start_s:g} s, at or after horizon_s ({self.horizon_s:g}): it "
                    "would change nothing"
                )
        return self

    @model_validator(mode="after")
    def _has_arrivals(self, info: ValidationInfo) -> Self:
        if not self.arrivals and self.trace is None:
            raise ValueError("give [[arrivals]] or a trace to replay")
        if info.context is not None and not info.context.get("simulated", True):
            return self  # a plan samples a few thousand items of any platform (`parse_scenario(simulated=False)`)
        expected = sum(self.expected_items(arrival) for arrival in self.arrivals)
        if expected > MAX_EXPECTED_ITEMS:
            # Every item of a replication is drawn up front and lives in memory: a few hundred bytes each.
            raise ValueError(
                f"the arrivals make about {expected:,.4g} items per replication, more than {MAX_EXPECTED_ITEMS:,} "
                "(lower the rates or --scale, or shorten horizon_s)"
            )
        return self

    @model_validator(mode="after")
    def _roster_within_reach(self) -> Self:
        days = math.ceil(self.horizon_s / 86400.0)
        expected = sum(
            group.count
            * (
                2 * days * sum(len(shift.hours()) for shift in group.shifts)
                + (0.0 if group.breaks is None else 2.0 * self.horizon_s / group.breaks.every_s)
            )
            for group in self.roster
        )
        if expected > MAX_EXPECTED_STATUS_CHANGES:
            raise ValueError(
                f"the roster's shifts and breaks make about {expected:,.4g} status changes per replication, more "
                f"than {MAX_EXPECTED_STATUS_CHANGES:,} (fewer moderators or breaks, or a shorter horizon_s)"
            )
        return self

    def rate_at(self, arrival: ArrivalType, t: float) -> float:
        """Arrival rate per second of `arrival` at time `t`, bursts included."""
        rate = arrival.rates_per_s[int(t % 86400.0 // 3600.0)]
        for burst in self.bursts:
            if burst.applies_to(arrival.name) and burst.active(t):
                rate *= burst.multiplier
        return rate

    def peak_rate(self, arrival: ArrivalType) -> float:
        """An upper bound of `rate_at` over all times, the dominating rate for thinning a non-homogeneous Poisson
        process (Lewis and Shedler, 1979)."""
        boost = 1.0
        for burst in self.bursts:
            if burst.applies_to(arrival.name):
                boost *= max(1.0, burst.multiplier)
        return max(arrival.rates_per_s) * boost

    def expected_items(self, arrival: ArrivalType) -> float:
        """How many items the stream brings over the horizon, on average."""
        return sum((end - start) * rate for start, end, rate in self.rate_segments(arrival, self.horizon_s))

    def rate_segments(self, arrival: ArrivalType, horizon_s: float) -> list[tuple[float, float, float]]:
        """`(start, end, rate per second)` pieces covering `[0, horizon_s)` on which the rate is constant.

        The rate only changes on the hour and where a burst starts or ends, so arrivals can be drawn exactly from
        the rate's piecewise linear integral (`queueopt.sim.arrivals`) instead of by thinning against `peak_rate`.
        """
        cuts = {float(hour) * 3600.0 for hour in range(math.ceil(horizon_s / 3600.0))}
        for burst in self.bursts:
            if burst.applies_to(arrival.name):
                cuts.update((burst.start_s, burst.start_s + burst.length_s))
        edges = sorted(cut for cut in cuts if 0.0 <= cut < horizon_s)
        edges.append(horizon_s)
        return [(start, end, self.rate_at(arrival, start)) for start, end in zip(edges, edges[1:], strict=False)]


def cumulative_views(views_per_hour: np.ndarray, half_life_s: np.ndarray | None, age_s: np.ndarray) -> np.ndarray:
    """Views an item accrued in its first `age_s` seconds: the integral of `v0 2^(-s / h)` (per hour) over
    `[0, age_s]`, which is `v0 h (1 - 2^(-age / h)) / (3600 ln 2)`; constant views without a half-life."""
    views = np.asarray(views_per_hour, dtype=float)
    age = np.asarray(age_s, dtype=float)
    if half_life_s is None:
        constant: np.ndarray = views * age / 3600.0
        return constant
    half_life = np.asarray(half_life_s, dtype=float)
    # A half-life drawn vanishingly short makes `age / half_life` overflow to inf, whose limit (all views accrued
    # at once) is the right one; one drawn as exactly 0 accrues nothing.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        decaying: np.ndarray = (
            views * half_life * -np.expm1(-math.log(2.0) * age / half_life) / (3600.0 * math.log(2.0))
        )
    return np.where(half_life > 0.0, decaying, 0.0)


def stream_content_hash(stream: str, original: int) -> str:
    """The content hash a stream gives its `original`-th item's content, and every copy of it."""
    return f"{stream}-{original}"


def stream_making(content_hash: str, streams: Collection[str]) -> str | None:
    """The stream among `streams` that makes `content_hash` (`stream_content_hash`), if any."""
    stream, dash, original = content_hash.rpartition("-")
    return stream if dash and original.isascii() and original.isdigit() and stream in streams else None


def mix(weights: dict[Any, float]) -> tuple[list[Any], np.ndarray]:
    """A mix table as values and normalised probabilities, in file order, ready for `rng.choice`."""
    values = list(weights)
    probabilities = np.asarray([weights[value] for value in values], dtype=float)
    with np.errstate(over="ignore"):
        total = probabilities.sum()
    if not math.isfinite(total):  # weights near the largest float (1e308 twice, found by a probe) overflow their sum
        probabilities /= probabilities.max()
        total = probabilities.sum()
    return values, probabilities / total


def _cross_reference_problems(scenario: Scenario) -> list[str]:
    areas = set(scenario.ops.areas_by_name)
    problems = []
    for section, names in (
        ("arrivals", [a.name for a in scenario.arrivals]),
        ("roster", [g.name for g in scenario.roster]),
    ):
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                problems.append(f"{section}.{index}.name: duplicate name {name!r}")
            seen.add(name)
    for index, arrival in enumerate(scenario.arrivals):
        for area in arrival.signals:
            if area not in areas:
                problems.append(f"arrivals.{index}.signals.{area}: unknown policy area {area!r}")
    tiers = clearance_tiers(scenario.ops)
    for index, group in enumerate(scenario.roster):
        for field, reason in unknown_skills(group.policy_areas, group.clearance, areas, tiers):
            problems.append(f"roster.{index}.{field}: {reason}")
    for queue in scenario.ops.queues:
        if set(queue.allowed_verdicts) != set(Verdict):
            allowed = ", ".join(verdict.value for verdict in queue.allowed_verdicts)
            problems.append(
                f"ops: queue {queue.name!r} allows only {allowed}: simulated moderators give the verdict the item "
                "deserves (or a mistake), so every queue must allow both"
            )
    arrival_names = {arrival.name for arrival in scenario.arrivals}
    for index, burst in enumerate(scenario.bursts):
        for position, name in enumerate(burst.arrivals or []):
            if name not in arrival_names:
                problems.append(f"bursts.{index}.arrivals.{position}: unknown arrival type {name!r}")
    return problems


def _resolve(base: Path, value: object) -> Path:
    path = Path(str(value))
    return path if path.is_absolute() else base / path


def parse_scenario(
    data: dict[str, Any], source: str = "<scenario>", base_dir: Path | None = None, simulated: bool = True
) -> Scenario:
    """Validate scenario data; relative `ops_config` and `trace` paths resolve against `base_dir`. A missing file
    or ops source is reported with every type and range problem of the rest, not instead of them (found by a
    review: a missing `ops_config` hid them all). Not `simulated` (a staffing plan's, which samples its items), the
    bound on the items a replication draws up front does not apply: a probe's platform of a million items an hour
    could not be planned for at all."""
    base = base_dir or Path.cwd()
    data = dict(data)
    problems = _file_problems(data, base)
    try:
        scenario = Scenario.model_validate(data, context={"simulated": simulated})
    except ValidationError as error:
        # Without a usable ops source `ops` is absent, and "ops: Field required" would repeat its problem.
        lines = format_validation_error(error)
        raise ConfigError(source, problems + [line for line in lines if not (problems and line == _NO_OPS)]) from None
    if problems:
        raise ConfigError(source, problems)
    problems = _cross_reference_problems(scenario)
    if problems:
        raise ConfigError(source, problems)
    return scenario


_NO_OPS = "ops: Field required"


def _file_problems(data: dict[str, Any], base: Path) -> list[str]:
    """Resolve `trace` and `ops_config` in `data` against `base`, reading the ops config into `ops`; returns what
    is wrong with them. An ops source that cannot be used leaves `ops` out of `data`."""
    problems = []
    if isinstance(data.get("trace"), str):
        trace = data["trace"] = _resolve(base, data["trace"])
        if not trace.is_file():
            problems.append(f"trace: {_missing(trace)}: {trace}")
    if ("ops_config" in data) == ("ops" in data):
        data.pop("ops", None)
        problems.append("ops_config: give either ops_config (a path) or an inline [ops] table")
    elif isinstance(data.get("ops_config"), str):
        ops_path = data["ops_config"] = _resolve(base, data["ops_config"])
        if ops_path.is_file():
            data["ops"] = load_config(ops_path)
        else:
            problems.append(f"ops_config: {_missing(ops_path)}: {ops_path}")
    return problems


def _missing(path: Path) -> str:
    return "not a file" if path.exists() else "file not found"


def load_scenario(path: str | Path, simulated: bool = True) -> Scenario:
    """Read and validate a scenario TOML file; every failure is a `ConfigError` naming the file it comes from."""
    return parse_scenario(read_toml(path), str(path), Path(path).parent, simulated)
