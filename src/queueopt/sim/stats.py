"""Confidence intervals over independent replications.

One replication's output is a single observation of a KPI (its waits are autocorrelated, so per-item samples would
give far too narrow intervals); across replications the KPI estimates are independent and roughly normal, so a
Student t interval is the standard choice (Law, *Simulation Modeling and Analysis*, 5th ed., 2015, section 9.4).
Comparing two strategies on common random numbers makes the replication pairs positively correlated, and the paired
t interval on the differences turns that correlation into a narrower interval (Law, section 10.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.stats import t as student_t


class Estimate(NamedTuple):
    """A point estimate with the half width of its confidence interval (infinite from a single replication).

    `low` and `high` stop at the quantity's natural range (`floor`, `ceiling`): from a few replications the t
    interval of a share near 1, or of a count near 0, reaches past what the quantity can be, which says nothing
    the clipped interval does not and reads as nonsense in a report. The coverage is unchanged: the part cut off
    holds no possible value. `half_width` stays the t interval's."""

    mean: float
    half_width: float
    floor: float = -math.inf
    ceiling: float = math.inf

    @property
    def low(self) -> float:
        return max(self.mean - self.half_width, self.floor)

    @property
    def high(self) -> float:
        return min(self.mean + self.half_width, self.ceiling)

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def interval(estimate: Estimate) -> str:
    """The mean and its interval as the report and the CLI print them; the mean alone from one replication."""
    if not math.isfinite(estimate.half_width):
        return f"{estimate.mean:.4g}"
    return f"{estimate.mean:.4g} [{estimate.low:.4g}, {estimate.high:.4g}]"


def _samples(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty sequence of numbers")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level!r}")


Range = tuple[float, float]
UNBOUNDED: Range = (-math.inf, math.inf)


def mean_ci(samples: Sequence[float] | np.ndarray, level: float = 0.95, bounds: Range = UNBOUNDED) -> Estimate:
    """Student t interval for the mean of independent samples (one per replication), within `bounds`."""
    _check_level(level)
    array = _samples(samples, "samples")
    mean = float(array.mean())
    if array.size == 1:
        return Estimate(mean, math.inf, *bounds)
    standard_error = float(array.std(ddof=1)) / math.sqrt(array.size)
    quantile = float(student_t.ppf(0.5 + level / 2.0, df=array.size - 1))
    return Estimate(mean, quantile * standard_error, *bounds)


def paired_difference_ci(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, level: float = 0.95, bounds: Range = UNBOUNDED
) -> Estimate:
    """Interval for `mean(a - b)` where `a[r]` and `b[r]` come from replication `r` on the same random numbers;
    `bounds` is the range of `a` and `b`, so a difference of shares stays within [-1, 1]."""
    first = _samples(a, "a")
    second = _samples(b, "b")
    if first.size != second.size:
        raise ValueError(f"paired samples need equal lengths, got {first.size} and {second.size}")
    floor, ceiling = bounds
    return mean_ci(first - second, level, (floor - ceiling, ceiling - floor))


def quantiles(samples: Sequence[float] | np.ndarray, levels: Sequence[float]) -> list[float]:
    """Empirical quantiles (numpy's default linear interpolation), e.g. `levels=(0.5, 0.95, 0.99)` for p50/p95/p99."""
    array = _samples(samples, "samples")
    wanted = np.asarray(levels, dtype=float)
    if wanted.ndim != 1 or ((wanted < 0.0) | (wanted > 1.0)).any():
        raise ValueError("quantile levels must be a sequence of numbers in [0, 1]")
    return [float(value) for value in np.quantile(array, wanted)]
