import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from queueopt.sim import report
from queueopt.sim.experiment import Experiment, run_experiment
from queueopt.sim.report import write_report
from queueopt.sim.stats import Estimate

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
    assert report_path.read_text().count("data:image/png;base64,") == 4


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
