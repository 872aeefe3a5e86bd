"""KPIs of one replication, measured from what happened to every item against its ground truth.

Item KPIs count only items that arrived after the warm-up; time KPIs (utilisation, cost, backlog) and the
moderators' decisions cover `[warmup_s, horizon_s)`. Each KPI is one float under a flat name (`overall.sla_attainment`,
`queue.video_high_en.time_to_decision_p95_s`, `stream.reports.wait_mean_s`), so replications stack into
columns and get confidence intervals without knowing what they measure; NaN where a KPI has no data.

Definitions (docs/simulation.md has the table):
* wait: time from arrival to the first lease (or to abandonment); an item still waiting at the horizon counts
  its wait so far. Time to decision: arrival to a moderator's verdict (reviews and their duplicates); an item still
  open at the horizon counts its time so far, so with open items the time KPIs are lower bounds.
* SLA attainment: decided within the queue's `sla_s`; an item undecided at the horizon counts as a miss once
  older than `sla_s`, and is left out before; abandoned items are left out. `decided_within_sla_share` counts them
  as misses: what staffing must meet, since a team that lets items abandon does not meet an SLA by it.
* Open share: items neither decided nor abandoned at the horizon. An open item younger than `sla_s` is in no SLA
  share, so a queue nobody reviews, or whose `sla_s` outlasts the window, would read as "met" on its own.
* Little's law over the finite window `[warmup_s, horizon_s)`: `little_ratio` is L / (lambda W + L0). L is
  `engine_backlog_mean`, the engine's own count of waiting tasks integrated exactly over the window (read from
  the engine after every event, never from the item records). lambda is the rate of review items arriving in the
  window, W their mean wait (censored at the horizon), L0 the time the items left from the warm-up spend waiting
  in the window, over its length; lambda W + L0 is `backlog_mean`, from the item records. Each side is the area
  under the same step function, so the ratio is 1 exactly (no edge effect is left) wherever the engine's queue
  holds the review items and nothing else: a pull run without QA, duplicates or handed-back reviews, as in the
  validation cases. Elsewhere it departs by what the engine queues that no item waits for (QA reviews, a review
  handed back unfinished, a task kept by a copy whose original left) and what items wait for outside the engine
  (a batch run's arrivals until its tick), and a corrupted item record moves it.
* Harmful views: views of truly violating items until removed: 0 for an auto-removal; until the violating
  verdict; until abandonment; else (missed, or still open) until the horizon.
"""

from __future__ import annotations

import math
import re

import numpy as np

from queueopt.domain import Action
from queueopt.sim.simulator import ACTION_CODE, PULL_STRATEGIES, RunRecord

REVIEW = ACTION_CODE[Action.REVIEW]
AUTO = (ACTION_CODE[Action.AUTO_REMOVE], ACTION_CODE[Action.AUTO_APPROVE])
DUPLICATE = ACTION_CODE[Action.DUPLICATE]
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


# The KPIs a strategist reads first. SLA attainment leaves out abandoned items and open ones younger than `sla_s`;
# the shares beside it say how many that is, so an understaffed queue that lets items expire, or a queue nobody may
# review, never reads as "met" on the first line.
HEADLINE = (
    "overall.sla_attainment",
    "overall.decided_within_sla_share",
    "overall.abandoned_share",
    "overall.open_share",
    "overall.harmful_views",
    "overall.accuracy",
)

_PROPORTIONS = frozenset(
    (
        "sla_attainment",
        "decided_within_sla_share",
        "abandoned_share",
        "open_share",
        "accuracy",
        "precision",
        "recall",
        "removal_recall",
        "removal_precision",
        "auto_action_share",
        "duplicate_share",
        "utilisation",
    )
)


def natural_range(name: str) -> tuple[float, float]:
    """The values a KPI can take: every one is a count, a time, money, a ratio of those, or a proportion."""
    return (0.0, 1.0) if name.rpartition(".")[2] in _PROPORTIONS else (0.0, math.inf)


# A KPI's unit from its last name part, the first pattern that matches the whole of it (proportions come first, from
# `_PROPORTIONS`): one table, so a KPI named by the house pattern gets its unit without a list of KPIs to keep in step.
CURRENCY = "currency (as hourly_cost)"
_UNITS = (
    (re.compile(r"cost_per_(\w+)"), "{currency} per {0}"),
    (re.compile(r"cost"), "{currency}"),
    (re.compile(r"\w+_per_moderator_hour"), "count per moderator-hour"),
    (re.compile(r"\w+_s"), "s"),
    (re.compile(r"\w+_hours"), "moderator-hours"),
    (re.compile(r"\w+_views"), "views"),
    (re.compile(r"\w*backlog_mean"), "count waiting, mean over time"),
    (re.compile(r"\w+_ratio"), "ratio"),
    (re.compile(r"items|\w+_decisions|\w+_breaches"), "count"),
)


def unit(name: str) -> str:
    """The unit a KPI is measured in, from its name, for the report to print beside its value; "" when no pattern
    fits (a test requires one for every KPI `kpis` returns)."""
    last = name.rpartition(".")[2]
    if last in _PROPORTIONS:
        return "share, 0-1"
    for pattern, text in _UNITS:
        match = pattern.fullmatch(last)
        if match:
            return text.format(*(group.replace("_", " ") for group in match.groups()), currency=CURRENCY)
    return ""


def difference_unit(name: str) -> str:
    """The unit of a difference between two values of a KPI: a share's difference runs from -1 to 1."""
    return "share difference, -1 to 1" if name.rpartition(".")[2] in _PROPORTIONS else unit(name)


def _share(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def waits(run: RunRecord) -> np.ndarray:
    """Wait of every item (NaN for items that never queued): until leased, abandoned, or the horizon."""
    at = run.arrivals.at_s
    end = np.where(np.isnan(run.leased_at), run.abandoned_at, run.leased_at)
    end = np.where(np.isnan(end), run.scenario.horizon_s, end)
    queued = run.action == REVIEW
    return np.where(queued, end - at, np.nan)


def time_to_decision(run: RunRecord) -> np.ndarray:
    """Arrival to a moderator's verdict; an item still open at the horizon counts its time so far (censored, as
    `waits` does), or a strategy that starves a class would look faster by leaving its items out; NaN for items
    routing or an abandonment settled without a moderator."""
    at = run.arrivals.at_s
    by_human = run.decided_by >= 0
    still_open = np.isnan(run.decided_at) & np.isnan(run.abandoned_at)
    return np.where(by_human, run.decided_at - at, np.where(still_open, run.scenario.horizon_s - at, np.nan))


def harmful_views(run: RunRecord) -> np.ndarray:
    horizon = run.scenario.horizon_s
    removed = run.verdict == 1
    end = np.where(removed, run.decided_at, np.nan)
    end = np.where(np.isnan(end), run.abandoned_at, end)
    end = np.where(np.isnan(end), horizon, end)
    views = run.arrivals.views(np.arange(len(run.arrivals)), end - run.arrivals.at_s)
    return np.where(run.arrivals.violating, views, 0.0)


def item_sla_s(run: RunRecord) -> np.ndarray:
    """Each item's queue's `sla_s`; infinite for an item routed to no queue."""
    sla_s: np.ndarray = np.asarray([queue.sla_s for queue in run.scenario.ops.queues] + [np.inf])[run.queue]
    return sla_s


def sla_outcomes(run: RunRecord, sla_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks over every item for review: decided within `sla_s`, late (decided after it, or undecided at the
    horizon and older than it), and abandoned. An undecided item younger than `sla_s` is in none: it may still
    make it. The SLA shares of `kpis` and the staffing check's per-hour shares both count from these."""
    at, horizon = run.arrivals.at_s, run.scenario.horizon_s
    review = run.action == REVIEW
    reviewed = review & np.isnan(run.abandoned_at)
    decided = reviewed & ~np.isnan(run.decided_at)
    hit = decided & (run.decided_at - at <= sla_s)
    late = (decided & ~hit) | (reviewed & np.isnan(run.decided_at) & (horizon - at > sla_s))
    return hit, late, review & ~np.isnan(run.abandoned_at)


def _item_kpis(run: RunRecord, subset: np.ndarray, sla_s: np.ndarray) -> dict[str, float]:
    kpis: dict[str, float] = {"items": float(subset.sum())}
    decision = time_to_decision(run)[subset]
    decision = decision[~np.isnan(decision)]
    for name, level in QUANTILES.items():
        kpis[f"time_to_decision_{name}_s"] = float(np.quantile(decision, level)) if decision.size else float("nan")
    kpis["time_to_decision_mean_s"] = float(decision.mean()) if decision.size else float("nan")
    wait = waits(run)[subset]
    wait = wait[~np.isnan(wait)]
    kpis["wait_mean_s"] = float(wait.mean()) if wait.size else float("nan")
    hit, late, given_up = (subset & outcome for outcome in sla_outcomes(run, sla_s))
    kpis["sla_attainment"] = _share(hit.sum(), hit.sum() + late.sum())
    kpis["decided_within_sla_share"] = _share(hit.sum(), hit.sum() + late.sum() + given_up.sum())
    kpis["abandoned_share"] = _share((subset & ~np.isnan(run.abandoned_at)).sum(), subset.sum())
    still_open = subset & np.isnan(run.decided_at) & np.isnan(run.abandoned_at)
    kpis["open_share"] = _share(still_open.sum(), subset.sum())
    kpis["harmful_views"] = float(harmful_views(run)[subset].sum())
    judged = subset & (run.decided_by >= 0)
    said = run.verdict[judged] == 1
    truth = run.arrivals.violating[judged]
    kpis["accuracy"] = _share((said == truth).sum(), judged.sum())
    kpis["precision"] = _share((said & truth).sum(), said.sum())
    kpis["recall"] = _share((said & truth).sum(), truth.sum())
    # What enforcement achieved, not what reviewers judged: every truly violating item, reviewed or not (approved
    # automatically, abandoned, still open), and every removal, automatic ones and copies' included.
    removed = subset & (run.verdict == 1)
    violating = subset & run.arrivals.violating
    kpis["removal_recall"] = _share((removed & violating).sum(), violating.sum())
    kpis["removal_precision"] = _share((removed & violating).sum(), removed.sum())
    return kpis


def backlog_curve(run: RunRecord) -> tuple[np.ndarray, np.ndarray]:
    """Review items waiting (arrived, not yet leased or abandoned) as a step function: `(times, counts)`, the
    count holding from each time to the next. Built from the items' own records, so it is exact."""
    wait = waits(run)
    queued = ~np.isnan(wait)
    start = run.arrivals.at_s[queued]
    times = np.concatenate([start, start + wait[queued]])
    steps = np.concatenate([np.ones(start.size, np.int64), -np.ones(start.size, np.int64)])
    order = np.argsort(times, kind="stable")
    return times[order], np.cumsum(steps[order])


def time_average_backlog(run: RunRecord) -> float:
    """Mean number of review items waiting over `[warmup_s, horizon_s)`: each item's wait clipped to the window.
    An item arriving in the window waits wholly inside it (its wait is censored at the horizon), so this is
    lambda W over those items plus L0, what the items from the warm-up wait in the window: the item side of
    Little's law over a finite window, exactly."""
    warmup, horizon = run.scenario.warmup_s, run.scenario.horizon_s
    wait = waits(run)
    queued = ~np.isnan(wait)
    start = run.arrivals.at_s[queued]
    overlap = np.clip(np.minimum(start + wait[queued], horizon) - np.maximum(start, warmup), 0.0, None)
    return float(overlap.sum() / (horizon - warmup))


def _backlog_mean(run: RunRecord, column: int) -> float:
    """Mean of one queue's depth in the engine, sampled over the window (tasks, QA included)."""
    window = run.backlog_at >= run.scenario.warmup_s
    if not window.any():
        return float("nan")
    return float(run.backlog[window, column].mean())


def kpis(run: RunRecord) -> dict[str, float]:
    """Every KPI of one replication, by flat name."""
    scenario = run.scenario
    warmup, horizon = scenario.warmup_s, scenario.horizon_s
    span = horizon - warmup
    counted = run.arrivals.at_s >= warmup
    queues = scenario.ops.queues
    sla_s = item_sla_s(run)
    result: dict[str, float] = {}
    overall = _item_kpis(run, counted, sla_s)
    overall["auto_action_share"] = _share((counted & np.isin(run.action, AUTO)).sum(), counted.sum())
    overall["duplicate_share"] = _share((counted & (run.action == DUPLICATE)).sum(), counted.sum())
    # On duty: on shift (breaks included: they are paid), and the overtime spent finishing reviews begun on shift.
    on_duty = run.moderators.on_duty_s(warmup, horizon) + run.overtime_s
    groups = [run.moderators.groups[group] for group in run.moderators.group.tolist()]
    hourly_cost = np.asarray([group.hourly_cost for group in groups])
    # A moderator with capacity 2 reviews in two slots under batch assignment; one pulling reviews in one.
    slots = np.asarray([1 if run.strategy in PULL_STRATEGIES else group.capacity for group in groups])
    overall["utilisation"] = _share(run.busy_s.sum(), (on_duty * slots).sum())
    overall["cost"] = float((on_duty / 3600.0 * hourly_cost).sum())
    overall["overtime_hours"] = float(run.overtime_s.sum() / 3600.0)
    # The work that cost paid for: every decision written in the window, QA reviews included and whenever its item
    # arrived (a QA review is paid work, and an item from the warm-up decided in the window was decided on its time).
    overall["moderator_decisions"] = float(run.decisions.sum())
    overall["cost_per_moderator_decision"] = _share(overall["cost"], overall["moderator_decisions"])
    overall["severe_per_moderator_hour"] = _share(run.severe_reviews.sum(), on_duty.sum() / 3600.0)
    overall["budget_breaches"] = float(run.budget_breaches.sum())
    overall["cooldown_breaches"] = float(run.cooldown_breaches.sum())
    overall["backlog_mean"] = time_average_backlog(run)
    overall["engine_backlog_mean"] = run.queued_s / span
    overall["little_ratio"] = _share(overall["engine_backlog_mean"], overall["backlog_mean"])
    result.update({f"overall.{name}": value for name, value in overall.items()})
    for index, queue in enumerate(queues):
        # Every queue, items or not: a queue empty in this replication has 0 items and 0 harmful views (data,
        # which averages over replications must count) and NaN for what needs items (waits, shares).
        subset = counted & (run.queue == index)
        per_queue = _item_kpis(run, subset, sla_s)
        per_queue["backlog_mean"] = _backlog_mean(run, index)
        result.update({f"queue.{queue.name}.{name}": value for name, value in per_queue.items()})
    for index, arrival in enumerate(scenario.arrivals):
        subset = counted & (run.arrivals.stream == index)
        wait = waits(run)[subset]
        wait = wait[~np.isnan(wait)]
        result[f"stream.{arrival.name}.wait_mean_s"] = float(wait.mean()) if wait.size else float("nan")
    return result
