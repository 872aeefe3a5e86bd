"""The moderator profile: what a person may review and how much graphic content they may be shown.

A pydantic model because profiles arrive over HTTP and from roster files; the model turns them into bit masks once,
on upsert, so nothing on the scoring path touches this schema again.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from queueopt.domain import Code, ItemId, Modality, ModeratorStatus

Proficiency = Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]


class ModeratorProfile(BaseModel):
    """One moderator's skills, legal reach and wellbeing settings.

    `regions` are the regions whose content this moderator may legally review (data residency); at least one is
    required, because "any region" would silently defeat residency. `languages` map a language code to a proficiency
    in (0, 1] that scales the value of a task in that language. `severe_per_hour` caps the severe items shown in any
    rolling hour; `cooldown_s` keeps severe items away for that long after each one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ItemId
    vendor: Code = "internal"
    site: Code = "default"
    regions: list[Code] = Field(min_length=1, max_length=256)
    languages: dict[Code, Proficiency] = Field(min_length=1, max_length=256)
    modalities: list[Modality] = Field(min_length=1)
    policy_areas: list[Code] = Field(max_length=256)
    clearance: list[Code] = Field(default_factory=list, max_length=64)
    capacity: Annotated[int, Field(ge=1, le=50)] = 1
    severe_per_hour: Annotated[int, Field(ge=0, le=100_000)] = 20
    cooldown_s: Annotated[float, Field(ge=0.0, le=7 * 24 * 3600.0, allow_inf_nan=False)] = 0.0
    status: ModeratorStatus = ModeratorStatus.AVAILABLE
