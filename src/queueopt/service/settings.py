"""Service settings, read from `QUEUEOPT_*` environment variables so one image runs anywhere.

Validated once at start-up, so a typo in a deployment fails loudly instead of serving with a wrong default.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from queueopt.store.base import BEAT_S
from queueopt.store.retention import MAX_RETENTION_DAYS

MIB = 1024 * 1024
ENV_PREFIX = "QUEUEOPT_"


class Settings(BaseSettings):
    """Everything `queueopt serve` needs; `tokens_file` has no default because a service without tokens is useless."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str = "sqlite:///./var/queueopt.db"
    config: Path = Path("examples/ops.toml")
    tokens_file: Path | None = None
    roster_file: Path | None = Field(
        default=None,
        description="JSON list of moderator profiles, added at start when the store does not hold them yet.",
    )
    standby: bool = Field(
        default=False,
        description="Pass every request to the engine serving the same store until it stops, then take over, "
        "instead of refusing to start.",
    )
    advertise_url: str | None = Field(
        default=None,
        description="Where standby replicas reach this process once it serves the store, such as "
        "http://10.0.0.5:8000; by default http://<host>:<port>, with the machine's name for a wildcard host.",
    )
    forward_timeout_s: Annotated[float, Field(gt=0.0, le=300.0, allow_inf_nan=False)] = Field(
        default=15.0,
        description="How long a standby waits for the serving engine's answer to a request it passed on (a "
        "long-poll: its wait_s on top) before answering 503: a hung engine costs a client this long.",
    )
    heartbeat_timeout_s: Annotated[float, Field(ge=3 * BEAT_S, le=3600.0, allow_inf_nan=False)] = Field(
        default=10.0,
        description="A standby on PostgreSQL ends the session of a serving engine that has not beaten (every "
        f"{BEAT_S:g} s) for this long, and takes over: a hung process would otherwise keep the store's lock.",
    )
    retention_days: Annotated[float | None, Field(gt=0.0, le=MAX_RETENTION_DAYS, allow_inf_nan=False)] = Field(
        default=None,
        description="Delete settled work (every task of an item decided or cancelled, none open, the item's whole "
        "content history included) once it settled this many days ago, in the background, by the serving process; "
        "unset keeps everything for ever.",
    )
    tick_s: Annotated[float, Field(gt=0.0, le=60.0, allow_inf_nan=False)] = 0.5
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * MIB)] = MIB

    @field_validator("config", "tokens_file", "roster_file", mode="before")
    @classmethod
    def _named(cls, value: object) -> object:
        """An empty value names no file: read as a path it would be the working directory."""
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty: name a file")
        return value

    @field_validator("advertise_url")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        """An origin only: a standby appends each request's own path and query to it."""
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - reading it checks the port: out of range or not a number raises
        except ValueError as error:
            raise ValueError(f"not a URL: {error}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("give http:// or https:// and a host, such as http://10.0.0.5:8000")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("give only scheme, host and port: a standby appends each request's path")
        return f"{parts.scheme}://{parts.netloc}"


TEST_PREFIX = f"{ENV_PREFIX}TEST_"
"""Variables of the test suite's own (its PostgreSQL server, say), which are no setting of the service."""


def setting_variables() -> list[str]:
    """The environment variable of each setting, in the order the settings are declared."""
    return [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """`QUEUEOPT_*` variables that name no setting: pydantic-settings ignores them, so a misspelt one (`TICKS` for
    `TICK_S`) would serve with the default it meant to change (found by a probe)."""
    known = set(setting_variables())
    return sorted(
        name
        for name in environ
        if name.startswith(ENV_PREFIX) and name not in known and not name.startswith(TEST_PREFIX)
    )
