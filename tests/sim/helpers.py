"""Small scenarios built in code, so each test states the system it simulates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from queueopt.sim.scenario import Scenario, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "examples" / "scenarios"

ONE_QUEUE_OPS: dict[str, Any] = {
    "policy_areas": [{"name": "spam", "severity": 1.0}, {"name": "gore", "severity": 8.0, "severe": True}],
    "queues": [{"name": "main", "sla_s": 60, "sla_target": 0.8}],
    "rules": [{"name": "everything", "queue": "main"}],
}


def mm_c(
    servers: int = 3,
    load: float = 0.7,
    mean_s: float = 60.0,
    horizon_s: float = 20000.0,
    base_dir: Path | None = None,
    **extra: Any,
) -> Scenario:
    """M/M/c: Poisson arrivals into one queue, `servers` identical moderators with exponential handling, FIFO."""
    data: dict[str, Any] = {
        "ops": ONE_QUEUE_OPS,
        "strategy": "fifo",
        "horizon_s": horizon_s,
        "warmup_s": horizon_s / 10,
        "seed": 7,
        "arrivals": [
            {
                "name": "item",
                "rate_per_hour": load * servers * 3600.0 / mean_s,
                "modality": {"text": 1},
                "language": {"en": 1},
                "region": {"us": 1},
            }
        ],
        "roster": [
            {
                "name": "moderators",
                "count": servers,
                "vendor": "inhouse",
                "site": "hq",
                "regions": ["us"],
                "languages": {"en": 1.0},
                "modalities": ["text"],
                "policy_areas": ["spam", "gore"],
                "speed": {"text": {"distribution": "exponential", "mean_s": mean_s}},
            }
        ],
    }
    for key, value in extra.items():
        if key in ("arrival", "group"):
            target = data["arrivals"][0] if key == "arrival" else data["roster"][0]
            target.update(value)
        else:
            data[key] = value
    return parse_scenario(data, base_dir=base_dir)


def example(name: str, **changes: Any) -> Scenario:
    return load_scenario(SCENARIOS / name).model_copy(update=changes)
