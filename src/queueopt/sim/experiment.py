"""Replications and comparisons: every KPI with a confidence interval, and strategy A against B on the same items.

Replication `r` of a scenario draws its arrivals, truths and moderators from streams seeded by (seed, r), so
two strategies, or two scenarios sharing a seed and streams, see the same items in replication `r`; the paired
differences then cancel most of the noise (common random numbers, `stats.paired_difference_ci`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from queueopt.sim.kpis import kpis, natural_range
from queueopt.sim.scenario import Scenario
from queueopt.sim.simulator import RunRecord, simulate
from queueopt.sim.stats import Estimate, mean_ci, paired_difference_ci

Progress = Callable[[int, float], None]
Measure = Callable[[RunRecord], dict[str, float]]


@dataclass(slots=True)
class Experiment:
    """Replications of one scenario under one strategy: the KPIs of each, and the first run kept whole (for plots)."""

    scenario: Scenario
    strategy: str
    replications: list[dict[str, float]]
    first_run: RunRecord
    wall_s: float

    def estimates(self, level: float = 0.95) -> dict[str, Estimate]:
        """A Student t interval per KPI, over the replications where it was measured (finite): a share of a queue
        that had no items in some replication is estimated from the others."""
        result = {}
        for name in kpi_names(self.replications):
            values = np.asarray([run.get(name, np.nan) for run in self.replications], dtype=float)
            values = values[np.isfinite(values)]
            if values.size:
                result[name] = mean_ci(values, level, natural_range(name))
        return result


@dataclass(frozen=True, slots=True)
class Difference:
    a: Estimate
    b: Estimate
    difference: Estimate
    pairs: int
    """Replications in which both measured the KPI: the intervals rest on these."""


def run_experiment(
    scenario: Scenario,
    strategy: str | None = None,
    replications: int | None = None,
    progress: Progress | None = None,
    workers: int = 1,
    measure: Measure = kpis,
) -> Experiment:
    """Replications 0..n-1 (`scenario.replications` unless given), each reduced to `measure`'s numbers (the KPIs
    unless another measure is given: the staffing check's per-hour shares).

    `progress(r, t)` reports simulated time `t` of replication `r` (with several workers only when a replication
    ends, at the horizon). Replications are independent, so `workers` processes run them side by side; the
    results do not depend on how many.
    """
    chosen = strategy or scenario.strategy
    count = replications or scenario.replications
    started = time.perf_counter()
    first = simulate(scenario, 0, chosen, None if progress is None else _bind(progress, 0))
    measured = [measure(first)]
    if workers > 1 and count > 1:
        pool = ProcessPoolExecutor(max_workers=min(workers, count - 1))
        try:
            jobs = [pool.submit(_replicate, scenario, replication, chosen, measure) for replication in range(1, count)]
            for replication, job in enumerate(jobs, start=1):
                measured.append(job.result())
                if progress is not None:
                    progress(replication, scenario.horizon_s)
        finally:
            # On Ctrl-C or a failed replication the queued ones are dropped: leaving a `with` block ran every one
            # of them first (found by a probe: 40 s after the signal with 300 queued).
            pool.shutdown(cancel_futures=True)
    else:
        for replication in range(1, count):
            report = None if progress is None else _bind(progress, replication)
            measured.append(measure(simulate(scenario, replication, chosen, report)))
    return Experiment(scenario, chosen, measured, first, time.perf_counter() - started)


def _replicate(scenario: Scenario, replication: int, strategy: str, measure: Measure) -> dict[str, float]:
    return measure(simulate(scenario, replication, strategy))


def _bind(progress: Progress, replication: int) -> Callable[[float], None]:
    return lambda now: progress(replication, now)


def kpi_names(replications: Sequence[dict[str, float]]) -> list[str]:
    """Every KPI any replication measured, in the order they first appear."""
    return list(dict.fromkeys(name for run in replications for name in run))


def compare(a: Experiment, b: Experiment, level: float = 0.95) -> dict[str, Difference]:
    """Paired difference `a - b` per KPI, over the replications where both measured it (a queue's wait, say, is
    not measured in a replication where the queue had no items); A's and B's own intervals over the same ones."""
    pairs = min(len(a.replications), len(b.replications))
    result = {}
    for name in kpi_names(a.replications[:pairs] + b.replications[:pairs]):
        first = np.asarray([run.get(name, np.nan) for run in a.replications[:pairs]], dtype=float)
        second = np.asarray([run.get(name, np.nan) for run in b.replications[:pairs]], dtype=float)
        both = np.isfinite(first) & np.isfinite(second)
        if not both.any():
            continue
        first, second = first[both], second[both]
        bounds = natural_range(name)
        result[name] = Difference(
            mean_ci(first, level, bounds),
            mean_ci(second, level, bounds),
            paired_difference_ci(first, second, level, bounds),
            first.size,
        )
    return result


def compare_strategies(
    scenario: Scenario,
    strategies: Sequence[str],
    replications: int | None = None,
    progress: Progress | None = None,
    workers: int = 1,
) -> dict[str, Experiment]:
    """The same replications under each strategy (common random numbers)."""
    return {name: run_experiment(scenario, name, replications, progress, workers) for name in strategies}
