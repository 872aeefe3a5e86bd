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
    """A point estimate with the half width of its confidence interval (infinite from a single replication)."""

    mean: float
    half_width: float

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


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


def mean_ci(samples: Sequence[float] | np.ndarray, level: float = 0.95) -> Estimate:
    """Student t interval for the mean of independent samples (one per replication)."""
    _check_level(level)
    array = _samples(samples, "samples")
    mean = float(array.mean())
    if array.size == 1:
        return Estimate(mean, math.inf)
    standard_error = float(array.std(ddof=1)) / math.sqrt(array.size)
    quantile = float(student_t.ppf(0.5 + level / 2.0, df=array.size - 1))
    return Estimate(mean, quantile * standard_error)


def paired_difference_ci(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, level: float = 0.95
) -> Estimate:
    """Interval for `mean(a - b)` where `a[r]` and `b[r]` come from replication `r` on the same random numbers."""
    first = _samples(a, "a")
    second = _samples(b, "b")
    if first.size != second.size:
        raise ValueError(f"paired samples need equal lengths, got {first.size} and {second.size}")
    return mean_ci(first - second, level)


def quantiles(samples: Sequence[float] | np.ndarray, levels: Sequence[float]) -> list[float]:
    """Empirical quantiles (numpy's default linear interpolation), e.g. `levels=(0.5, 0.95, 0.99)` for p50/p95/p99."""
    array = _samples(samples, "samples")
    wanted = np.asarray(levels, dtype=float)
    if wanted.ndim != 1 or ((wanted < 0.0) | (wanted > 1.0)).any():
        raise ValueError("quantile levels must be a sequence of numbers in [0, 1]")
    return [float(value) for value in np.quantile(array, wanted)]
