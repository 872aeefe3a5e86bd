"""`check-config`'s shadowed-rule warning (`covers`, one earlier rule or several split by modality and source):
sound, since a rule it calls unreachable is one the router would never pick, and not so conservative that it misses
a rule repeating an earlier one or one behind a rule per modality."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.enqueue.test_fast_routing import CONFIG, configs, items, predicates
from tests.enqueue.test_router import _matches

from queueopt.config import OpsConfig, Predicate
from queueopt.domain import Item, Modality
from queueopt.enqueue.rules import covers, unreachable_rules


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


@settings(max_examples=400, deadline=None)
@given(configs(), st.lists(items, min_size=1, max_size=20))
def test_a_rule_called_unreachable_matches_no_item_earlier_rules_let_through(
    config: OpsConfig, sample: list[Item]
) -> None:
    """Soundness of both tests, one earlier rule or several split by modality and source: `check-config` tells the
    strategist to delete a rule it calls dead, so an item that would reach it is a wrong warning."""
    dead = {int(warning.split(":")[0].removeprefix("rules.")) for warning in unreachable_rules(config)}
    for index in dead:
        rule, earlier = (
            config.rules[index].when.model_dump(),
            [other.when.model_dump() for other in config.rules[:index]],
        )
        for item in sample:
            assert not _matches(rule, item) or any(_matches(other, item) for other in earlier)


def test_rules_splitting_the_modalities_between_them_leave_a_later_rule_nothing() -> None:
    """The probe's case: a rule per modality, then a rule on language alone, is dead; with one modality left out
    (audio here) it is not."""
    per_modality = [{"name": f"all_{m.value}", "queue": "triage", "when": {"modality": [m.value]}} for m in Modality]
    later = {"name": "english", "queue": "text_standard", "when": {"language": ["en"]}}
    catch_all = {"name": "rest", "queue": "triage"}
    data = CONFIG.model_dump(mode="json")
    data["rules"] = [*per_modality, later, catch_all]
    assert unreachable_rules(OpsConfig.model_validate(data)) == [
        "rules.5: rule 'english' can never match: rules "
        + ", ".join(f"'all_{m.value}' (rules.{at})" for at, m in enumerate(Modality))
        + " between them already catch every item it would (each modality and source by one of them)"
    ]
    data["rules"] = [rule for rule in data["rules"] if rule["name"] != "all_audio"]
    assert unreachable_rules(OpsConfig.model_validate(data)) == []
