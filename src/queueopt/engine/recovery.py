"""What a starting engine reads back from the store besides its open tasks and profiles: the last hour of the audit,
and what each open task's content asks under the config it starts with.

`Engine._recover` runs the rebuild in order and owns every write it makes; these are its reads, each a function of
the store and the collaborators it fills (the model, the SLA windows), so the engine module keeps the lifecycle and
this one what a restart must remember of the past.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from itertools import chain

import orjson

from queueopt.capability import Model
from queueopt.capability.wellbeing import WINDOW_S as SEVERE_WINDOW_S
from queueopt.config import OpsConfig
from queueopt.domain import ItemStatus, Task, TaskKind
from queueopt.engine.audit_notes import charge_taken_back, reviewer_of, severe_holder, shown_present
from queueopt.engine.content import ContentHistory, asked_by_all, item_of
from queueopt.engine.sla_window import SLA_WINDOW_S, SlaWindow, within_sla
from queueopt.enqueue import ASKED_NOTHING, Router
from queueopt.enqueue.router import Asked
from queueopt.errors import InvalidInput
from queueopt.store import ItemRecord, Store
from queueopt.store.records import AuditEntry

log = logging.getLogger("queueopt.engine")

CHECKED_AGAINST = "open_tasks_checked_against"  # the store's setting naming the config open tasks ask what it asks
_ENDS_A_REVIEW = frozenset(("decided", "released", "skipped", "expired"))
_RECALL_PAGE = 10_000


def recall_recent(store: Store, model: Model, config: OpsConfig, sla: Mapping[str, SlaWindow], now: float) -> set[str]:
    """What the last hour's audit says, read back after a restart, in one pass over it, into `model` and `sla`; returns
    who is idle after an expiry.

    The wellbeing ledger: every severe lease of the last hour, or of the longest cool-down when that is longer,
    counts again against its moderator's budget and cool-down (a lease's note marks it severe), and so does every
    lease taken back as it turned severe (`charge_taken_back`). A review handed
    over before that hour (a long video) and ended within the longest cool-down is not marked at its end:
    whether it was severe is read from its task, and whose it was from the entry (the moderator who decided,
    released or skipped it, or whose lease expired), so its cool-down runs too.

    Each queue's share of the last hour's decisions made within its SLA, from the decided entries and their
    tasks (found by a probe: a restart or a take-over emptied it, so `/v1/queues` and the metric said nothing,
    then spoke for minutes of decisions as if for the hour).

    Who is idle after an expiry: the holder of every lease expired in what is read (an hour at least) who has
    shown no presence since, by a `present` entry or by acting on their own work (an audit written before
    `present` entries were). An expiry older than that is forgotten: such a moderator is pushed one more lease
    after a restart, and is idle again once it expires."""
    cooling_since = now - model.longest_cooldown_s()
    # Back as far as the longest cool-down, when that is longer than the hour (found by a probe: a two-hour
    # cool-down that had an hour left was forgotten at a restart).
    decided_since = now - SLA_WINDOW_S
    since, after = min(now - SEVERE_WINDOW_S, cooling_since, decided_since), 0
    holders: dict[str | None, str] = {}  # severe tasks under review, by task id, to their holder
    leased: set[str | None] = set()  # tasks leased within the hour
    ended_earlier: list[AuditEntry] = []  # recent ends of leases made before the hour
    decided: list[AuditEntry] = []  # decisions of the SLA window
    idle: set[str] = set()  # holders of expired leases, until they show they are present
    released: list[AuditEntry] = []  # hand-backs, some of leases taken back as they turned severe
    while entries := store.audit(since, _RECALL_PAGE, after):
        store.beat_serving()  # a page read: recovery goes on (`Engine._recover`)
        for entry in entries:
            present = shown_present(entry)
            if present is not None:
                idle.discard(present)
            if entry.transition == "leased":
                leased.add(entry.task_id)
                holder = severe_holder(entry)
                if holder is not None:
                    model.recall_severe(holder, entry.at)
                    holders[entry.task_id] = holder
            elif entry.transition in _ENDS_A_REVIEW:
                if entry.transition == "decided" and entry.at >= decided_since:
                    decided.append(entry)
                elif entry.transition == "expired" and (expired_holder := reviewer_of(entry)) is not None:
                    idle.add(expired_holder)
                elif entry.transition == "released":
                    released.append(entry)
                if entry.task_id in holders:
                    model.severe_review_ended(holders.pop(entry.task_id), entry.at)
                elif entry.task_id not in leased and entry.at >= cooling_since:
                    ended_earlier.append(entry)
        after = entries[-1].seq
    charge_taken_back(model, released)
    tasks = store.tasks(entry.task_id for entry in ended_earlier + decided if entry.task_id is not None)
    for entry in ended_earlier:
        reviewer = reviewer_of(entry)
        task = tasks.get(entry.task_id or "")
        if reviewer is not None and task is not None and task.severe:
            model.severe_review_ended(reviewer, entry.at)
    queues = config.queues_by_name
    for entry in decided:
        task = tasks.get(entry.task_id or "")
        if task is not None and task.kind is TaskKind.REVIEW and task.queue in sla:
            sla[task.queue].add(entry.at, within_sla(task, queues[task.queue], entry.at))
    return idle


def asks_of_content(config: OpsConfig) -> str:
    """The part of `config` that decides what content asks of a reviewer (`Router.content_asks`): its policy areas,
    hashed, to compare with those open tasks were last checked against (the store's `CHECKED_AGAINST` setting)."""
    areas = orjson.dumps([area.model_dump() for area in config.policy_areas], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(areas).hexdigest()


def asked_by_item(
    store: Store, router: Router, content: ContentHistory, open_tasks: Iterable[Task]
) -> dict[str, Asked]:
    """What the item of each of `open_tasks` asks of a reviewer under the router's config, by item id: what any item
    of its content asks (`Router.content_asks`; the same content, and an appeal is often sent without the scores its
    original had), a copy inheriting an automatic action included (`Store.inherited`). An item scored in an area the
    config no longer has asks nothing more: its tasks keep what they asked."""
    records = store.items({task.item_id for task in open_tasks})
    history = store.content_history({record.content_hash for record in records.values() if record.content_hash})
    earlier = {item_id for entries in history.values() for item_id, _ in entries}.difference(records)
    items = list(chain(records.values(), store.items(earlier).values()))
    # Copies that inherited an automatic action joined no history: read through the items they inherited from.
    automatic = [record.id for record in items if record.status is ItemStatus.AUTO_ACTIONED]
    asked: dict[str, Asked] = {}
    of_content: dict[str, list[Asked]] = {}
    for record in chain(items, content.inherited(automatic) if automatic else ()):
        asks = _content_asks(router, record)
        if asks is not None:
            asked[record.id] = asks
            of_content.setdefault(record.content_hash or "", []).append(asks)
    by_content = {content_hash: asked_by_all(asks) for content_hash, asks in of_content.items() if content_hash}
    return {
        item_id: by_content.get(record.content_hash or "", asked.get(item_id, ASKED_NOTHING))
        for item_id, record in records.items()
    }


def _content_asks(router: Router, record: ItemRecord) -> Asked | None:
    """What the item of `record` asks of any reviewer under the router's config (`Router.content_asks`); None, logged,
    for one scored in an area the config no longer has."""
    try:
        return router.content_asks(item_of(record))
    except InvalidInput as unknown:
        log.warning("item %s not re-read under this config, its tasks keep what they ask: %s", record.id, unknown)
        return None
