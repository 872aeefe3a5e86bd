"""Scenario variants a strategist asks for without editing the file: a smaller copy of the same day.

Scaling arrivals and headcount by the same factor keeps every load ratio, so a 5% copy of a million-item day
shows the same shape (queues, bursts, shift changes) in a twentieth of the time; queueing delays are longer
in the smaller system (fewer servers pool less), which the docs point out wherever scaled numbers appear.
"""

from __future__ import annotations

import math
from typing import Any

from queueopt.sim.scenario import Scenario, parse_scenario


def scaled(scenario: Scenario, arrivals: float, roster: float | None = None, source: str = "<scenario>") -> Scenario:
    """Every arrival rate times `arrivals` and every roster group's count times `roster` (default the same),
    rounded up so no group disappears; the copy's problems are reported as coming from `source`."""
    if not (arrivals > 0 and math.isfinite(arrivals)):
        raise ValueError(f"scale must be a positive number, got {arrivals!r}")
    headcount = arrivals if roster is None else roster
    data: dict[str, Any] = scenario.model_dump(mode="python", exclude={"ops_config"})
    data["trace"] = None if scenario.trace is None else str(scenario.trace)
    if data["trace"] is None:
        del data["trace"]
    for arrival in data["arrivals"]:
        if arrival["rate_per_hour"] is not None:
            arrival["rate_per_hour"] *= arrivals
        else:
            arrival["hourly_rates"] = [rate * arrivals for rate in arrival["hourly_rates"]]
    for group in data["roster"]:
        group["count"] = max(1, math.ceil(group["count"] * headcount))
    return parse_scenario(data, source)
