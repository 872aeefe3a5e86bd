import numpy as np
import pytest

from queueopt.sim.experiment import compare, compare_strategies, run_experiment
from queueopt.sim.variants import scaled

from .helpers import example, mm_c


def test_results_do_not_depend_on_the_number_of_workers() -> None:
    scenario = mm_c(horizon_s=4000.0, replications=3)
    serial, parallel = run_experiment(scenario), run_experiment(scenario, workers=2)
    np.testing.assert_equal(serial.replications, parallel.replications)  # NaN equals NaN here


def test_common_random_numbers_narrow_the_paired_interval() -> None:
    scenario = mm_c(servers=3, load=0.8, horizon_s=6000.0, replications=6, tick_s=5.0)
    experiments = compare_strategies(scenario, ["fifo", "optimal"])
    difference = compare(experiments["fifo"], experiments["optimal"])["overall.wait_mean_s"]
    independent = difference.a.half_width + difference.b.half_width
    assert difference.difference.half_width < 0.5 * independent


def test_progress_reaches_the_horizon_of_every_replication() -> None:
    scenario = mm_c(horizon_s=2000.0, replications=2)
    seen: dict[int, float] = {}
    run_experiment(scenario, progress=lambda replication, now: seen.__setitem__(replication, now))
    assert seen == {0: 2000.0, 1: 2000.0}


def test_scaled_copy_keeps_the_shape() -> None:
    day = example("example_day.toml")
    small = scaled(day, 0.01)
    assert [group.count for group in small.roster] == [max(1, -(-group.count // 100)) for group in day.roster]
    assert small.arrivals[0].rates_per_s[5] == pytest.approx(day.arrivals[0].rates_per_s[5] * 0.01)
    assert small.bursts == day.bursts
    with pytest.raises(ValueError, match="positive"):
        scaled(day, 0.0)
