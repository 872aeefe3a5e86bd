"""The serialised form of a capability model, validated on the way back in so a corrupt snapshot is refused whole."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from queueopt.capability.profile import ModeratorProfile
from queueopt.domain import Modality

NO_AREA = "*"
Count = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Learned(BaseModel):
    """What QA outcomes and handling times taught the model about one moderator. `accuracy` maps a policy area
    (`*` for none) to (correct, trials); `handling` a modality to Welford (count, mean, m2) of log seconds per media
    unit."""

    model_config = ConfigDict(extra="forbid")

    accuracy: dict[str, tuple[Count, Count]] = Field(default_factory=dict)
    handling: dict[Modality, tuple[Count, Finite, Count]] = Field(default_factory=dict)


class ModeratorState(Learned):
    """A whole snapshot's moderator: the profile, what was learned, and the recent severe items."""

    profile: ModeratorProfile
    severe_times: list[Finite] = Field(default_factory=list)
    last_severe: Finite | None = None
    severe_in_review: int = Field(default=0, ge=0)  # severe items in front of them now: no cool-down has begun


class ModelState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = 1
    moderators: list[ModeratorState] = Field(default_factory=list)


class LearnedModerator(Learned):
    id: str


class LearnedState(BaseModel):
    """What the model learned, without the profiles (the store holds those) or the severe items (the audit log
    does): what the engine keeps in its store so that a restart or a standby's take-over does not forget it."""

    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = 1
    moderators: list[LearnedModerator] = Field(default_factory=list)
