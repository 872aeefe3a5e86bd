"""`check-config`'s shadowed-rule warning (`covers`): sound, since a rule it calls unreachable is one the router
would never pick, and not so conservative that it misses a rule repeating an earlier one."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from tests.enqueue.test_fast_routing import predicates

from queueopt.config import Predicate
from queueopt.enqueue.rules import covers


@pytest.mark.parametrize(
    ("wide", "narrow", "covered"),
    [
        ({"language": ["en", "es"]}, {"language": ["en"]}, True),
        ({"language": ["en"]}, {"language": ["en", "es"]}, False),
        ({"language": ["en"]}, {}, False),
        ({"min_signal": {"hate": 0.5}}, {"min_signal": {"hate": 0.75}}, True),
        ({"min_signal": {"hate": 0.5}}, {"min_signal": {"hate": 0.25}}, False),
        ({"max_signal": {"hate": 0.5}}, {"max_signal": {"hate": 0.25}}, True),
        ({"max_signal": {"hate": 0.5}}, {"max_signal": {"hate": 0.75}}, False),
        ({"max_signal": {"hate": 0.5}}, {}, False),
        ({"duration_s": {"min": 60.0}}, {"duration_s": {"min": 600.0}}, True),
        ({"duration_s": {"min": 60.0}}, {}, False),
        ({"duration_s": {"max": 600.0}}, {"duration_s": {"min": 0.0, "max": 60.0}}, True),
        ({"duration_s": {"max": 600.0}}, {"duration_s": {"min": 60.0}}, False),
        ({"min_reports": 2}, {"min_reports": 3}, True),
        ({"min_reports": 2}, {"min_reports": 1}, False),
        ({"attributes": {"tier": "gold"}}, {"attributes": {"tier": "gold", "age": 1}}, True),
        ({"attributes": {"tier": "gold", "age": 1}}, {"attributes": {"tier": "gold"}}, False),
        ({"attributes": {"tier": 1}}, {"attributes": {"tier": True}}, False),
    ],
)
def test_a_rule_is_covered_exactly_when_every_condition_of_the_earlier_one_holds_for_it(
    wide: dict[str, Any], narrow: dict[str, Any], covered: bool
) -> None:
    """One condition at a time, each way round: a cover that is too generous calls a live rule dead, and
    `check-config` tells the strategist to delete it (found by a mutation review: an open duration range, a
    missing `max_signal`, a larger language list or one shared attribute of two passed as covered)."""
    assert covers(Predicate.model_validate(wide), Predicate.model_validate(narrow)) is covered


@settings(max_examples=300, deadline=None)
@given(predicates)
def test_a_predicate_covers_itself(when: dict[str, Any]) -> None:
    """A rule repeating an earlier rule's conditions can never match (found by a mutation review: a cover that
    took a threshold equal to its own as not covered stayed silent about such a rule)."""
    assert covers(Predicate.model_validate(when), Predicate.model_validate(when))
