import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from queueopt.sim.kpis import natural_range
from queueopt.sim.stats import Estimate, interval, mean_ci, paired_difference_ci, quantiles


def test_mean_ci_matches_the_t_table() -> None:
    # n = 5, sample sd 1.5811 (values 1..5), t_{0.975, 4} = 2.776.
    estimate = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert estimate.mean == 3.0
    assert estimate.half_width == pytest.approx(2.7764451 * math.sqrt(2.5) / math.sqrt(5), rel=1e-6)
    assert estimate.low == pytest.approx(3.0 - estimate.half_width)
    assert estimate.contains(3.0) and not estimate.contains(5.0)


def test_a_single_replication_has_an_unbounded_interval() -> None:
    assert mean_ci([4.2]) == Estimate(4.2, math.inf)


def test_coverage_is_close_to_the_nominal_level() -> None:
    rng = np.random.default_rng(20261124)
    trials = 2000
    samples = rng.exponential(2.0, size=(trials, 30))
    covered = sum(mean_ci(row, 0.9).contains(2.0) for row in samples)
    # Skewed data at n = 30 undercovers slightly; the binomial sd of the rate is 0.0067.
    assert 0.86 <= covered / trials <= 0.93


def test_paired_interval_uses_the_common_random_numbers() -> None:
    rng = np.random.default_rng(7)
    shared = rng.normal(100.0, 20.0, size=20)
    a = shared + 1.0 + rng.normal(0.0, 0.2, size=20)
    b = shared + rng.normal(0.0, 0.2, size=20)
    paired = paired_difference_ci(a, b)
    assert paired.mean == pytest.approx(float(a.mean() - b.mean()))
    assert paired.low > 0.0
    unpaired_half_width = mean_ci(a).half_width + mean_ci(b).half_width
    assert paired.half_width < unpaired_half_width / 10


def test_an_interval_stops_at_the_range_of_what_it_estimates() -> None:
    """Found by a probe: from two replications a share near 1 had an interval reaching past 1 (and a count near 0
    one below 0) in summary.json."""
    share = mean_ci([0.97, 1.0], bounds=natural_range("overall.sla_attainment"))
    assert share.mean + share.half_width > 1.0  # the t interval, unclipped
    assert (share.low, share.high) == (pytest.approx(share.mean - share.half_width), 1.0)
    assert interval(share) == "0.985 [0.7944, 1]"
    breaches = mean_ci([0.0, 2.0], bounds=natural_range("overall.budget_breaches"))
    assert breaches.low == 0.0 and breaches.high == pytest.approx(1.0 + breaches.half_width)
    difference = paired_difference_ci([1.0, 0.0], [0.0, 1.0], bounds=natural_range("queue.q.recall"))
    assert (difference.low, difference.high) == (-1.0, 1.0)
    assert natural_range("queue.q.time_to_decision_p95_s") == (0.0, math.inf)
    assert natural_range("overall.little_ratio") == (0.0, math.inf)
    assert interval(mean_ci([4.2])) == "4.2"


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_an_interval_contains_its_mean_and_its_own_ends(shares: list[float]) -> None:
    """The ends are in the interval: a share of 1 in every replication estimates [1, 1], and the validation tests
    ask such an interval whether it contains the theory's 1 (an open interval said no)."""
    estimate = mean_ci(shares, bounds=(0.0, 1.0))
    assert estimate.contains(estimate.mean)
    assert estimate.contains(estimate.low) and estimate.contains(estimate.high)


def test_quantiles() -> None:
    values = list(range(101))
    assert quantiles(values, [0.5, 0.95, 0.99]) == [50.0, 95.0, 99.0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mean_ci([]), "non-empty"),
        (lambda: mean_ci([1.0, math.nan]), "finite"),
        (lambda: mean_ci([1.0, 2.0], level=1.0), "level"),
        (lambda: paired_difference_ci([1.0, 2.0], [1.0]), "equal lengths"),
        (lambda: quantiles([1.0], [1.5]), "quantile levels"),
    ],
)
def test_bad_input_is_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
