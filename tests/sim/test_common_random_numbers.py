"""Common random numbers across variants of a scenario: a change to one part leaves every other part's draws alone.

Found by a probe: a shorter horizon redrew every item's mix, scores, truth and views; a busier stream moved the
service draws of every other stream's items (drawn by merged arrival position); a moderator more in one roster group
redrew every other group's accuracy and speed. `compare` of such variants lost most of its pairing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from queueopt.sim.arrivals import PER_ITEM_COLUMNS, Arrivals, sample_arrivals
from queueopt.sim.roster import build_moderators
from queueopt.sim.scenario import Scenario, parse_scenario

from .helpers import ONE_QUEUE_OPS, mm_c

PER_ITEM = ("at_s", *PER_ITEM_COLUMNS)


def _stream(name: str, rate_per_hour: float) -> dict[str, Any]:
    """A stream that draws every random quantity an item has."""
    return {
        "name": name,
        "rate_per_hour": rate_per_hour,
        "hourly_multipliers": [1.0 + (hour % 3) for hour in range(24)],
        "modality": {"text": 2, "photo": 1, "video": 1},
        "language": {"en": 3, "fr": 1},
        "region": {"us": 1, "eu": 1},
        "source": {"proactive": 3, "user_report": 1},
        "duration_s": {"median": 30, "sigma": 1},
        "signals": {"spam": {"score": {"a": 1, "b": 3}}, "gore": {"score": {"a": 1, "b": 9}}},
        "views_per_hour": {"median": 100, "sigma": 2},
        "views_half_life_s": {"median": 3600, "sigma": 0.5},
        "reports": {"mean": 0.3},
        "duplicate_share": 0.2,
        "patience_s": 900,
    }


def _two_streams(horizon_s: float = 9000.0, fr_rate: float = 300.0, reverse: bool = False) -> Scenario:
    arrivals = [_stream("en", 400.0), _stream("fr", fr_rate)]
    return parse_scenario(
        {
            "ops": ONE_QUEUE_OPS,
            "horizon_s": horizon_s,
            "seed": 11,
            "arrivals": arrivals[::-1] if reverse else arrivals,
            "bursts": [{"start_s": 4000, "length_s": 700, "multiplier": 3, "arrivals": ["fr"]}],
            "roster": mm_c().model_dump(mode="python")["roster"],
        }
    )


def _rows(arrivals: Arrivals, rows: np.ndarray) -> dict[str, Any]:
    """Everything drawn for items `rows`, the item ids (which number the merged arrivals) left out."""
    drawn: dict[str, Any] = {name: getattr(arrivals, name)[rows] for name in PER_ITEM}
    drawn["items"] = [arrivals.items[row].model_dump(exclude={"id"}) for row in rows.tolist()]
    return drawn


def _of_stream(arrivals: Arrivals, scenario: Scenario, name: str) -> dict[str, Any]:
    position = [arrival.name for arrival in scenario.arrivals].index(name)
    return _rows(arrivals, np.flatnonzero(arrivals.stream == position))


def test_a_shorter_horizon_draws_the_first_items_of_a_longer_one_item_for_item() -> None:
    """5,400 s ends inside an hour's constant-rate piece, which a longer horizon draws on past it."""
    short, long = (sample_arrivals(_two_streams(horizon_s=horizon), 0) for horizon in (5400.0, 9000.0))
    assert 0 < len(short) < len(long)
    np.testing.assert_equal(_rows(short, np.arange(len(short))), _rows(long, np.arange(len(short))))
    np.testing.assert_equal(short.stream, long.stream[: len(short)])
    assert long.at_s[len(short)] >= 5400.0


def test_a_busier_stream_leaves_another_streams_items_truth_and_service_draws_alone() -> None:
    base, busier = _two_streams(), _two_streams(fr_rate=330.0)
    before, after = sample_arrivals(base, 0), sample_arrivals(busier, 0)
    assert np.count_nonzero(after.stream == 1) > np.count_nonzero(before.stream == 1)
    np.testing.assert_equal(_of_stream(before, base, "en"), _of_stream(after, busier, "en"))


def test_a_streams_draws_belong_to_its_name_not_its_place_in_the_file() -> None:
    listed, reversed_ = _two_streams(), _two_streams(reverse=True)
    first, second = sample_arrivals(listed, 0), sample_arrivals(reversed_, 0)
    for name in ("en", "fr"):
        np.testing.assert_equal(_of_stream(first, listed, name), _of_stream(second, reversed_, name))


def _two_groups(vendor_a: int) -> Scenario:
    group = mm_c().model_dump(mode="python")["roster"][0]
    spread = {"speed_spread": 0.4, "accuracy": {"mean": 0.9, "concentration": 20}}
    roster = [{**group, **spread, "name": "vendor_a", "count": vendor_a}, {**group, **spread, "name": "vendor_b"}]
    return mm_c(roster=roster)


def test_a_moderator_more_in_one_group_leaves_every_other_moderator_alone() -> None:
    before, after = build_moderators(_two_groups(3), 0), build_moderators(_two_groups(4), 0)
    assert after.ids == [
        "vendor_a-0",
        "vendor_a-1",
        "vendor_a-2",
        "vendor_a-3",
        "vendor_b-0",
        "vendor_b-1",
        "vendor_b-2",
    ]
    kept = [after.ids.index(moderator) for moderator in before.ids]
    np.testing.assert_equal(after.accuracy[kept], before.accuracy)
    np.testing.assert_equal(after.speed_factor[kept], before.speed_factor)


@pytest.mark.parametrize("name", PER_ITEM[1:])
def test_replications_draw_independently(name: str) -> None:
    scenario = _two_streams()
    first, second = sample_arrivals(scenario, 0), sample_arrivals(scenario, 1)
    size = min(len(first), len(second))
    assert not np.array_equal(getattr(first, name)[:size], getattr(second, name)[:size])
    moderators = [build_moderators(_two_groups(3), replication) for replication in (0, 1)]
    assert not np.array_equal(moderators[0].accuracy, moderators[1].accuracy)


def test_arrivals_follow_the_hourly_rates_and_bursts() -> None:
    """Drawn by a time change of unit exponentials: each hour's count matches its rate, bursts included."""
    scenario = _two_streams(horizon_s=86400.0)
    arrivals = sample_arrivals(scenario, 0)
    for position, arrival in enumerate(scenario.arrivals):
        times = arrivals.at_s[arrivals.stream == position]
        for start, end, rate in scenario.rate_segments(arrival, scenario.horizon_s):
            expected = rate * (end - start)
            count = np.count_nonzero((times >= start) & (times < end))
            assert abs(count - expected) < 5.0 * np.sqrt(expected) + 1.0
    assert np.all(np.diff(arrivals.at_s) >= 0) and arrivals.at_s[-1] < scenario.horizon_s
