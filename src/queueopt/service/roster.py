"""A roster file: a JSON list of moderator profiles the service upserts when it starts (the demo's, or a site's
initial staff), so a fresh store is usable without a round of PUT requests."""

from __future__ import annotations

from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from queueopt.capability import ModeratorProfile
from queueopt.config import ConfigError, format_validation_error, read_text

_ROSTER = TypeAdapter(list[ModeratorProfile])


def load_roster(path: str | Path) -> list[ModeratorProfile]:
    text = read_text(path)
    try:
        return _ROSTER.validate_json(text)
    except ValidationError as error:
        raise ConfigError(str(path), format_validation_error(error)) from None


def dump_roster(profiles: list[ModeratorProfile]) -> bytes:
    return _ROSTER.dump_json(profiles, indent=2)
