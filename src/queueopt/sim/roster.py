"""Moderators of one replication: the profiles the engine sees, the truth it does not, and when each is on duty.

The engine knows a moderator only by a `ModeratorProfile` and learns accuracy and speed from decisions. The
simulator holds each moderator's true accuracy and speed factor, drawn once per replication from the roster
group, and turns an item's standardised draws into that moderator's handling time and mistakes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from queueopt.capability import ModeratorProfile
from queueopt.domain import Modality, ModeratorStatus
from queueopt.sim.randomness import substream
from queueopt.sim.scenario import RosterGroup, Scenario

NO_SEVERE_LIMIT = 100_000
DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class StatusChange:
    """`shift_end`: the moderator's shift ends here (not a break): a review still under way runs on, as overtime
    until it ends or until `next_shift_s`, when their next shift begins (inf: none within the horizon) and the
    review runs on on shift, already paid."""

    at_s: float
    moderator: int
    status: ModeratorStatus
    shift_end: bool = False
    next_shift_s: float = math.inf


@dataclass(slots=True)
class Moderators:
    """Row `m` is moderator `ids[m]` of roster group `group[m]`."""

    ids: list[str]
    profiles: list[ModeratorProfile]
    group: np.ndarray
    accuracy: np.ndarray
    speed_factor: np.ndarray
    groups: list[RosterGroup]
    changes: list[StatusChange]

    def __len__(self) -> int:
        return len(self.ids)

    def handling_s(self, moderator: int, modality: Modality, duration_s: float, normal: float, unit: float) -> float:
        """This moderator's true time for an item, from the item's standard normal and unit exponential draws."""
        # `item` reads a Python number, not a numpy scalar: the same value, cheaper to read and to compute with.
        group: int = self.group.item(moderator)
        speed = self.groups[group].speed[modality]
        if speed.mean_s is not None:
            base = speed.mean_s * unit
        else:
            assert speed.median_s is not None
            base = speed.median_s * math.exp(speed.sigma * normal)
        factor: float = self.speed_factor.item(moderator)
        return (base + speed.duration_factor * duration_s) * factor

    def on_duty_s(self, start_s: float, end_s: float) -> np.ndarray:
        """Seconds each moderator spends on shift (breaks included: they are paid) within `[start_s, end_s)`."""
        totals = np.zeros(len(self))
        for row, group in enumerate(self.group.tolist()):
            totals[row] = _shift_overlap(self.groups[group], start_s, end_s)
        return totals


def _profile(group: RosterGroup, moderator_id: str) -> ModeratorProfile:
    limit = NO_SEVERE_LIMIT if group.severe_per_hour is None else group.severe_per_hour
    return ModeratorProfile(
        id=moderator_id,
        vendor=group.vendor,
        site=group.site,
        regions=group.regions,
        languages=group.languages,
        modalities=group.modalities,
        policy_areas=group.policy_areas,
        clearance=group.clearance,
        capacity=group.capacity,
        severe_per_hour=limit,
        cooldown_s=group.cooldown_s,
        status=ModeratorStatus.OFFLINE,
    )


def _duty_spans(group: RosterGroup, horizon_s: float) -> list[tuple[float, float]]:
    """On-shift `[start, end)` spans over the horizon, joined across midnight where one shift continues another."""
    spans: list[tuple[float, float]] = []
    for day in range(math.ceil(horizon_s / DAY_S)):
        for shift in group.shifts:
            for start_h, end_h in shift.hours():
                spans.append((day * DAY_S + start_h * 3600.0, day * DAY_S + end_h * 3600.0))
    spans.sort()
    joined: list[tuple[float, float]] = []
    for start, end in spans:
        start, end = max(start, 0.0), min(end, horizon_s)
        if start >= end:
            continue
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def _shift_overlap(group: RosterGroup, start_s: float, end_s: float) -> float:
    return sum(max(0.0, min(end, end_s) - max(start, start_s)) for start, end in _duty_spans(group, end_s))


def _timeline(group: RosterGroup, moderator: int, phase: float, horizon_s: float) -> list[StatusChange]:
    """Available on shift, away on breaks and off shift. Breaks come every `every_s` on shift, staggered across
    the group by `phase` in [0, 1) so a whole team never leaves at once."""
    changes = []
    spans = _duty_spans(group, horizon_s)
    for index, (start, end) in enumerate(spans):
        changes.append(StatusChange(start, moderator, ModeratorStatus.AVAILABLE))
        if group.breaks is not None:
            every, length = group.breaks.every_s, group.breaks.length_s
            at = start + every * (1.0 - phase) - length
            while at + length < end:
                if at > start:
                    changes.append(StatusChange(at, moderator, ModeratorStatus.AWAY))
                    changes.append(StatusChange(at + length, moderator, ModeratorStatus.AVAILABLE))
                at += every
        if end < horizon_s:
            next_shift = spans[index + 1][0] if index + 1 < len(spans) else math.inf
            changes.append(StatusChange(end, moderator, ModeratorStatus.AWAY, shift_end=True, next_shift_s=next_shift))
    return changes


def build_moderators(scenario: Scenario, replication: int) -> Moderators:
    """Profiles (all starting offline), true accuracy and speed, and every status change over the horizon.

    Each group's accuracies and speed factors come from streams of that group's own, moderator by moderator, so a
    group grown or shrunk leaves every other group's moderators, and its own first ones, as they were.
    """
    ids: list[str] = []
    profiles: list[ModeratorProfile] = []
    groups: list[int] = []
    accuracy: list[np.ndarray] = []
    speed: list[np.ndarray] = []
    changes: list[StatusChange] = []
    for position, group in enumerate(scenario.roster):
        beta = group.accuracy.beta
        accuracy.append(
            substream(scenario.seed, replication, "roster", group.name, "accuracy").beta(beta.a, beta.b, group.count)
        )
        spread = substream(scenario.seed, replication, "roster", group.name, "speed_factor")
        speed.append(np.exp(group.speed_spread * spread.standard_normal(group.count)))
        for member in range(group.count):
            row = len(ids)
            moderator_id = f"{group.name}-{member}"
            ids.append(moderator_id)
            profiles.append(_profile(group, moderator_id))
            groups.append(position)
            phase = (group.breaks.phase if group.breaks is not None else 0.0) + member / group.count
            changes.extend(_timeline(group, row, phase % 1.0, scenario.horizon_s))
    changes.sort(key=lambda change: (change.at_s, change.moderator))
    return Moderators(
        ids=ids,
        profiles=profiles,
        group=np.asarray(groups, dtype=np.int64),
        accuracy=np.concatenate(accuracy),
        speed_factor=np.concatenate(speed),
        groups=list(scenario.roster),
        changes=changes,
    )
