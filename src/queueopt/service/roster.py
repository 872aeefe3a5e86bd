"""A roster file: a JSON list of moderator profiles the service adds when it starts (the demo's, or a site's
initial staff), so a fresh store is usable without a round of PUT requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from queueopt.capability import ModeratorProfile
from queueopt.capability.profile import clearance_tiers, unknown_skills
from queueopt.config import ConfigError, OpsConfig, format_validation_error, read_text

_ROSTER = TypeAdapter(list[ModeratorProfile])
_ENTRIES = TypeAdapter(list[Any])


def load_roster(path: str | Path, config: OpsConfig) -> list[ModeratorProfile]:
    """The file's profiles, each checked against `config` as the engine would check it, so that a bad one stops
    the service before it starts, one line per problem, not in the middle of its start-up. Every profile is read
    on its own, so one profile's wrong field and another's unknown policy area are said in one go (found by a
    probe: a file with both took two rounds of fixing)."""
    text = read_text(path)
    try:
        entries = _ENTRIES.validate_json(text)
    except ValidationError as error:
        raise ConfigError(str(path), format_validation_error(error)) from None
    areas, tiers = [area.name for area in config.policy_areas], clearance_tiers(config)
    profiles: list[ModeratorProfile] = []
    problems: list[str] = []
    first: dict[str, int] = {}
    for index, entry in enumerate(entries):
        try:
            profile = ModeratorProfile.model_validate_json(json.dumps(entry))  # as JSON: strict fields take text
        except ValidationError as error:
            problems += [f"{index}.{line}".replace(".(root):", ":", 1) for line in format_validation_error(error)]
            continue
        profiles.append(profile)
        problems += [
            f"{index}.{field}: {reason}"
            for field, reason in unknown_skills(profile.policy_areas, profile.clearance, areas, tiers)
        ]
        if first.setdefault(profile.id, index) != index:
            problems.append(f"{index}.id: {profile.id!r} is already at {first[profile.id]}")
    if problems:
        raise ConfigError(str(path), problems)
    return profiles


def dump_roster(profiles: list[ModeratorProfile]) -> bytes:
    return _ROSTER.dump_json(profiles, indent=2)
