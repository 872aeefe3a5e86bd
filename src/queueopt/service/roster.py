"""A roster file: a JSON list of moderator profiles the service adds when it starts (the demo's, or a site's
initial staff), so a fresh store is usable without a round of PUT requests."""

from __future__ import annotations

from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from queueopt.capability import ModeratorProfile
from queueopt.capability.profile import clearance_tiers, unknown_skills
from queueopt.config import ConfigError, OpsConfig, format_validation_error, read_text

_ROSTER = TypeAdapter(list[ModeratorProfile])


def load_roster(path: str | Path, config: OpsConfig) -> list[ModeratorProfile]:
    """The file's profiles, each checked against `config` as the engine would check it, so that a bad one stops
    the service before it starts, one line per problem, not in the middle of its start-up."""
    text = read_text(path)
    try:
        profiles = _ROSTER.validate_json(text)
    except ValidationError as error:
        raise ConfigError(str(path), format_validation_error(error)) from None
    areas, tiers = [area.name for area in config.policy_areas], clearance_tiers(config)
    problems = [
        f"{index}.{field}: {reason}"
        for index, profile in enumerate(profiles)
        for field, reason in unknown_skills(profile.policy_areas, profile.clearance, areas, tiers)
    ]
    first: dict[str, int] = {}
    for index, profile in enumerate(profiles):
        if first.setdefault(profile.id, index) != index:
            problems.append(f"{index}.id: {profile.id!r} is already at {first[profile.id]}")
    if problems:
        raise ConfigError(str(path), problems)
    return profiles


def dump_roster(profiles: list[ModeratorProfile]) -> bytes:
    return _ROSTER.dump_json(profiles, indent=2)
