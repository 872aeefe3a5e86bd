"""Whether a config strands a store's open work: a queue, policy area or clearance tier an open task needs that the
config no longer has. The engine refuses to start on such a store, and `queueopt serve` checks it first, so an
operator renaming a queue learns it in one line, before any task is lost to a queue nobody serves."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from queueopt.config import OpsConfig
from queueopt.domain import Task


def stranded_work(config: OpsConfig, open_tasks: Iterable[Task]) -> tuple[str, str] | None:
    """Why an engine with `config` may not serve a store whose open tasks are `open_tasks`, as (config field, one
    line): each queue, else each policy area, else each clearance tier, those tasks need that the config does not
    have, and how many tasks need it; None when it has every one. A task in a missing queue would never be offered,
    shown in `/v1/queues` or decided (a decision reads its queue's rules); one asking a missing area's
    certification or a missing tier would never be offered, since no moderator's profile may name an area or tier
    the config lacks, so the engine refuses to start rather than strand it. An appeal's further areas (`Task.areas`)
    are no reason in a queue whose escalation relaxes policy areas: it is offered once that step is reached (found
    by a review), and their tiers are stored on the task. A missing primary area always is: its tier is read from
    the config (`Router.widened_clearance`), so with the area gone a relaxed task went to moderators without that
    tier (found by a review). A task's tiers are never relaxed, not even by a step relaxing `clearance`, which drops
    only the queue's own tiers (see `Router.asked`)."""
    tasks = list(open_tasks)
    queues = Counter(task.queue for task in tasks if task.queue not in config.queues_by_name)
    if queues:
        return "queues", _stranded(
            "queues", queues, "queue", "to rename a queue, add the new one, route new items to it"
        )
    relaxed = config.relaxed_by_queue()
    areas = Counter(
        area
        for task in tasks
        for area in {task.policy or "", *(() if "policy_areas" in relaxed[task.queue] else task.areas)}
        if area and area not in config.areas_by_name
    )
    if areas:
        return "policy_areas", _stranded("policy areas", areas, "policy area", "to rename an area, add the new one")
    tiers = Counter(tier for task in tasks for tier in set(task.clearance) if tier not in config.clearance_tiers)
    if tiers:
        return "policy_areas", _stranded(
            "clearance tiers", tiers, "clearance tier", "to rename a tier, add the new one"
        )
    return None


def _stranded(kind: str, missing: Counter[str], one: str, rename: str) -> str:
    named = ", ".join(f"{name!r} ({count} open task{'s' if count > 1 else ''})" for name, count in missing.items())
    return (
        f"the store has open tasks in {kind} this config does not have: {named}; keep each {one} in the config "
        f"until its tasks are decided ({rename}, and remove the old one once no open task needs it)"
    )
