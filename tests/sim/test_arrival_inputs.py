"""The arrivals a scenario describes are the ones drawn: the rate of each hour and of a burst, the truth behind a
score, the views and patience of an item, and a replayed trace's rows.

Each test here catches a plausible slip the rest of the suite let through (a mutation review); statistical checks
use fixed seeds and bounds many standard errors wide.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from queueopt.sim.arrivals import _times, sample_arrivals
from queueopt.sim.roster import DAY_S
from queueopt.sim.scenario import LogisticCalibration

from .helpers import mm_c

HOUR_S = 3600.0
MULTIPLIERS = [float(hour + 1) for hour in range(24)]


def test_each_hour_of_day_has_its_own_rate() -> None:
    """Hour `h` of every day runs at the h-th multiplier, from its first second to its last."""
    scenario = mm_c(arrival={"rate_per_hour": 36.0, "hourly_multipliers": MULTIPLIERS})
    [arrival] = scenario.arrivals
    for day in (0, 2):
        for hour, multiplier in enumerate(MULTIPLIERS):
            for second in (0.0, 1800.0, HOUR_S - 1.0):
                t = day * DAY_S + hour * HOUR_S + second
                assert scenario.rate_at(arrival, t) == pytest.approx(0.01 * multiplier)


def test_hourly_rates_are_per_hour() -> None:
    rates = [3600.0 * (hour + 1) for hour in range(24)]
    scenario = mm_c(arrival={"rate_per_hour": None, "hourly_rates": rates})
    [arrival] = scenario.arrivals
    assert [scenario.rate_at(arrival, hour * HOUR_S) for hour in range(24)] == pytest.approx(MULTIPLIERS)


def test_a_burst_for_one_stream_leaves_the_others_alone() -> None:
    item = mm_c().model_dump(mode="python")["arrivals"][0]
    burst = {"start_s": 1000.0, "length_s": 500.0, "multiplier": 5.0, "arrivals": ["busy"]}
    scenario = mm_c(arrivals=[{**item, "name": "busy"}, {**item, "name": "calm"}], bursts=[burst])
    busy, calm = scenario.arrivals
    base = busy.rates_per_s[0]
    assert scenario.rate_at(busy, 1200.0) == pytest.approx(5.0 * base)
    assert scenario.rate_at(calm, 1200.0) == pytest.approx(base)
    assert [rate for _, _, rate in scenario.rate_segments(calm, 3000.0)] == pytest.approx([base])


def test_a_logistic_calibration_rises_with_the_score() -> None:
    """A higher score means more likely violating: the sign of the slope is the calibration's whole meaning."""
    calibration = LogisticCalibration(kind="logistic", slope=8.0, midpoint=0.5)
    low, middle, high = calibration.probability(np.array([0.1, 0.5, 0.9]))
    assert low < 0.1 and middle == pytest.approx(0.5) and high > 0.9


def _busy(**arrival: object) -> dict[str, object]:
    """An hour of a stream of 3,600 items an hour: enough items for a statistic to sit many errors from a slip."""
    return {"horizon_s": HOUR_S, "arrival": {"rate_per_hour": 3600.0, **arrival}}


def test_a_higher_score_is_more_often_truly_violating() -> None:
    """Calibrated (identity) scores: an item scoring above 0.9 violates at least 90% of the time, one below 0.1 at
    most 10%; a truth drawn against the wrong tail of the curve flips both."""
    arrivals = sample_arrivals(mm_c(**_busy(signals={"spam": {"score": {"a": 1.0, "b": 1.0}}})), 0)
    scores = np.asarray([item.signals["spam"] for item in arrivals.items])
    assert arrivals.violating[scores > 0.9].mean() > 0.8
    assert arrivals.violating[scores < 0.1].mean() < 0.2
    assert arrivals.violating.mean() == pytest.approx(scores.mean(), abs=0.05)


def test_copies_share_their_originals_scores_and_truth_at_the_drawn_share() -> None:
    arrival = {"duplicate_share": 0.2, "signals": {"spam": {"score": {"a": 1.0, "b": 1.0}}}}
    arrivals = sample_arrivals(mm_c(**_busy(**arrival)), 0)
    first: dict[str | None, int] = {}
    copies = 0
    for row, item in enumerate(arrivals.items):
        original = first.setdefault(item.content_hash, row)
        if original != row:
            copies += 1
            assert item.signals == arrivals.items[original].signals
            assert arrivals.violating[row] == arrivals.violating[original]
    assert copies / len(arrivals) == pytest.approx(0.2, abs=0.05)


def test_views_without_a_half_life_stay_constant() -> None:
    arrivals = sample_arrivals(mm_c(**_busy(views_per_hour={"median": 100.0, "sigma": 1.0})), 0)
    index = np.arange(len(arrivals))
    assert np.isinf(arrivals.half_life_s).all()
    assert arrivals.views(index, np.full(index.size, 1800.0)) == pytest.approx(arrivals.views_per_hour / 2.0)


def test_patience_is_drawn_with_the_mean_given() -> None:
    arrivals = sample_arrivals(mm_c(**_busy(patience_s=120.0)), 0)
    assert arrivals.patience_s.mean() == pytest.approx(120.0, rel=0.1)


def test_a_replayed_trace_keeps_its_rows_truths_half_lives_and_horizon(tmp_path: Path) -> None:
    """A row without a truth whose score is 1 (0) violates (does not) whatever the draw; a row arriving at the
    horizon is outside the run."""
    trace = tmp_path / "trace.csv"
    trace.write_text(
        "id,arrive_at_s,modality,language,region,signals.spam,views_half_life_s\n"
        "sure,1,text,en,us,1.0,600\nclean,2,text,en,us,0.0,\nlate,100,text,en,us,1.0,\n"
    )
    scenario = mm_c(horizon_s=100.0, trace=str(trace), arrival={"rate_per_hour": 0.0})
    arrivals = sample_arrivals(scenario, 0)
    assert [item.signals for item in arrivals.items] == [{"spam": 1.0}, {"spam": 0.0}]
    assert arrivals.violating.tolist() == [True, False]
    assert arrivals.half_life_s.tolist() == [600.0, math.inf]


def test_each_quantity_of_an_item_draws_from_a_stream_of_its_own() -> None:
    """Every quantity of a stream has its own stream of random numbers, so that a variant changing one leaves the
    others alone; two quantities read from one stream are also tied item by item. A half-life drawn from the views'
    stream gave each item's half-life the same standard normal as its views (a correlation of 1 between their
    logarithms: the most viewed items kept their views the longest), and languages chosen from the modalities'
    stream paired each modality with one language."""
    lognormal = {"median": 100.0, "sigma": 1.0}
    arrivals = sample_arrivals(
        mm_c(
            **_busy(
                views_per_hour=lognormal,
                views_half_life_s=lognormal,
                modality={"text": 1.0, "photo": 1.0},
                language={"en": 1.0, "fr": 1.0},
            )
        ),
        0,
    )
    assert len(arrivals) > 3000
    correlation = np.corrcoef(np.log(arrivals.views_per_hour), np.log(arrivals.half_life_s))[0, 1]
    assert abs(correlation) < 0.1  # about 0.017 apart: six standard errors
    pairs = [(item.modality, item.language) for item in arrivals.items]
    for pair in {("text", "en"), ("text", "fr"), ("photo", "en"), ("photo", "fr")}:
        assert pairs.count(pair) / len(pairs) == pytest.approx(0.25, abs=0.05), pair


def test_a_copy_repeats_an_earlier_item_never_itself() -> None:
    """An item that repeats content picks it among the items before it. Picked among those up to and including
    itself, the second item of a stream, which may only repeat the first, was an original half the time it was
    drawn as a copy; over a long stream the share of copies hardly moves, so only the first items tell. With 95%
    copies, the second item repeats the first in about 95% of replications (half of that under the slip)."""
    scenario = mm_c(horizon_s=60.0, arrival={"rate_per_hour": 300.0, "duplicate_share": 0.95})
    second_repeats_first = []
    for replication in range(200):
        items = sample_arrivals(scenario, replication).items
        if len(items) >= 2:
            second_repeats_first.append(items[1].content_hash == items[0].content_hash)
    assert len(second_repeats_first) > 50
    assert np.mean(second_repeats_first) > 0.8


def test_arrival_times_do_not_depend_on_how_the_unit_exponentials_fall_into_blocks() -> None:
    """The k-th arrival comes when the expected count reaches the sum of the first k unit exponentials, drawn in
    blocks sized to cover the horizon's expected count with room to spare. A later block is summed on from the
    level the last reached; summed from 0 it started the arrivals over from the beginning. A block falls short
    almost never with real draws, so here every gap is 0.5: an arrival every half an expected arrival."""

    class HalfGaps:
        blocks = 0

        def standard_exponential(self, size: int) -> np.ndarray:
            self.blocks += 1
            assert self.blocks < 10, "the blocks never reach the horizon's expected count"
            return np.full(size, 0.5)

    scenario = mm_c(horizon_s=HOUR_S, arrival={"rate_per_hour": 360.0})
    [arrival] = scenario.arrivals
    times = _times(scenario, arrival, HalfGaps())  # type: ignore[arg-type]
    expected = 5.0 * np.arange(1, 720)  # 360 expected arrivals in the hour: one per 10 s, each gap half of that
    np.testing.assert_allclose(times, expected)
