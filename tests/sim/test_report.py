import html
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from queueopt.sim import report
from queueopt.sim.experiment import Experiment, compare_strategies, run_experiment
from queueopt.sim.kpis import unit, waits
from queueopt.sim.report import CELLS, wait_samples, write_report
from queueopt.sim.stats import Estimate, interval

from .helpers import mm_c

SHARES = ("overall.sla_attainment", "queue.main.decided_within_sla_share")


@pytest.fixture(scope="module")
def beyond_range() -> dict[str, Experiment]:
    """Two strategies whose shares average above 1, past the end of their clipped interval (as a simulator fault
    once made them): the report draws error bars from the mean to the interval's ends."""
    experiment = run_experiment(mm_c(horizon_s=2000.0, replications=2))
    replications = [
        {**run, **dict.fromkeys(SHARES, 1.2 + 0.1 * index)} for index, run in enumerate(experiment.replications)
    ]
    faulty = replace(experiment, replications=replications)
    return {"fifo": faulty, "optimal": faulty}


def test_error_bars_are_never_negative() -> None:
    """Found by a probe: a mean above its interval's clipped top gave a negative bar, which matplotlib refuses."""
    bars = report._error_bars([Estimate(1.25, 0.6, 0.0, 1.0), Estimate(-0.5, 0.1, 0.0, np.inf), None])
    assert (bars >= 0.0).all()
    assert bars[:, 0] == pytest.approx([0.6, 0.0]) and bars[:, 1] == pytest.approx([0.0, 0.1])


def test_a_mean_outside_its_interval_is_reported(beyond_range: dict[str, Experiment], tmp_path: Path) -> None:
    """Found by a probe: `simulate -s fifo -s optimal` crashed in the comparison plot after the whole run."""
    summary_path, report_path = write_report(beyond_range, tmp_path / "out")
    sla = json.loads(summary_path.read_text())["strategies"]["fifo"]["kpis"]["overall.sla_attainment"]
    assert sla["mean"] == pytest.approx(1.25) and sla["high"] == 1.0
    assert report_path.read_text().count("data:image/png;base64,") == 8  # three per strategy, comparison, paired


def test_a_report_that_fails_to_build_leaves_no_folder(
    beyond_range: dict[str, Experiment], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a probe: the folder was made before the plots, so a failing plot left it empty."""

    def broken(experiments: object) -> str:
        raise RuntimeError("plot failed")

    monkeypatch.setattr(report, "_comparison_plot", broken)
    out = tmp_path / "new" / "out"
    with pytest.raises(RuntimeError, match="plot failed"):
        write_report(beyond_range, out)
    assert not (tmp_path / "new").exists()


@pytest.fixture(scope="module")
def two_strategies() -> dict[str, Experiment]:
    """An overloaded queue whose items give up waiting, under two strategies."""
    scenario = mm_c(servers=2, load=1.3, horizon_s=3000.0, replications=2, arrival={"patience_s": 120.0})
    return compare_strategies(scenario, ["fifo", "priority"])


def test_each_strategy_has_its_own_plots(two_strategies: dict[str, Experiment], tmp_path: Path) -> None:
    """Found by a review: with several strategies the backlog, wait and SLA plots showed the first one only."""
    page = write_report(two_strategies, tmp_path)[1].read_text()
    for name in two_strategies:
        assert f"<h2>Strategy {name}</h2>" in page
        for plot in ("Backlog over time", "Wait distribution by queue", "Decided within SLA by queue"):
            assert page.count(f'alt="{plot} ({name})"') == 1
    assert page.count('alt="Strategies compared"') == 1 and page.count('alt="Paired differences against fifo"') == 1
    assert page.count("data:image/png;base64,") == 3 * 2 + 2


def test_the_table_says_what_its_cells_are_and_each_kpi_its_unit(
    two_strategies: dict[str, Experiment], tmp_path: Path
) -> None:
    """Found by a review: the page said "half widths" above cells that print `mean [low, high]`, and gave no units."""
    page = write_report(two_strategies, tmp_path)[1].read_text()
    assert html.escape(CELLS) in page and "[low, high]" in CELLS and "half width" not in page
    assert "<th>fifo: mean [95% CI]</th><th>priority: mean [95% CI]</th>" in page
    estimates = two_strategies["fifo"].estimates()
    for kpi in estimates:
        assert unit(kpi), kpi  # every KPI the simulator measures has a unit
    wait = estimates["overall.wait_mean_s"]
    assert f"<tr><td>overall.wait_mean_s</td><td>s</td><td>{interval(wait)}</td>" in page
    assert "<tr><td>overall.sla_attainment</td><td>share, 0-1</td>" in page
    cost = "<tr><td>overall.cost_per_moderator_decision</td><td>currency (as hourly_cost) per moderator decision"
    assert cost in page


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("queue.main.time_to_decision_p95_s", "s"),
        ("stream.item.wait_mean_s", "s"),
        ("queue.main.decided_within_sla_share", "share, 0-1"),
        ("overall.utilisation", "share, 0-1"),
        ("overall.harmful_views", "views"),
        ("overall.cost", "currency (as hourly_cost)"),
        ("overall.overtime_hours", "moderator-hours"),
        ("overall.severe_per_moderator_hour", "count per moderator-hour"),
        ("overall.moderator_decisions", "count"),
        ("overall.little_ratio", "ratio"),
        ("overall.unheard_of", ""),
    ],
)
def test_units_come_from_the_name(name: str, expected: str) -> None:
    assert unit(name) == expected


def test_the_wait_plot_leaves_out_abandoned_items(two_strategies: dict[str, Experiment]) -> None:
    """Found by a review: an abandoned item's wait (its patience) was drawn as a wait until a moderator started."""
    run = two_strategies["fifo"].first_run
    samples, abandoned_count = wait_samples(run)["main"]
    counted = (run.arrivals.at_s >= run.scenario.warmup_s) & (run.queue == 0)
    abandoned = counted & ~np.isnan(run.abandoned_at)
    served = counted & np.isnan(run.abandoned_at)
    assert abandoned_count == abandoned.sum() > 10
    assert np.array_equal(samples, waits(run)[served])
    assert samples.size + abandoned_count == counted.sum()


def test_a_queue_whose_items_all_abandoned_keeps_its_row_in_the_wait_plot() -> None:
    """Found by a review: a queue nobody could serve, all of whose items gave up, left the wait plot altogether, its
    abandoned count with it: the worst queue of the run read as absent rather than as all abandoned."""
    unserved = mm_c(servers=2, horizon_s=3000.0, arrival={"patience_s": 30.0}, group={"languages": {"es": 1.0}})
    experiment = run_experiment(unserved, replications=1)
    run = experiment.first_run
    values, abandoned = wait_samples(run)["main"]
    assert values.size == 0 and abandoned > 10
    groups, labels = report.wait_groups(run)
    assert labels == [f"main ({abandoned} abandoned, not drawn)"] and groups[0].size == 0
    assert report._wait_plot(experiment, "fifo")  # drawn, though no box has a point
