"""Scenario variants a strategist asks for without editing the file: a smaller copy of the same day.

Scaling arrivals and headcount by the same factor keeps every load ratio, so a 5% copy of a million-item day
shows the same shape (queues, bursts, shift changes) in a twentieth of the time; queueing delays are longer
in the smaller system (fewer servers pool less), which the docs point out wherever scaled numbers appear.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from queueopt.sim.scenario import Scenario, parse_scenario


def scaled(
    scenario: Scenario, arrivals: float | Sequence[float], roster: float | None = None, source: str = "<scenario>"
) -> Scenario:
    """Every arrival rate times `arrivals`, or stream `k`'s times `arrivals[k]` (the staffing planner samples a
    rare stream as densely as a busy one), and every roster group's count times `roster` (default the one arrival
    factor; required with one per stream), rounded up so no group disappears; the copy's problems are reported as
    coming from `source`."""
    factors = list(arrivals) if isinstance(arrivals, Sequence) else [arrivals] * len(scenario.arrivals)
    for factor in factors:
        if not (factor > 0 and math.isfinite(factor)):
            raise ValueError(f"scale must be a positive number, got {factor!r}")
    if roster is None:
        if isinstance(arrivals, Sequence):
            raise ValueError("a factor per stream leaves the roster's to be given")
        roster = arrivals
    data: dict[str, Any] = scenario.model_dump(mode="python", exclude={"ops_config"})
    data["trace"] = None if scenario.trace is None else str(scenario.trace)
    if data["trace"] is None:
        del data["trace"]
    for arrival, factor in zip(data["arrivals"], factors, strict=True):
        if arrival["rate_per_hour"] is not None:
            arrival["rate_per_hour"] *= factor
        else:
            arrival["hourly_rates"] = [rate * factor for rate in arrival["hourly_rates"]]
    for group in data["roster"]:
        group["count"] = max(1, math.ceil(group["count"] * roster))
    return parse_scenario(data, source)
