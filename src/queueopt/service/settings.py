"""Service settings, read from `QUEUEOPT_*` environment variables so one image runs anywhere.

Validated once at start-up, so a typo in a deployment fails loudly instead of serving with a wrong default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class Settings(BaseSettings):
    """Everything `queueopt serve` needs; `tokens_file` has no default because a service without tokens is useless."""

    model_config = SettingsConfigDict(env_prefix="QUEUEOPT_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///./var/queueopt.db"
    config: Path = Path("examples/ops.toml")
    tokens_file: Path | None = None
    roster_file: Path | None = Field(default=None, description="JSON list of moderator profiles upserted at start.")
    standby: bool = Field(
        default=False,
        description="Wait for the engine serving the same store to stop, then take over, instead of refusing to start.",
    )
    tick_s: Annotated[float, Field(gt=0.0, le=60.0)] = 0.5
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * MIB)] = MIB
