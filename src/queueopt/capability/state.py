"""The serialised form of a capability model, validated on the way back in so a corrupt snapshot is refused whole."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from queueopt.capability.profile import ModeratorProfile
from queueopt.domain import Modality

NO_AREA = "*"
Count = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class ModeratorState(BaseModel):
    """`accuracy` maps a policy area (`*` for none) to (correct, trials); `handling` a modality to Welford
    (count, mean, m2) of log seconds per media unit."""

    model_config = ConfigDict(extra="forbid")

    profile: ModeratorProfile
    accuracy: dict[str, tuple[Count, Count]] = Field(default_factory=dict)
    handling: dict[Modality, tuple[Count, Finite, Count]] = Field(default_factory=dict)
    severe_times: list[Finite] = Field(default_factory=list)
    last_severe: Finite | None = None


class ModelState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = 1
    moderators: list[ModeratorState] = Field(default_factory=list)
