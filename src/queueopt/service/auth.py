"""Bearer tokens and roles.

Tokens live in a TOML file of `[[tokens]]` tables. A stored token may be plain text (development) or its SHA-256
digest (production, so the file itself is not a secret). A presented token is hashed first and looked up by its
digest, never compared as text: the lookup's timing can depend only on the SHA-256 digest, which
an attacker cannot steer towards a stored one (that would need a preimage), so nothing is learned about any token,
and the cost stays flat however many moderators hold tokens (a loop over every stored digest grew to 7% of a
moderator's request at 500 tokens). Tokens never appear in logs, errors or reprs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from queueopt.config import ConfigError, format_validation_error, read_toml
from queueopt.domain import VISIBLE_ASCII_PATTERN, ItemId
from queueopt.store.records import moderator_actor


class Role(StrEnum):
    INGEST = "ingest"
    MODERATOR = "moderator"
    ADMIN = "admin"
    METRICS = "metrics"  # a scraper such as Prometheus: /metrics and nothing else


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a role, and for moderators the one moderator id they act as."""

    role: Role
    moderator_id: str | None = None

    @property
    def actor(self) -> str:
        """The name written to the audit log."""
        return moderator_actor(self.moderator_id) if self.moderator_id else self.role.value


class TokenEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    moderator_id: ItemId | None = None
    # Visible ASCII: an HTTP server strips a header's edge spaces and a client may send other characters in another
    # encoding than the one hashed, so such a token could never authenticate (found by a probe).
    token: Annotated[str, StringConstraints(min_length=8, max_length=512, pattern=VISIBLE_ASCII_PATTERN)] | None = (
        Field(default=None, repr=False)
    )
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.token is None) == (self.sha256 is None):
            raise ValueError("give exactly one of token or sha256")
        if (self.role is Role.MODERATOR) != (self.moderator_id is not None):
            raise ValueError("moderator_id is required for role moderator and only for it")
        return self

    @property
    def digest(self) -> bytes:
        if self.sha256 is not None:
            return bytes.fromhex(self.sha256)
        assert self.token is not None
        return hashlib.sha256(self.token.encode()).digest()


class TokenFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: list[TokenEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        """One token, one principal: a token listed twice would make the role depend on the order of the file."""
        seen: set[bytes] = set()
        for index, entry in enumerate(self.tokens):
            if entry.digest in seen:
                raise ValueError(f"tokens.{index} repeats an earlier token")
            seen.add(entry.digest)
        return self


class Authenticator:
    """Maps a presented bearer token to its principal."""

    __slots__ = ("_principals",)

    def __init__(self, entries: list[TokenEntry]) -> None:
        self._principals = {entry.digest: Principal(entry.role, entry.moderator_id) for entry in entries}

    def __repr__(self) -> str:
        return f"Authenticator({len(self._principals)} tokens)"

    @classmethod
    def from_file(cls, path: str | Path) -> Self:
        """Load a token file; every problem is a `ConfigError` naming the field, never echoing a token."""
        data = read_toml(path)
        try:
            parsed = TokenFile.model_validate(data)
        except ValidationError as error:
            raise ConfigError(str(path), format_validation_error(error)) from None
        return cls(parsed.tokens)

    def authenticate(self, token: str) -> Principal | None:
        presented = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        return self._principals.get(presented)
