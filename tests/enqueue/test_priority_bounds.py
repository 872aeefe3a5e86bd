"""Every priority the router computes from a valid config and a valid item is finite, up to the largest of both."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queueopt.config import MAX_SLA_S, MAX_WEIGHT, MIN_SLA_S, OpsConfig
from queueopt.domain import MAX_REPORTS, MAX_VIEWS_PER_HOUR, Item, Source
from queueopt.enqueue import Router

AREAS = [f"area{index}" for index in range(64)]  # as many as an item may carry signals for
FAR_FUTURE_S = 1e11
"""A clock reading past any the engine meets (the wall clock in the year 5000): the time-invariant key multiplies
the aging rate by it."""


def _extreme(low: float, high: float) -> st.SearchStrategy[float]:
    """A value in the range, its ends drawn often: the bound is what the test is about."""
    return st.sampled_from([low, high]) | st.floats(low, high)


WEIGHTS = _extreme(0.0, MAX_WEIGHT)
POSITIVE_WEIGHTS = _extreme(1e-9, MAX_WEIGHT)


def _config(severities: list[float], queue: dict[str, float], priority: dict[str, Any]) -> OpsConfig:
    return OpsConfig.model_validate(
        {
            "policy_areas": [
                {"name": area, "severity": severity} for area, severity in zip(AREAS, severities, strict=True)
            ],
            "queues": [{"name": "main", **queue}],
            "rules": [{"name": "all", "queue": "main"}],
            "priority": priority,
        }
    )


@st.composite
def configs(draw: st.DrawFn) -> OpsConfig:
    return _config(
        [draw(POSITIVE_WEIGHTS) for _ in AREAS],
        {"sla_s": draw(_extreme(MIN_SLA_S, MAX_SLA_S)), "aging_rate": draw(WEIGHTS)},
        {
            "views": draw(WEIGHTS),
            "per_report": draw(WEIGHTS),
            "source": {source.value: draw(WEIGHTS) for source in Source},
            "base_harm": draw(POSITIVE_WEIGHTS),
            "deadline": draw(WEIGHTS),
            "floor": draw(POSITIVE_WEIGHTS),
        },
    )


items = st.builds(
    Item,
    id=st.just("x"),
    modality=st.just("text"),
    language=st.just("en"),
    region=st.just("us"),
    signals=st.dictionaries(st.sampled_from(AREAS), _extreme(0.0, 1.0), max_size=64),
    source=st.sampled_from(Source),
    views_per_hour=_extreme(0.0, MAX_VIEWS_PER_HOUR),
    reports=st.sampled_from([0, MAX_REPORTS]) | st.integers(0, MAX_REPORTS),
)


@settings(max_examples=300, deadline=None)
@given(configs(), items)
def test_every_priority_and_aging_is_finite(config: OpsConfig, item: Item) -> None:
    routing = Router(config).route(item)
    assert math.isfinite(routing.priority) and math.isfinite(routing.aging_rate)
    assert math.isfinite(routing.priority + routing.aging_rate * FAR_FUTURE_S)
    json.dumps({"priority": routing.priority, "aging_rate": routing.aging_rate}, allow_nan=False)


def test_the_largest_config_and_item_give_a_finite_priority() -> None:
    """The corner the bounds are computed for, whatever hypothesis draws."""
    largest = dict.fromkeys(("views", "per_report", "base_harm", "deadline", "floor"), MAX_WEIGHT)
    config = _config(
        [MAX_WEIGHT] * len(AREAS),
        {"sla_s": MIN_SLA_S, "aging_rate": MAX_WEIGHT},
        {**largest, "source": dict.fromkeys(Source, MAX_WEIGHT)},
    )
    item = Item(
        id="x",
        modality="text",
        language="en",
        region="us",
        signals=dict.fromkeys(AREAS, 1.0),
        source=Source.ESCALATION,
        views_per_hour=MAX_VIEWS_PER_HOUR,
        reports=MAX_REPORTS,
    )
    routing = Router(config).route(item)
    assert routing.priority == pytest.approx(64 * MAX_WEIGHT * MAX_WEIGHT * (MAX_VIEWS_PER_HOUR + MAX_REPORTS + 1))
    assert routing.aging_rate == 2 * MAX_WEIGHT
