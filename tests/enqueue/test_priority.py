"""An item's primary policy area: what its review asks of a reviewer follows from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from queueopt.config import load_config
from queueopt.domain import Item
from queueopt.enqueue.priority import PriorityModel

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ops.toml"


def item(**fields: Any) -> Item:
    return Item(**{"id": "i", "modality": "text", "language": "en", "region": "us", **fields})


@pytest.mark.parametrize("signals", [{"child_safety": 0.03, "spam": 0.6}, {"spam": 0.6, "child_safety": 0.03}])
def test_equal_weighted_areas_make_the_more_protective_one_primary_whatever_their_order(
    signals: dict[str, float],
) -> None:
    """Found by a probe: at equal weighted scores the first signal written was primary, so child_safety first asked
    the csam clearance and spam first asked none."""
    config = load_config(EXAMPLE)
    severities = {area.name: area.severity for area in config.policy_areas}
    assert severities["child_safety"] * 0.03 == severities["spam"] * 0.6
    terms = PriorityModel(config).terms(item(signals=signals))
    assert terms.policy == "child_safety"
    assert PriorityModel(config).terms(item(signals={"child_safety": 0.0, "spam": 0.0})).policy is None


def test_the_explanation_says_when_a_floor_stood_in_for_the_product() -> None:
    """Found by a probe: an unseen item read `harm 5 (hate 5) x exposure 0/h = 0.001`, a product that is not 0.001."""
    model = PriorityModel(load_config(EXAMPLE))
    unseen = model.terms(item(signals={"hate": 1.0})).describe()
    assert unseen.endswith("x exposure 0/h = 0.001 (floor)"), unseen
    faint = model.terms(item(signals={"spam": 0.001}, views_per_hour=100.0)).describe()
    assert "(spam 0.0005; base harm)" in faint, faint
