"""Moderators are on duty, on break and as fast and accurate as their roster group says.

Each test here catches a plausible slip the rest of the suite let through (a mutation review).
"""

from __future__ import annotations

import math

import pytest

from queueopt.domain import Modality, ModeratorStatus
from queueopt.sim.roster import DAY_S, Moderators, build_moderators

from .helpers import mm_c

HOUR_S = 3600.0


def _changes(horizon_s: float, **group: object) -> list[tuple[float, ModeratorStatus, bool, float]]:
    moderators = build_moderators(mm_c(servers=1, horizon_s=horizon_s, group=group), 0)
    return [(change.at_s, change.status, change.shift_end, change.next_shift_s) for change in moderators.changes]


def test_a_night_shift_runs_across_midnight_as_one_shift() -> None:
    """22:00 to 06:00 over two days: on from the start to 06:00 and from 22:00 to 06:00 the next day, one shift
    (no shift end at midnight), each shift end naming the next start, and no shift end at the horizon."""
    night = {"shifts": [{"start_h": 22.0, "end_h": 6.0}]}
    available, away = ModeratorStatus.AVAILABLE, ModeratorStatus.AWAY
    assert _changes(2 * DAY_S, **night) == [
        (0.0, available, False, math.inf),
        (6 * HOUR_S, away, True, 22 * HOUR_S),
        (22 * HOUR_S, available, False, math.inf),
        (30 * HOUR_S, away, True, 46 * HOUR_S),
        (46 * HOUR_S, available, False, math.inf),
    ]
    moderators = build_moderators(mm_c(servers=1, horizon_s=2 * DAY_S, group=night), 0)
    assert moderators.on_duty_s(0.0, 2 * DAY_S).tolist() == [16 * HOUR_S]
    assert moderators.on_duty_s(HOUR_S, 23 * HOUR_S).tolist() == [6 * HOUR_S]


def test_a_horizon_ending_mid_day_still_staffs_that_day() -> None:
    moderators = build_moderators(mm_c(horizon_s=1.5 * DAY_S, group={"shifts": [{"start_h": 8.0, "end_h": 16.0}]}), 0)
    assert moderators.on_duty_s(0.0, 1.5 * DAY_S).tolist() == [12 * HOUR_S] * 3  # 08:00-16:00, then 08:00-12:00


def test_breaks_fall_inside_shifts() -> None:
    """Six moderators staggered over the hour: every break starts after its shift starts and is over before it
    ends, whichever moderator's phase puts one on a shift's edge."""
    group = {"count": 6, "shifts": [{"start_h": 8.0, "end_h": 16.0}], "breaks": {"every_s": 3600.0, "length_s": 600.0}}
    moderators = build_moderators(mm_c(horizon_s=DAY_S, group=group), 0)
    start, end = 8 * HOUR_S, 16 * HOUR_S
    for moderator in range(len(moderators)):
        mine = [change for change in moderators.changes if change.moderator == moderator]
        assert (mine[0].at_s, mine[0].status) == (start, ModeratorStatus.AVAILABLE)
        assert (mine[-1].at_s, mine[-1].shift_end) == (end, True)
        breaks = mine[1:-1]
        assert len(breaks) >= 12 and len(breaks) % 2 == 0
        for leave, back in zip(breaks[::2], breaks[1::2], strict=True):
            assert (leave.status, back.status) == (ModeratorStatus.AWAY, ModeratorStatus.AVAILABLE)
            assert start < leave.at_s and back.at_s == leave.at_s + 600.0 and back.at_s < end


def test_a_moderators_profile_speed_and_hours_follow_the_group() -> None:
    group = {
        "severe_per_hour": 3,
        "speed_spread": 0.5,
        "speed": {"text": {"distribution": "exponential", "mean_s": 60.0, "duration_factor": 2.0}},
        "accuracy": {"mean": 0.95},
    }
    moderators = build_moderators(mm_c(servers=50, horizon_s=DAY_S, group=group), 0)
    assert all(profile.severe_per_hour == 3 for profile in moderators.profiles)
    assert moderators.accuracy.mean() == pytest.approx(0.95, abs=0.02)
    for row, factor in enumerate(moderators.speed_factor.tolist()):
        assert moderators.handling_s(row, Modality.TEXT, 100.0, 0.0, 1.5) == pytest.approx((90.0 + 200.0) * factor)
    assert moderators.on_duty_s(HOUR_S, 2 * HOUR_S).tolist() == [HOUR_S] * 50


def _break_starts(moderators: Moderators) -> list[list[float]]:
    starts: list[list[float]] = [[] for _ in range(len(moderators))]
    for change in moderators.changes:
        if change.status is ModeratorStatus.AWAY and not change.shift_end:
            starts[change.moderator].append(change.at_s)
    return starts


def test_a_groups_break_phase_offsets_its_whole_cycle() -> None:
    """`phase` moves every moderator's breaks that far into the cycle, still evenly spread over it: two groups at
    one site offset by half a cycle never leave together. Phase 0 is the stagger groups had before it."""
    group = {"count": 2, "shifts": [{"start_h": 8.0, "end_h": 16.0}]}
    cycle = {"every_s": 3600.0, "length_s": 600.0}
    plain = build_moderators(mm_c(horizon_s=DAY_S, group=group | {"breaks": cycle}), 0)
    offset = build_moderators(mm_c(horizon_s=DAY_S, group=group | {"breaks": cycle | {"phase": 0.25}}), 0)
    first = [starts[0] for starts in _break_starts(plain)]
    assert first == [8 * HOUR_S + 3000.0, 8 * HOUR_S + 1200.0]  # phases 0 and 0.5: 3600 * (1 - phase) - 600
    assert [starts[0] for starts in _break_starts(offset)] == [8 * HOUR_S + 2100.0, 8 * HOUR_S + 300.0]
