"""An item's primary policy area: what its review asks of a reviewer follows from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queueopt.config import load_config, parse_config
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


MIXED = parse_config(
    {
        "policy_areas": [
            {"name": "gore", "severity": 6.0, "severe": True},
            {"name": "minors", "severity": 4.0, "clearance": "tier1"},
            {"name": "extremism", "severity": 4.0, "severe": True, "clearance": "tier2", "severe_at": 0.75},
            {"name": "hate", "severity": 5.0},
            {"name": "threats", "severity": 2.0, "severe": True, "severe_at": 0.0},
        ],
        "queues": [{"name": "main", "sla_s": 600}],
        "rules": [{"name": "all", "queue": "main"}],
    }
)
"""Every kind of area a moderator is protected from: severe only, cleared only, both, and neither; and one whose
every signal, even a zero, is severe."""


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["gore", "minors", "extremism", "hate", "threats"]),
        st.sampled_from([0.0, 0.5, 0.75, 1.0]) | st.floats(0, 1),
    )
)
def test_severity_and_clearance_follow_every_area_past_its_threshold_whatever_the_order(
    signals: dict[str, float],
) -> None:
    """An item is severe exactly when a severe area reaches its `severe_at`; once a severe or cleared area reaches
    it, one such area is primary, and the task asks the tier of every cleared area that did besides its primary
    area's own (found by a mutation review: a cleared area that is not severe, written after a severe one, made
    the item not severe, so a moderator's budget let through graphic content)."""
    areas = {area.name: area for area in MIXED.policy_areas}
    past = {name for name, score in signals.items() if score >= areas[name].severe_at}
    terms = PriorityModel(MIXED).terms(item(signals=signals))
    assert terms.severe is any(areas[name].severe for name in past)
    sensitive = {name for name in past if areas[name].severe or areas[name].clearance}
    if sensitive:
        assert terms.policy in sensitive
    own = areas[terms.policy].clearance if terms.policy is not None else None
    assert set(terms.clearance) == {areas[name].clearance for name in past} - {None, own}


@pytest.mark.parametrize(
    ("signals", "policy", "clearance"),
    [
        ({"child_safety": 0.9, "violent_extremism": 1.0}, "child_safety", ("terrorism",)),
        ({"violent_extremism": 1.0, "child_safety": 0.9}, "child_safety", ("terrorism",)),
        ({"gore": 0.5, "minors": 0.75}, "minors", ()),
        ({"minors": 0.75, "gore": 0.5}, "minors", ()),
    ],
)
def test_equal_weighted_areas_past_their_thresholds_make_the_more_protective_one_primary_whatever_their_order(
    signals: dict[str, float], policy: str, clearance: tuple[str, ...]
) -> None:
    """As for areas below their thresholds: a cleared area, then a severe one, then the first by name (found by a
    mutation review: among areas past their thresholds, the last one written won a tie)."""
    config = MIXED if "gore" in signals else load_config(EXAMPLE)
    severities = {area.name: area.severity for area in config.policy_areas}
    assert len({severities[area] * score for area, score in signals.items()}) == 1
    terms = PriorityModel(config).terms(item(signals=signals))
    assert (terms.policy, terms.clearance, terms.severe) == (policy, clearance, True)
