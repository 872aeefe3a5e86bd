"""Retention: which settled work a purge deletes, decided once for every store.

The unit of a purge is a content's whole history: every item with that content hash (each item handled on its own,
each appeal or escalation, each copy riding on one), the tasks made for them (reviews and QA reviews), their audit
entries and the content's history rows; an item without a hash is a unit of its own. A unit is deleted only when
every item of it is settled (decided, cancelled or actioned automatically), none of its tasks is open (queued or
leased), and nothing of it happened at or after the cutoff (no audit entry, submission or decision). So an open
appeal, QA review or copy of content keeps all of that content's history, which its routing and its reviewer rules
read; and a content never half forgotten: once purged, a re-upload of it is reviewed afresh, as new content.

Candidates are found through the audit, oldest first: every item's submission is audited, so the entries before the
cutoff name every item that may be purgeable. A batch looks at the next `limit` entries after a cursor (`after_seq`)
and purges what they name that may go, with the entries that name no item or task (a moderator's `present`); units
kept are passed by, so open work at the head of the audit does not stall the purge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from queueopt.domain import OPEN_STATES, QA_SUFFIX, ItemStatus, TaskState

_UNDECIDED = frozenset((ItemStatus.QUEUED, ItemStatus.DUPLICATE))
"""Statuses of an item a decision may still reach, unless it has one already (a copy that inherited its verdict when
submitted keeps the status `duplicate`): the engine's own test of what may still be cancelled."""
DAY_S = 86400.0
MAX_RETENTION_DAYS = 36525.0
"""A century: keeping work longer is keeping it for ever (leave retention unset), and a cutoff further back than
year 1 cannot even be printed as a date."""
BATCH = 200
"""Audit entries one purge batch (one transaction, under the engine's lock in a service) looks at: about 65 reviewed
items. On SQLite a batch of them held the store for 5 ms at the median and 33 ms at p99 while purging 8,600 items/s
(benchmarks/bench_purge.py), so requests queued behind one barely notice; 500 entries made the p99 69 ms."""


@dataclass(frozen=True, slots=True)
class Purged:
    """What one purge batch deleted (or, in a dry run, would have). `scanned_to` is the last audit entry the batch
    looked at, the next batch's `after_seq`; None once no entry before the cutoff is left to look at."""

    items: int = 0
    tasks: int = 0
    audit: int = 0
    content: int = 0
    scanned_to: int | None = None

    def __add__(self, other: Purged) -> Purged:
        """Totals over batches, with the later batch's cursor."""
        return Purged(
            self.items + other.items,
            self.tasks + other.tasks,
            self.audit + other.audit,
            self.content + other.content,
            other.scanned_to,
        )


@dataclass(slots=True)
class Selection:
    """What a batch deletes: items, the tasks of theirs that exist, content hashes whose history goes, and the seqs
    of audit entries that name no item or task. A unit's own audit entries go with its items."""

    items: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    orphans: list[int] = field(default_factory=list)
    scanned_to: int | None = None


def purge_all(batch: Callable[[int], Purged]) -> Purged:
    """Run `batch` (a purge given its `after_seq`) from the head of the audit until nothing before the cutoff is
    left to look at; the totals."""
    total, after = Purged(), 0
    while True:
        total += batch(after)
        if total.scanned_to is None:
            return total
        after = total.scanned_to


class Settling(NamedTuple):
    """What a purge reads of an item: a whole record costs its payload's read and its enums' lookups for nothing."""

    id: str
    status: ItemStatus
    content_hash: str | None
    submitted_at: float
    decided_at: float | None


class Reader(Protocol):
    """The reads a selection needs, made inside the purge's own transaction (so nothing changes between them and
    the deletion)."""

    def scan(self, after_seq: int, before: float, limit: int) -> list[tuple[int, str | None, str | None]]:
        """The first `limit` audit entries after `after_seq` made before `before`: (seq, item id, task id). A SQL
        store looks no further than the last entry made before `before`, taking times to grow with `seq` (an entry
        stamped earlier than one before it, by another replica's clock, waits for the next run)."""
        ...

    def records(self, ids: list[str]) -> dict[str, Settling]: ...

    def history(self, hashes: list[str]) -> dict[str, list[str]]:
        """Each content hash's history items (owners, appeals and escalations)."""
        ...

    def copies(self, owners: list[str]) -> list[Settling]:
        """The items whose `duplicate_of` is one of `owners`."""
        ...

    def task_states(self, ids: list[str]) -> dict[str, TaskState]:
        """The state of each of those tasks that exists."""
        ...

    def last_activity(self, item_ids: list[str]) -> dict[str, float]:
        """Each item's latest audit entry time."""
        ...


def select(reader: Reader, before: float, after_seq: int, limit: int) -> Selection:
    """The units the next `limit` audit entries after `after_seq` name that are settled before `before`."""
    scanned = reader.scan(after_seq, before, limit)
    selection = Selection(
        orphans=[seq for seq, item_id, task_id in scanned if item_id is None and task_id is None],
        scanned_to=scanned[-1][0] if len(scanned) == limit else None,
    )
    named = list(dict.fromkeys(item_id for _, item_id, _ in scanned if item_id is not None))
    units = _units(reader, reader.records(named))
    members = [record for unit in units.values() for record in unit]
    tasks = reader.task_states(_task_ids(record.id for record in members))
    activity = reader.last_activity([record.id for record in members])
    for key, unit in units.items():
        if all(_settled(record, tasks, activity, before) for record in unit):
            selection.items += [record.id for record in unit]
            selection.tasks += [task_id for task_id in _task_ids(record.id for record in unit) if task_id in tasks]
            if unit[0].content_hash is not None:
                selection.hashes.append(key)
    return selection


def _units(reader: Reader, named: dict[str, Settling]) -> dict[str, list[Settling]]:
    """The units of the items named, keyed by content hash (or item id, for an item without one)."""
    units: dict[str, dict[str, Settling]] = {
        record.id: {record.id: record} for record in named.values() if record.content_hash is None
    }
    hashes = list(dict.fromkeys(record.content_hash for record in named.values() if record.content_hash is not None))
    owners = [item_id for entries in reader.history(hashes).values() for item_id in entries]
    members = list(reader.records(owners).values())
    known = set(owners)
    copies = reader.copies(owners)
    while copies:
        # A copy may name another copy, in no history, as its own: one carrying the decision a withdrawn copy's
        # review made for a copy riding on it names that rider (`ContentHistory._decided_through`). Found by a
        # hand-run mutation review: such a copy submitted after the cutoff was not weighed, so the rest of its
        # content went, and it was left naming a review whose id could be submitted again.
        fresh = [record for record in copies if record.id not in known]
        known.update(record.id for record in fresh)
        members += fresh
        copies = reader.copies([record.id for record in fresh]) if fresh else []
    for record in [*members, *named.values()]:
        if record.content_hash is not None:
            units.setdefault(record.content_hash, {}).setdefault(record.id, record)
    return {key: list(unit.values()) for key, unit in units.items()}


def _task_ids(item_ids: Iterable[str]) -> list[str]:
    """The tasks an item may have: its review (under its own id) and the review's QA."""
    return [task_id for item_id in item_ids for task_id in (item_id, item_id + QA_SUFFIX)]


def _settled(record: Settling, tasks: dict[str, TaskState], activity: dict[str, float], before: float) -> bool:
    if record.status in _UNDECIDED and record.decided_at is None:
        return False
    if max(record.submitted_at, record.decided_at or 0.0, activity.get(record.id, 0.0)) >= before:
        return False
    return all(tasks.get(task_id) not in OPEN_STATES for task_id in (record.id, record.id + QA_SUFFIX))
