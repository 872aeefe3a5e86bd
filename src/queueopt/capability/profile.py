"""The moderator profile: what a person may review and how much graphic content they may be shown.

A pydantic model because profiles arrive over HTTP and from roster files; the model turns them into bit masks once,
on upsert, so nothing on the scoring path touches this schema again.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from queueopt.config import OpsConfig
from queueopt.domain import (
    MAX_CLEARANCE_TIERS,
    MAX_POLICY_AREAS,
    Code,
    ItemId,
    Modality,
    ModeratorStatus,
    a_number,
)

T = TypeVar("T", bound=Hashable)


def _unique(values: list[T]) -> list[T]:
    """Each skill once, in the order given: one listed twice is no stronger a skill. Dropped, not refused, so that a
    profile stored before this check was made still loads."""
    return list(dict.fromkeys(values))


# The bounds of a profile's fields, shared with the simulator's roster groups, which become profiles: a group the
# scenario accepts must make profiles the engine accepts. A number must be one: `"capacity": true` is not 1.
_Number = BeforeValidator(a_number)
Proficiency = Annotated[float, _Number, Field(gt=0.0, le=1.0, allow_inf_nan=False)]
Regions = Annotated[list[Code], Field(min_length=1, max_length=256), AfterValidator(_unique)]
Modalities = Annotated[list[Modality], Field(min_length=1), AfterValidator(_unique)]
PolicyAreas = Annotated[list[Code], Field(max_length=MAX_POLICY_AREAS), AfterValidator(_unique)]
Clearance = Annotated[list[Code], Field(max_length=MAX_CLEARANCE_TIERS), AfterValidator(_unique)]
Capacity = Annotated[int, _Number, Field(ge=1, le=50)]
SeverePerHour = Annotated[int, _Number, Field(ge=0, le=100_000)]
CooldownS = Annotated[float, _Number, Field(ge=0.0, le=7 * 24 * 3600.0, allow_inf_nan=False)]


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
    regions: Regions
    languages: dict[Code, Proficiency] = Field(min_length=1, max_length=256)
    modalities: Modalities
    policy_areas: PolicyAreas
    clearance: Clearance = Field(default_factory=list)
    capacity: Capacity = 1
    severe_per_hour: SeverePerHour = 20
    cooldown_s: CooldownS = 0.0
    status: ModeratorStatus = ModeratorStatus.AVAILABLE


def clearance_tiers(config: OpsConfig) -> frozenset[str]:
    """Every clearance tier the config names, on a policy area or a queue."""
    tiers = {area.clearance for area in config.policy_areas if area.clearance is not None}
    tiers.update(tier for queue in config.queues for tier in queue.requires.clearance)
    return frozenset(tiers)


def unknown_skills(
    policy_areas: Iterable[str], clearance: Iterable[str], areas: Iterable[str], tiers: Iterable[str]
) -> list[tuple[str, str]]:
    """`(field, reason)` for each policy area or clearance tier of a profile (or a simulated roster group) that the
    ops config, whose `areas` and `tiers` are given, does not define: a misspelt one would silently never qualify
    anyone, so it is refused wherever a profile comes in (the API, a roster file, a scenario)."""
    known_areas, known_tiers = set(areas), set(tiers)
    problems = [
        (f"policy_areas.{index}", f"unknown policy area {area!r}")
        for index, area in enumerate(policy_areas)
        if area not in known_areas
    ]
    problems += [
        (f"clearance.{index}", f"unknown clearance tier {tier!r}; the ops config names {sorted(known_tiers)}")
        for index, tier in enumerate(clearance)
        if tier not in known_tiers
    ]
    return problems
