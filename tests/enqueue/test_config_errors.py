"""Every kind of config mistake gets one exact `file: field.path: reason` line."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import REPO

from queueopt.config import ConfigError, load_config, parse_config


def _problems(mutate: Any) -> list[str]:
    data = tomllib.loads((REPO / "examples" / "ops.toml").read_text())
    mutate(data)
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "ops.toml")
    return caught.value.problems


def test_example_config_is_valid() -> None:
    config = load_config(REPO / "examples" / "ops.toml")
    assert len(config.queues) >= 10


def test_unknown_queue_in_a_rule() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["rules"][0]["queue"] = "nope"

    assert _problems(mutate) == ["rules.0.queue: unknown queue 'nope'"]


def test_unknown_policy_area() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["rules"][1]["when"]["min_signal"] = {"gore": 0.5}

    assert _problems(mutate) == ["rules.1.when.min_signal.gore: unknown policy area 'gore'"]


def test_an_enforcement_action_belongs_to_one_policy_area() -> None:
    """A decision carrying an area's own action needs that area's certification: an action of two areas would leave
    which one it needs unsaid."""

    def mutate(data: dict[str, Any]) -> None:
        data["policy_areas"][1]["actions"] = ["report_gifct", "report_ncmec"]

    assert _problems(mutate) == ["policy_areas.1.actions.1: 'report_ncmec' is an action of 'child_safety'"]


def test_every_unresolved_name_is_reported_at_once() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["rules"][0]["queue"] = "nope"
        data["rules"][1]["when"]["min_signal"] = {"gore": 0.5}
        data["rules"][2]["name"] = data["rules"][0]["name"]
        data["auto_actions"]["remove_at"] = {"telepathy": 0.9}

    duplicate = tomllib.loads((REPO / "examples" / "ops.toml").read_text())["rules"][0]["name"]
    assert _problems(mutate) == [
        f"rules.2.name: duplicate name {duplicate!r}",
        "rules.0.queue: unknown queue 'nope'",
        "rules.1.when.min_signal.gore: unknown policy area 'gore'",
        "auto_actions.remove_at.telepathy: unknown policy area 'telepathy'",
    ]


def test_threshold_outside_unit_interval() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["auto_actions"]["remove_at"]["spam"] = 1.5

    assert _problems(mutate) == ["auto_actions.remove_at.spam: Input should be less than or equal to 1"]


def test_missing_field() -> None:
    def mutate(data: dict[str, Any]) -> None:
        del data["queues"][2]["sla_s"]

    assert _problems(mutate) == ["queues.2.sla_s: Field required"]


def test_wrong_type() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["queues"][0]["top_k"] = "many"

    assert _problems(mutate) == ["queues.0.top_k: Input should be a valid integer"]


def test_numbers_and_flags_are_not_converted_from_other_types() -> None:
    """Found by probe: `sla_s = "60"`, `sla_target = true` and `severe = "yes"` were accepted as 60, 1.0 and True."""

    def mutate(data: dict[str, Any]) -> None:
        data["queues"][0]["sla_s"] = "60"
        data["queues"][0]["sla_target"] = True
        data["policy_areas"][0]["severe"] = "yes"

    assert _problems(mutate) == [
        "policy_areas.0.severe: Input should be a valid boolean",
        "queues.0.sla_s: Input should be a valid number",
        "queues.0.sla_target: Input should be a valid number",
    ]


def test_numbers_that_would_make_a_priority_infinite_are_refused() -> None:
    """Found by a probe: `check-config` accepted `sla_s = 1e-308` and `aging_rate = deadline = 1.7e308`, with which
    `simulate` crashed in the matching on an infinite value, and `views = 1e308`, with which `route` printed
    `"priority": Infinity`, which is not JSON."""

    def mutate(data: dict[str, Any]) -> None:
        data["queues"][0]["sla_s"] = 1e-308
        data["queues"][1]["sla_s"] = 1e9
        data["queues"][2]["aging_rate"] = 1.7e308
        data["priority"]["deadline"] = 1.7e308
        data["priority"]["views"] = 1e308
        data["policy_areas"][0]["severity"] = 1e300

    assert _problems(mutate) == [
        "policy_areas.0.severity: Input should be less than or equal to 1000000",
        "queues.0.sla_s: Input should be greater than or equal to 1",
        "queues.1.sla_s: Input should be less than or equal to 2592000",
        "queues.2.aging_rate: Input should be less than or equal to 1000000",
        "priority.views: Input should be less than or equal to 1000000",
        "priority.deadline: Input should be less than or equal to 1000000",
    ]


def test_a_lease_longer_than_extensions_may_reach_is_refused() -> None:
    """Found by a review: `lease_s = 1e308` passed, and a task whose review tool stopped answering never came back."""

    def mutate(data: dict[str, Any]) -> None:
        data["lease_s"] = 1e308

    assert _problems(mutate) == ["lease_s: Input should be less than or equal to 14400"]


def test_unknown_field_is_a_typo_not_ignored() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["queues"][0]["sla"] = 5

    assert _problems(mutate) == ["queues.0.sla: Extra inputs are not permitted"]


def test_last_rule_must_catch_everything() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["rules"].pop()

    assert _problems(mutate) == ["rules.17.when: the last rule must match every item (no conditions)"]


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        load_config(tmp_path / "absent.toml")
    assert missing.value.problems == ["(file): No such file or directory"]
    broken = tmp_path / "broken.toml"
    broken.write_text("queues = [")
    with pytest.raises(ConfigError) as malformed:
        load_config(broken)
    assert str(malformed.value).startswith(f"{broken}: (toml): ")


def test_a_condition_no_item_can_meet_is_refused() -> None:
    """Found by a probe: min_signal above max_signal for one area, an empty list of languages, an attribute name no
    item may carry: check-config passed each, and the rule could never match."""

    def mutate(data: dict[str, Any]) -> None:
        data["rules"][0]["when"] = {"min_signal": {"hate": 0.6}, "max_signal": {"hate": 0.5}}
        data["rules"][1]["when"] = {"language": []}
        data["rules"][2]["when"] = {"attributes": {"": 1}}

    assert _problems(mutate) == [
        "rules.0.when: min_signal hate = 0.6 exceeds max_signal hate = 0.5: nothing matches",
        "rules.1.when.language: List should have at least 1 item after validation, not 0",
        "rules.2.when.attributes..[key]: String should have at least 1 character",  # the key is the empty name
    ]


def test_a_rule_beyond_what_any_item_carries_is_refused() -> None:
    """Found by a probe: a duration or a report count above any item's maximum made a dead rule that check-config
    passed without a word."""

    def mutate(data: dict[str, Any]) -> None:
        data["rules"][0]["when"] = {"duration_s": {"min": 700_000.0}}
        data["rules"][1]["when"] = {"min_reports": 2_000_000_000}

    assert _problems(mutate) == [
        "rules.0.when: duration_s.min 700000 exceeds any item's (604800 s)",
        "rules.1.when: min_reports 2000000000 exceeds any item's (1000000000)",
    ]


def test_more_policy_areas_or_clearance_tiers_than_a_profile_holds_are_refused() -> None:
    """Found by a probe: check-config passed 300 policy areas and 70 clearance tiers, which no moderator's profile
    can hold, and demo-serve then failed with a traceback making its roster."""

    def more_areas(data: dict[str, Any]) -> None:
        data["policy_areas"] += [{"name": f"area{index}", "severity": 1.0} for index in range(300)]

    def more_tiers(data: dict[str, Any]) -> None:
        data["queues"][0].setdefault("requires", {})["clearance"] = [f"tier{index}" for index in range(70)]

    assert _problems(more_areas) == ["policy_areas: List should have at most 256 items after validation, not 308"]
    (problem,) = _problems(more_tiers)
    assert problem.endswith("clearance tiers; a moderator's profile holds at most 64")


def test_nan_is_said_to_be_not_a_number() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["queues"][0]["sla_target"] = float("nan")
        data["queues"][0]["qa_sample_rate"] = float("nan")

    assert _problems(mutate) == [
        "queues.0.sla_target: Input should be a finite number",
        "queues.0.qa_sample_rate: Input should be a finite number",
    ]


def test_toml_nested_too_deeply_is_one_line(tmp_path: Path) -> None:
    """Found by a probe: tomllib reads nested arrays recursively, and a 2 KB file ended in a RecursionError's
    traceback in every command reading TOML."""
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 1000 + "]" * 1000)
    with pytest.raises(ConfigError) as raised:
        load_config(deep)
    assert raised.value.problems == ["(toml): arrays or tables nested too deeply"]
