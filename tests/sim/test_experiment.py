import math
from pathlib import Path

import numpy as np
import pytest

from queueopt.sim.experiment import Experiment, compare, compare_strategies, run_experiment
from queueopt.sim.kpis import kpis
from queueopt.sim.report import summary
from queueopt.sim.simulator import RunRecord, simulate
from queueopt.sim.variants import scaled

from .helpers import ONE_QUEUE_OPS, example, mm_c


def test_results_do_not_depend_on_the_number_of_workers() -> None:
    scenario = mm_c(horizon_s=4000.0, replications=3)
    serial, parallel = run_experiment(scenario), run_experiment(scenario, workers=2)
    np.testing.assert_equal(serial.replications, parallel.replications)  # NaN equals NaN here


class _FailingAt:
    """A measure that leaves a file per replication it measures, in a worker process too, and fails at one."""

    def __init__(self, folder: Path, failing: int) -> None:
        self.folder, self.failing = folder, failing

    def __call__(self, run: RunRecord) -> dict[str, float]:
        (self.folder / str(run.replication)).touch()
        if run.replication == self.failing:
            raise RuntimeError("this replication fails")
        return kpis(run)


def test_a_failed_or_interrupted_replication_drops_the_queued_ones(tmp_path: Path) -> None:
    """Found by a probe: Ctrl-C with `--workers 2` and 300 replications queued exited 40 s later, having run every
    one of them, since leaving the pool's `with` block waited for all it had been given."""
    scenario = mm_c(horizon_s=300.0, replications=40)
    with pytest.raises(RuntimeError, match="this replication fails"):
        run_experiment(scenario, workers=2, measure=_FailingAt(tmp_path, 1))
    assert len(list(tmp_path.iterdir())) < 10  # the first, the failed one and those already handed to a worker


def test_common_random_numbers_narrow_the_paired_interval() -> None:
    scenario = mm_c(servers=3, load=0.8, horizon_s=6000.0, replications=6, tick_s=5.0)
    experiments = compare_strategies(scenario, ["fifo", "optimal"])
    difference = compare(experiments["fifo"], experiments["optimal"])["overall.wait_mean_s"]
    independent = difference.a.half_width + difference.b.half_width
    assert difference.difference.half_width < 0.5 * independent


def test_replication_r_is_the_run_seeded_by_r() -> None:
    """Common random numbers pair replication r of one strategy with replication r of another: each must be the run
    its own index seeds, the first included, or two replications of one experiment are the same run."""
    scenario = mm_c(horizon_s=2000.0)
    for workers in (1, 2):
        experiment = run_experiment(scenario, replications=3, workers=workers)
        runs = [kpis(simulate(scenario, replication)) for replication in range(3)]
        np.testing.assert_equal(experiment.replications, runs)
        assert experiment.first_run.replication == 0


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


def test_a_scaled_copy_may_scale_each_stream_by_its_own_factor() -> None:
    day = example("example_day.toml")
    factors = [float(k + 1) for k in range(len(day.arrivals))]
    uneven = scaled(day, factors, roster=1.0)
    assert [group.count for group in uneven.roster] == [group.count for group in day.roster]
    for factor, before, after in zip(factors, day.arrivals, uneven.arrivals, strict=True):
        assert after.rates_per_s == pytest.approx([rate * factor for rate in before.rates_per_s])
    with pytest.raises(ValueError, match="roster"):
        scaled(day, factors)
    with pytest.raises(ValueError, match="positive"):
        scaled(day, [0.0] * len(day.arrivals), roster=1.0)


def test_every_queue_has_its_kpis_even_in_a_replication_where_it_had_no_items() -> None:
    ops = {
        **ONE_QUEUE_OPS,
        "queues": [
            {"name": "main", "sla_s": 600, "sla_target": 0.8},
            {"name": "rare", "sla_s": 600, "sla_target": 0.8},
        ],
        "rules": [
            {"name": "spanish", "queue": "rare", "when": {"language": ["es"]}},
            {"name": "rest", "queue": "main"},
        ],
    }
    measured = kpis(simulate(mm_c(horizon_s=2000.0, ops=ops)))
    assert measured["queue.rare.items"] == 0.0 and measured["queue.rare.harmful_views"] == 0.0
    assert math.isnan(measured["queue.rare.wait_mean_s"]) and math.isnan(measured["queue.rare.sla_attainment"])


def test_a_kpi_is_estimated_and_compared_over_the_replications_that_measured_it() -> None:
    """A count is 0 where a queue had no items, and averages over every replication; a share is NaN there, and
    is estimated from the others, and compared over the pairs where both strategies measured it, whichever
    replication is first."""
    nan = math.nan
    a = Experiment(None, "a", [{"n": 0.0, "share": nan}, {"n": 2.0, "share": 0.5}, {"n": 4.0, "share": 0.7}], None, 0.0)  # type: ignore[arg-type]
    b = Experiment(None, "b", [{"n": 0.0, "share": 0.1}, {"n": 1.0, "share": nan}, {"n": 2.0, "share": 0.4}], None, 0.0)  # type: ignore[arg-type]
    assert a.estimates()["n"].mean == pytest.approx(2.0)
    assert a.estimates()["share"].mean == pytest.approx(0.6)
    differences = compare(a, b)
    assert differences["n"].difference.mean == pytest.approx(1.0)
    share = differences["share"]
    assert (share.a.mean, share.b.mean, share.difference.mean) == (0.7, 0.4, pytest.approx(0.3))
    assert share.difference.half_width == math.inf and share.pairs == 1  # one pair: no interval
    assert differences["n"].pairs == 3


def test_an_estimate_stops_at_the_range_of_what_its_kpi_measures() -> None:
    """From two replications a share near 1 has a t interval reaching past 1, and a count near 0 one below 0; the
    report and summary.json print each KPI's estimate, so it stops where the KPI does."""
    runs = [{"overall.sla_attainment": 0.97, "overall.budget_breaches": 0.0}]
    runs.append({"overall.sla_attainment": 1.0, "overall.budget_breaches": 2.0})
    estimates = Experiment(None, "a", runs, None, 0.0).estimates()  # type: ignore[arg-type]
    share, breaches = estimates["overall.sla_attainment"], estimates["overall.budget_breaches"]
    assert share.mean + share.half_width > 1.0 and share.high == 1.0
    assert breaches.low == 0.0 and breaches.high == pytest.approx(1.0 + breaches.half_width)


def test_experiments_of_unequal_length_are_compared_over_their_common_replications() -> None:
    """Replication r of one is paired with replication r of the other, as far as the shorter goes."""
    a = Experiment(None, "a", [{"n": 3.0}, {"n": 5.0}, {"n": 9.0}], None, 0.0)  # type: ignore[arg-type]
    b = Experiment(None, "b", [{"n": 1.0}, {"n": 2.0}], None, 0.0)  # type: ignore[arg-type]
    for first, second, difference in ((a, b, 2.5), (b, a, -2.5)):
        compared = compare(first, second)["n"]
        assert compared.pairs == 2 and compared.difference.mean == pytest.approx(difference)


def test_the_summary_has_every_kpi_with_how_many_replications_measured_it() -> None:
    ops = {
        **ONE_QUEUE_OPS,
        "queues": [{"name": name, "sla_s": 600, "sla_target": 0.8} for name in ("main", "rare")],
        "rules": [
            {"name": "spanish", "queue": "rare", "when": {"language": ["es"]}},
            {"name": "rest", "queue": "main"},
        ],
    }
    experiment = run_experiment(mm_c(horizon_s=2000.0, ops=ops, replications=2))
    measured = summary({"fifo": experiment})["strategies"]["fifo"]["kpis"]
    assert measured["queue.rare.sla_attainment"] == dict.fromkeys(("mean", "half_width", "low", "high")) | {
        "replications": 0
    }
    assert measured["queue.rare.items"]["mean"] == 0.0 and measured["queue.rare.items"]["replications"] == 2
    assert measured["overall.sla_attainment"]["replications"] == 2
