"""The report's paired differences: found by a review, `simulate -s A -s B` showed each strategy's own interval
only, whose overlap hid differences the paired intervals on common random numbers, 8-14x narrower, did show."""

import html
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from queueopt.sim import report
from queueopt.sim.experiment import Experiment, compare, compare_strategies
from queueopt.sim.report import summary, write_report
from queueopt.sim.scenario import Scenario
from queueopt.sim.stats import interval

from .helpers import mm_c

# Student t quantile for a 95% interval from 3 replications (2 degrees of freedom), from a table.
T_975_2 = 4.302652729749464


def _overloaded(replications: int) -> Scenario:
    """An overloaded queue whose items give up waiting: small, and the strategies differ on it."""
    return mm_c(servers=2, load=1.3, horizon_s=3000.0, replications=replications, arrival={"patience_s": 120.0})


@pytest.fixture(scope="module")
def three() -> dict[str, Experiment]:
    """Three strategies, three replications each; priority is fifo on this one queue, a difference of exactly 0."""
    return compare_strategies(_overloaded(3), ["fifo", "optimal", "priority"])


@contextmanager
def _paired_plot_only() -> Iterator[None]:
    """Each strategy's own plots, and their comparison, are not what these tests check, and drawing them is most of
    the time a report takes: they are left blank."""
    with pytest.MonkeyPatch.context() as patch:
        for plot in ("_backlog_plot", "_wait_plot", "_sla_plot", "_comparison_plot"):
            patch.setattr(report, plot, lambda *_: "")
        yield


@pytest.fixture(scope="module")
def page(three: dict[str, Experiment], tmp_path_factory: pytest.TempPathFactory) -> str:
    with _paired_plot_only():
        return write_report(three, tmp_path_factory.mktemp("paired"))[1].read_text()


def test_summary_holds_each_strategys_paired_difference_against_the_first(three: dict[str, Experiment]) -> None:
    paired = json.loads(json.dumps(summary(three)))["paired"]
    assert paired["baseline"] == "fifo" and paired["difference"] == "strategy - baseline"
    assert list(paired["strategies"]) == ["optimal", "priority"]
    for name in ("optimal", "priority"):
        differences = compare(three[name], three["fifo"])
        entries = paired["strategies"][name]
        assert set(differences) <= set(entries)
        for kpi, difference in differences.items():
            estimate = difference.difference
            assert entries[kpi]["mean"] == pytest.approx(estimate.mean), kpi
            assert entries[kpi]["half_width"] == pytest.approx(estimate.half_width), kpi
            assert (entries[kpi]["low"], entries[kpi]["high"]) == pytest.approx((estimate.low, estimate.high)), kpi
            assert entries[kpi]["excludes_zero"] is (not estimate.contains(0.0)), kpi
            assert entries[kpi]["pairs"] == difference.pairs == 3, kpi


def test_a_paired_difference_by_hand(three: dict[str, Experiment]) -> None:
    """optimal - fifo of the mean wait, replication by replication, and its paired t interval."""
    optimal = [run["overall.wait_mean_s"] for run in three["optimal"].replications]
    fifo = [run["overall.wait_mean_s"] for run in three["fifo"].replications]
    differences = np.subtract(optimal, fifo)
    assert np.any(differences != 0.0)  # the strategies differ here, or the check proves little
    half_width = T_975_2 * float(np.std(differences, ddof=1)) / math.sqrt(3)
    entry = summary(three)["paired"]["strategies"]["optimal"]["overall.wait_mean_s"]
    assert entry["mean"] == pytest.approx(float(np.mean(differences)))
    assert entry["half_width"] == pytest.approx(half_width)
    assert entry["low"] == pytest.approx(entry["mean"] - half_width)
    assert entry["excludes_zero"] is (abs(entry["mean"]) > half_width)


def test_the_report_has_the_paired_table(three: dict[str, Experiment], page: str) -> None:
    assert "<h2>Paired differences against fifo</h2>" in page
    assert "same random numbers" in page and "not whether the per-strategy bars above overlap" in page
    assert "the paired differences below do that" in page  # the per-strategy plot's caption points here
    assert page.count('alt="Paired differences against fifo"') == 1
    assert "<th>optimal - fifo: mean [95% CI]</th><th>priority - fifo: mean [95% CI]</th>" in page
    wait = compare(three["optimal"], three["fifo"])["overall.wait_mean_s"].difference
    assert f"<tr><td>overall.wait_mean_s</td><td>s</td><td>{html.escape(interval(wait))}" in page
    assert "<tr><td>overall.sla_attainment</td><td>share, 0-1</td>" in page  # each strategy's own
    assert "<tr><td>overall.sla_attainment</td><td>share difference, -1 to 1</td>" in page  # their difference


def test_one_strategy_has_no_paired_differences(three: dict[str, Experiment]) -> None:
    assert "paired" not in summary({"fifo": three["fifo"]})


def test_one_replication_gives_differences_without_an_interval(three: dict[str, Experiment], tmp_path: Path) -> None:
    """One pair cannot tell a difference from noise: the interval and its verdict are null, and the page says so."""
    experiments = {
        name: replace(three[name], replications=three[name].replications[:1]) for name in ("fifo", "optimal")
    }
    with _paired_plot_only():
        summary_path, report_path = write_report(experiments, tmp_path)
    entry = json.loads(summary_path.read_text())["paired"]["strategies"]["optimal"]["overall.wait_mean_s"]
    only = (
        experiments["optimal"].replications[0]["overall.wait_mean_s"]
        - experiments["fifo"].replications[0]["overall.wait_mean_s"]
    )
    assert entry == {
        "mean": pytest.approx(only),
        "half_width": None,
        "low": None,
        "high": None,
        "excludes_zero": None,
        "pairs": 1,
    }
    page = report_path.read_text()
    assert 'alt="Paired differences against fifo"' in page
    assert "With one replication per strategy there is no interval" in page
    assert f"<tr><td>overall.wait_mean_s</td><td>s</td><td>{only:.4g} (1 pair, no CI)</td></tr>" in page
