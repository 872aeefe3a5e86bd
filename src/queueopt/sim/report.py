"""What `queueopt simulate` leaves behind: `summary.json` (every KPI with its interval) and `report.html`.

The HTML is one self-contained file (plots embedded as base64 PNG) so it can be mailed or attached to a change
request; the JSON is what scripts and dashboards read. Each strategy gets its own plots, from its first replication
(backlog, waits) and from the intervals over its replications (SLA by queue): the point of running several is to
see what each does. With several, a comparison of the headline KPIs follows, and the paired difference of each
strategy against the first: the strategies run on common random numbers, so the difference of replication `r`
cancels most of the noise the per-strategy intervals carry, and overlapping per-strategy bars say nothing about
whether two strategies differ (a review found the report showed only those).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from queueopt.sim.experiment import Difference, Experiment, compare, kpi_names  # noqa: E402
from queueopt.sim.kpis import HEADLINE, backlog_curve, difference_unit, unit, waits  # noqa: E402
from queueopt.sim.simulator import RunRecord  # noqa: E402
from queueopt.sim.stats import Estimate, interval  # noqa: E402

# The strategy comparison's panels: the headline, then what the strategies cost.
COMPARED = (*HEADLINE, "overall.time_to_decision_p95_s", "overall.utilisation", "overall.cost")
CELLS = (
    "Each cell is the mean over the replications followed by its 95% confidence interval as [low, high] (Student t "
    "over replications, cut at the KPI's possible range, e.g. 0-1 for a share); from one replication, the mean alone."
)


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _estimate(estimate: Estimate) -> dict[str, float | None]:
    return {
        "mean": _number(estimate.mean),
        "half_width": _number(estimate.half_width),
        "low": _number(estimate.low),
        "high": _number(estimate.high),
    }


def _kpis(experiment: Experiment) -> dict[str, dict[str, float | int | None]]:
    """Every KPI any replication reported, with the number of replications that measured it: a share of a queue
    that never had an item is all nulls, measured by none, rather than missing."""
    estimates = experiment.estimates()
    result: dict[str, dict[str, float | int | None]] = {}
    for name in sorted(kpi_names(experiment.replications)):
        measured = sum(math.isfinite(run.get(name, math.nan)) for run in experiment.replications)
        estimate = estimates.get(name)
        values = _estimate(estimate) if estimate is not None else dict.fromkeys(("mean", "half_width", "low", "high"))
        result[name] = {**values, "replications": measured}
    return result


def paired(experiments: Mapping[str, Experiment]) -> dict[str, dict[str, Difference]]:
    """Each strategy after the first against the first, `strategy - first` per KPI (`experiment.compare`): what
    choosing it instead of the first changes, on the same items."""
    baseline = next(iter(experiments.values()))
    return {name: compare(experiment, baseline) for name, experiment in list(experiments.items())[1:]}


def significant(difference: Difference) -> bool | None:
    """Whether the paired interval excludes 0 (a difference at the 5% level); unknown from a single pair."""
    return None if difference.pairs < 2 else not difference.difference.contains(0.0)


def _difference(difference: Difference | None) -> dict[str, float | int | bool | None]:
    """One paired difference for `summary.json`. From a single pair there is no interval: its ends are null rather
    than the KPI's whole range, and so is whether it excludes 0, which one pair cannot tell."""
    if difference is None:
        return {**dict.fromkeys(("mean", "half_width", "low", "high", "excludes_zero")), "pairs": 0}
    estimate = difference.difference
    if difference.pairs < 2:
        unknown = dict.fromkeys(("half_width", "low", "high", "excludes_zero"))
        return {"mean": _number(estimate.mean), **unknown, "pairs": difference.pairs}
    return {**_estimate(estimate), "excludes_zero": significant(difference), "pairs": difference.pairs}


def _paired_summary(experiments: Mapping[str, Experiment]) -> dict[str, Any]:
    """Every KPI either strategy reported, like `strategies`: one neither measured in the same replication is all
    nulls with `pairs` 0 rather than missing."""
    baseline = next(iter(experiments.values()))
    differences = {}
    for name, by_kpi in paired(experiments).items():
        names = sorted(kpi_names(experiments[name].replications + baseline.replications))
        differences[name] = {kpi: _difference(by_kpi.get(kpi)) for kpi in names}
    return {"baseline": next(iter(experiments)), "difference": "strategy - baseline", "strategies": differences}


def _run_of(experiments: Mapping[str, Experiment], scale: float) -> dict[str, Any]:
    """What was simulated: with `--scale` the rates and headcounts were not the file's (found by a probe: a 1%
    day's cost and items read like a whole day's), and each group is rounded up to whole moderators."""
    scenario = next(iter(experiments.values())).scenario
    return {
        "horizon_s": scenario.horizon_s,
        "warmup_s": scenario.warmup_s,
        "seed": scenario.seed,
        "scale": scale,
        "moderators": sum(group.count for group in scenario.roster),
    }


def summary(experiments: Mapping[str, Experiment], scale: float = 1.0) -> dict[str, Any]:
    """Per strategy: replications, wall time and every KPI as `{mean, half_width, low, high}` (95%); with several,
    `paired`: each one's paired difference against the first, per KPI."""
    document: dict[str, Any] = {
        "scenario": _run_of(experiments, scale),
        "strategies": {
            name: {
                "replications": len(experiment.replications),
                "wall_s": experiment.wall_s,
                "kpis": _kpis(experiment),
            }
            for name, experiment in experiments.items()
        },
    }
    if len(experiments) > 1:
        document["paired"] = _paired_summary(experiments)
    return document


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _backlog_plot(experiment: Experiment, name: str) -> str:
    """Waiting items (the simulator's exact count) against the busiest queues' depths as the engine reports them."""
    run = experiment.first_run
    figure, axes = plt.subplots(figsize=(9, 3.5))
    times, counts = backlog_curve(run)
    inside = times < run.scenario.horizon_s  # items still waiting at the horizon end there; no real drop
    times, counts = times[inside], counts[inside]
    axes.step(times / 3600.0, counts, where="post", label="waiting items (all queues)", color="black")
    if run.backlog_at.size:
        busiest = np.argsort(run.backlog.max(axis=0))[::-1][:5]
        for column in busiest:
            if run.backlog[:, column].max() > 0:
                axes.plot(run.backlog_at / 3600.0, run.backlog[:, column], label=run.queue_names[column], lw=1)
    axes.axvline(run.scenario.warmup_s / 3600.0, color="grey", ls=":", label="end of warm-up")
    axes.set_xlabel("simulated time (h)")
    axes.set_ylabel("waiting (count: items; per queue, tasks)")
    axes.legend(fontsize=7, loc="upper left")
    axes.set_title(f"Backlog over time ({name}, replication 0)")
    return _png(figure)


def wait_samples(run: RunRecord) -> dict[str, tuple[np.ndarray, int]]:
    """Per queue with review items after the warm-up: the waits until a moderator started (or so far, for an item
    still waiting at the horizon), and how many items abandoned instead. An abandoned item's wait is its patience,
    not the service it got, so it is counted beside the box, not drawn in it."""
    wait = waits(run)
    counted = (run.arrivals.at_s >= run.scenario.warmup_s) & ~np.isnan(wait)
    abandoned = ~np.isnan(run.abandoned_at)
    result = {}
    for index, name in enumerate(run.queue_names):
        subset = counted & (run.queue == index)
        if subset.any():
            result[name] = (wait[subset & ~abandoned], int((subset & abandoned).sum()))
    return result


def wait_groups(run: RunRecord) -> tuple[list[np.ndarray], list[str]]:
    """The wait plot's boxes and their labels: a queue whose items all abandoned keeps its row, empty, with its
    count (found by a review: it left the plot, and the worst queue of a run read as absent)."""
    groups, labels = [], []
    for queue, (values, abandoned) in wait_samples(run).items():
        groups.append(np.maximum(values, 1e-1))
        labels.append(queue + (f" ({abandoned} abandoned, not drawn)" if abandoned else ""))
    return groups, labels


def _wait_plot(experiment: Experiment, name: str) -> str:
    groups, labels = wait_groups(experiment.first_run)
    figure, axes = plt.subplots(figsize=(9, max(2.5, 0.35 * len(groups) + 1)))
    if groups:
        axes.boxplot(groups, orientation="horizontal", tick_labels=labels, showfliers=False, whis=(5, 95))
        axes.set_xscale("log")
    axes.set_xlabel(
        "wait until a moderator starts, or so far if still waiting at the horizon; abandoned items left out\n"
        "(s, log scale, waits under 0.1 s drawn at 0.1 s; whiskers 5th-95th percentile)"
    )
    axes.set_title(f"Wait distribution by queue ({name}, replication 0)")
    return _png(figure)


def _error_bars(estimates: Sequence[Estimate | None]) -> np.ndarray:
    """Distances below and above each mean to its interval's ends (clipped to the KPI's range, so not always
    equal); none where there is no interval. A mean outside the KPI's range (a share above 1 from a simulator
    fault) has an interval end on the wrong side of it: that side gets no bar, since matplotlib refuses a
    negative one and the report would be lost with the whole run."""
    bars = np.zeros((2, len(estimates)))
    for column, estimate in enumerate(estimates):
        if estimate is not None and math.isfinite(estimate.half_width):
            bars[:, column] = estimate.mean - estimate.low, estimate.high - estimate.mean
    return np.maximum(bars, 0.0)


def _sla_plot(experiment: Experiment, name: str) -> str:
    """Per queue with items, the share decided within its SLA with abandoned items as misses (what a plan must
    meet), against its target; a queue whose share was never measured (nothing old enough to miss) is named, with
    its open share, rather than dropped."""
    estimates = experiment.estimates()
    rows = []
    for queue in experiment.scenario.ops.queues:
        items = estimates.get(f"queue.{queue.name}.items")
        if items is not None and items.mean > 0:
            share = estimates.get(f"queue.{queue.name}.decided_within_sla_share")
            still_open = estimates.get(f"queue.{queue.name}.open_share")
            rows.append((queue, share, 0.0 if still_open is None else still_open.mean))
    figure, axes = plt.subplots(figsize=(9, max(2.5, 0.35 * len(rows) + 1)))
    if rows:
        positions = np.arange(len(rows))
        means = [share.mean if share is not None else 0.0 for _, share, _ in rows]
        axes.barh(positions, means, xerr=_error_bars([share for _, share, _ in rows]), color="tab:blue", alpha=0.7)
        axes.scatter([queue.sla_target for queue, _, _ in rows], positions, marker="|", s=200, color="red", zorder=3)
        labels = [
            queue.name
            + ("" if share is not None else " (not measured)")
            + (f", {opened:.0%} open" if opened >= 0.005 else "")
            for queue, share, opened in rows
        ]
        axes.set_yticks(positions, labels)
    axes.set_xlim(0, 1.05)
    axes.set_xlabel("share decided within SLA (0-1), abandoned items as misses (bars: mean, 95% CI; red: target)")
    axes.set_title(f"Decided within SLA by queue ({name})")
    return _png(figure)


def _headline_panels(bars: Mapping[str, Mapping[str, Estimate]], title: str, color: str, differences: bool) -> str:
    """One panel per compared KPI with a bar per label (its mean and 95% CI), in the KPI's unit; `differences`
    draws the line a difference is read against, and a difference's unit."""
    figure, panels = plt.subplots(1, len(COMPARED), figsize=(3 * len(COMPARED), 3))
    for axes, kpi in zip(np.atleast_1d(panels), COMPARED, strict=True):
        values = [estimates.get(kpi) for estimates in bars.values()]
        means = [value.mean if value else np.nan for value in values]
        axes.bar(list(bars), means, yerr=_error_bars(values), capsize=4, color=color, alpha=0.7)
        if differences:
            axes.axhline(0.0, color="black", lw=0.8)
        axes.set_title(
            f"{kpi.removeprefix('overall.')}\n({(difference_unit if differences else unit)(kpi)})", fontsize=9
        )
        axes.tick_params(axis="x", labelsize=8, rotation=30)
    figure.suptitle(title)
    figure.tight_layout()
    return _png(figure)


def _comparison_plot(experiments: Mapping[str, Experiment]) -> str:
    own = {name: experiment.estimates() for name, experiment in experiments.items()}
    title = "Each strategy on its own: mean and 95% CI over its replications (differences: paired table)"
    return _headline_panels(own, title, "tab:green", differences=False)


def _paired_plot(experiments: Mapping[str, Experiment]) -> str:
    """The headline KPIs' paired differences against the first strategy, with their intervals and a line at 0."""
    differences = {
        name: {kpi: difference.difference for kpi, difference in by_kpi.items()}
        for name, by_kpi in paired(experiments).items()
    }
    title = (
        f"Paired difference, strategy - {next(iter(experiments))} (mean and 95% CI over replications on the same items)"
    )
    return _headline_panels(differences, title, "tab:purple", differences=True)


def _table(experiments: Mapping[str, Experiment]) -> str:
    names = list(experiments)
    estimates = {name: experiments[name].estimates() for name in names}
    kpis = sorted({kpi for values in estimates.values() for kpi in values})
    header = "".join(f"<th>{html.escape(name)}: mean [95% CI]</th>" for name in names)
    rows = []
    for kpi in kpis:
        cells = []
        for name in names:
            value = estimates[name].get(kpi)
            cells.append("<td></td>" if value is None else f"<td>{html.escape(interval(value))}</td>")
        rows.append(f"<tr><td>{html.escape(kpi)}</td><td>{html.escape(unit(kpi))}</td>{''.join(cells)}</tr>")
    return f"<table><tr><th>KPI</th><th>unit</th>{header}</tr>{''.join(rows)}</table>"


def _paired_cell(difference: Difference | None, replications: int) -> str:
    """`mean [low, high]` with `*` where the interval excludes 0; from a single pair the mean alone, said so."""
    if difference is None:
        return "<td></td>"
    estimate = difference.difference
    if difference.pairs < 2:
        text = f"{interval(estimate)} (1 pair, no CI)"
    else:
        text = interval(estimate) + (" *" if significant(difference) else "")
        text += f" ({difference.pairs} pairs)" if difference.pairs < replications else ""
    return f"<td>{html.escape(text)}</td>"


def _paired_table(experiments: Mapping[str, Experiment]) -> str:
    baseline = next(iter(experiments))
    differences = paired(experiments)
    replications = len(experiments[baseline].replications)
    kpis = sorted({kpi for by_kpi in differences.values() for kpi in by_kpi})
    header = "".join(f"<th>{html.escape(f'{name} - {baseline}')}: mean [95% CI]</th>" for name in differences)
    rows = []
    for kpi in kpis:
        cells = "".join(_paired_cell(by_kpi.get(kpi), replications) for by_kpi in differences.values())
        rows.append(f"<tr><td>{html.escape(kpi)}</td><td>{html.escape(difference_unit(kpi))}</td>{cells}</tr>")
    return f"<table><tr><th>KPI</th><th>unit</th>{header}</tr>{''.join(rows)}</table>"


def _paired_section(experiments: Mapping[str, Experiment]) -> str:
    """Why the paired differences, not the per-strategy bars, answer whether strategies differ, then the plot and
    the table; from one replication, plainly that they cannot."""
    baseline = next(iter(experiments))
    text = (
        f"Every strategy ran on the same random numbers: replication r of each saw the same arrivals, truths and "
        f"moderators. Each cell is the mean over the replications of (strategy - {baseline}) within replication r, "
        "followed by its 95% paired confidence interval as [low, high]; * marks an interval that excludes 0, a "
        "difference significant at 5%. This, not whether the per-strategy bars above overlap, tells whether the "
        "strategies differ: the pairing cancels the noise both share, so these intervals are usually far narrower. "
        "A KPI measured together in only some replications (a queue empty in others) shows how many pairs."
    )
    if len(experiments[baseline].replications) < 2:
        text += (
            " With one replication per strategy there is no interval: one pair cannot tell a difference from noise, "
            "so the cells hold the difference alone; run two or more replications (-n) to tell."
        )
    return (
        f"<h2>Paired differences against {html.escape(baseline)}</h2><p>{html.escape(text)}</p>"
        + _figure(_paired_plot(experiments), f"Paired differences against {baseline}")
        + _paired_table(experiments)
    )


def _figure(image: str, title: str) -> str:
    return f'<p><img alt="{html.escape(title)}" src="data:image/png;base64,{image}"></p>'


def _strategy_section(name: str, experiment: Experiment) -> str:
    """One strategy's plots under the name its column of the table has."""
    return (
        f"<h2>Strategy {html.escape(name)}</h2>"
        + _figure(_backlog_plot(experiment, name), f"Backlog over time ({name})")
        + _figure(_wait_plot(experiment, name), f"Wait distribution by queue ({name})")
        + _figure(_sla_plot(experiment, name), f"Decided within SLA by queue ({name})")
    )


def _page(experiments: Mapping[str, Experiment], scale: float) -> str:
    """One file with its plots inside, so the report can be mailed or attached as it is."""
    first, run = next(iter(experiments.values())), _run_of(experiments, scale)
    figures = "".join(_strategy_section(name, experiment) for name, experiment in experiments.items())
    if len(experiments) > 1:
        figures += (
            "<h2>Strategies compared</h2><p>Each strategy's own mean and 95% CI over its replications. Overlapping "
            "bars do not mean the strategies cannot be told apart: the paired differences below do that.</p>"
            + _figure(_comparison_plot(experiments), "Strategies compared")
            + _paired_section(experiments)
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>queueopt simulation</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px;text-align:right}"
        "td:first-child,td:nth-child(2){text-align:left}</style></head><body>"
        f"<h1>Simulation report</h1><p>Horizon {run['horizon_s']:g} s, warm-up {run['warmup_s']:g} s, seed "
        f"{run['seed']}, arrival rates and headcounts scaled by {run['scale']:g} ({run['moderators']:,} moderators); "
        f"{len(first.replications)} replication(s) per strategy, on common random "
        "numbers across strategies. Items count when they arrive after the warm-up; time KPIs (cost, utilisation, "
        "backlog) and the moderators' decisions cover the time from the warm-up to the horizon.</p>"
        f"{figures}<h2>All KPIs</h2><p>{html.escape(CELLS)}</p>{_table(experiments)}</body></html>\n"
    )


def write_report(experiments: Mapping[str, Experiment], out: Path, scale: float = 1.0) -> tuple[Path, Path]:
    """Write `summary.json` and `report.html` into `out` (created if missing); returns both paths. Other files in
    `out` are left alone.

    Both are built in memory before `out` is touched, so a plot that fails leaves no folder (or the old one as it
    was); then they are written whole under temporary names and renamed only then, the summary last: a full disk or
    a broken file leaves the folder as it was, not a fresh summary beside a cut-off or stale report."""
    page = _page(experiments, scale)
    document = json.dumps(summary(experiments, scale), indent=2) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    summary_path, report_path = out / "summary.json", out / "report.html"
    parts = {path: path.with_name(f".{path.name}.part") for path in (report_path, summary_path)}
    try:
        parts[report_path].write_text(page, encoding="utf-8")
        parts[summary_path].write_text(document, encoding="utf-8")
        for path, part in parts.items():
            part.replace(path)
    finally:
        for part in parts.values():
            part.unlink(missing_ok=True)
    return summary_path, report_path
