"""The in-memory store: the simulator's and the unit tests' backend. Same contract, no durability.

It keeps the very objects it is given and hands them back: the engine never mutates a task, record or audit entry
once written (every transition builds new ones), and copying would cost the simulator more than the engine does.
So an audit entry gets its `seq` in place.
`audit_capacity` bounds the audit log for long simulations, which need the KPIs, not every entry.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import islice

from queueopt.domain import OPEN_STATES, Task, TaskState, token_of
from queueopt.store import retention
from queueopt.store.base import SCHEMA_VERSION
from queueopt.store.records import AuditEntry, Changes, ItemRecord, StaleWrite
from queueopt.store.retention import Purged


class MemoryStore:
    def __init__(self, audit_capacity: int | None = None) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, ItemRecord] = {}
        # The items attached to a task other than its own (the item whose id is the task's): duplicates, mostly.
        # A task's own item is found by its id, so the million tasks of a simulated day need no list each, which
        # the garbage collector would walk on every full collection.
        self._attached: dict[str, list[str]] = {}
        # A content's history: its one owner's id (nearly every content, a simulated day's million of them: a
        # string, not a list for the collector to walk), else every entry in order.
        self._history: dict[str, str | list[tuple[str, bool]]] = {}
        self._rulings: dict[str, str] = {}
        # Per item actioned automatically, the copies that inherited its action (`inherited`): an appeal reads them,
        # and scanning every item for each would make a simulated day's appeals quadratic.
        self._inherited: dict[str, list[str]] = {}
        self._tasks: dict[str, Task] = {}
        self._open: set[str] = set()
        self._secrets: dict[str, str] = {}
        self._settings: dict[str, str] = {}
        self._learning: str | None = None
        self._moderators: dict[str, str] = {}
        self._handed_back: dict[tuple[str, str, str], tuple[str, str]] = {}
        self._audit: deque[AuditEntry] = deque(maxlen=audit_capacity)
        self._audit_seq = 0
        self._serving: str | None = None

    def apply(self, changes: Changes) -> None:
        """Every submit, lease, decision and expiry passes through here, so the indexes are read into locals once and
        the expected state and attempt are compared one by one rather than as a tuple made per write."""
        with self._lock:
            tasks, open_ids = self._tasks, self._open
            # Each write is checked against the ones before it in the batch, as SQL applies them in turn (updates,
            # then inserts): a second write of a task from the view before the first is stale.
            updated: dict[str, Task] = {}
            inserted: set[str] = set()
            for write in changes.tasks:
                written_id = write.task.id
                expect = write.expect
                if expect is None:
                    if written_id in tasks or written_id in inserted:
                        raise StaleWrite(written_id)
                    inserted.add(written_id)
                    continue
                current = updated.get(written_id) or tasks.get(written_id)
                if current is None or current.state != expect[0] or current.attempt != expect[1]:
                    raise StaleWrite(written_id)
                updated[written_id] = write.task
            for write in changes.tasks:
                task = write.task
                tasks[task.id] = task
                if task.state in OPEN_STATES:
                    open_ids.add(task.id)
                else:
                    open_ids.discard(task.id)
            items, attached = self._items, self._attached
            for record in changes.items:
                item_id, task_id = record.id, record.task_id
                # Only an item attached to another task needs its previous version; most are their task's own.
                if task_id is not None and task_id != item_id:
                    previous = items.get(item_id)
                    if previous is None or previous.task_id != task_id:
                        attached.setdefault(task_id, []).append(item_id)
                elif task_id is None and record.duplicate_of is not None and item_id not in items:
                    self._inherited.setdefault(record.duplicate_of, []).append(item_id)
                items[item_id] = record
            if changes.owners or changes.appeals:
                self._add_content(changes)
            self._rulings.update(changes.rulings)
            self._moderators.update(changes.moderators)
            for task_id, lease_token, holder, outcome, shown in changes.handed_back:
                self._handed_back[task_id, lease_token, holder] = (outcome, shown)
            seq = self._audit_seq
            for entry in changes.audit:
                seq += 1
                entry.seq = seq
            self._audit_seq = seq
            self._audit.extend(changes.audit)

    def items(self, ids: Iterable[str]) -> dict[str, ItemRecord]:
        with self._lock:
            return {item_id: self._items[item_id] for item_id in ids if item_id in self._items}

    def items_of_task(self, task_id: str) -> list[ItemRecord]:
        """The task's own item first, then those attached to it in the order they were, as the SQL store orders
        them (by submission, which is the order they are written in)."""
        with self._lock:
            items = self._items
            own = items.get(task_id)
            found = [own] if own is not None and own.task_id == task_id else []
            attached = self._attached.get(task_id)
            if attached is not None:
                # An item attached here, then elsewhere (and maybe back) is listed each time: its record says where
                # it is now, and it is read once.
                found += [
                    record for record in map(items.__getitem__, dict.fromkeys(attached)) if record.task_id == task_id
                ]
            return found

    def _add_content(self, changes: Changes) -> None:
        history = self._history
        for entries, owner in ((changes.owners, True), (changes.appeals, False)):
            for content_hash, item_id in entries:
                seen = history.get(content_hash)
                if seen is None and owner:
                    history[content_hash] = item_id
                elif seen is None:
                    history[content_hash] = [(item_id, owner)]
                elif isinstance(seen, str):
                    history[content_hash] = [(seen, True), (item_id, owner)]
                else:
                    seen.append((item_id, owner))

    def content_history(self, hashes: Iterable[str]) -> dict[str, list[tuple[str, bool]]]:
        with self._lock:
            history = self._history
            found: dict[str, list[tuple[str, bool]]] = {}
            for value in hashes:
                seen = history.get(value)
                if seen is not None:
                    found[value] = _entries(seen)
            return found

    def inherited(self, owners: Iterable[str]) -> list[ItemRecord]:
        with self._lock:
            items, inherited = self._items, self._inherited
            return [items[copy] for owner in owners for copy in inherited.get(owner, ()) if copy in items]

    def rulings(self, hashes: Iterable[str]) -> dict[str, str]:
        with self._lock:
            rulings = self._rulings
            return {value: rulings[value] for value in hashes if value in rulings}

    def task(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def tasks(self, ids: Iterable[str]) -> dict[str, Task]:
        with self._lock:
            return {task_id: self._tasks[task_id] for task_id in ids if task_id in self._tasks}

    def decided(self, task_id: str) -> tuple[str, str] | None:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.decision is None:
                return None
            return token_of(task.id, task.attempt, task.leased_at), task.decision

    def handed_back(self, task_id: str, lease_token: str, holder: str) -> tuple[str, str] | None:
        with self._lock:
            return self._handed_back.get((task_id, lease_token, holder))

    def open_tasks(self, each_page: Callable[[], None] | None = None) -> list[Task]:
        """No page to wait for: the tasks are in memory already."""
        with self._lock:
            return [self._tasks[task_id] for task_id in sorted(self._open)]

    def moderators(self) -> dict[str, str]:
        with self._lock:
            return dict(self._moderators)

    def save_learning(self, state: str, at: float) -> None:
        with self._lock:
            self._learning = state

    def learning(self) -> str | None:
        with self._lock:
            return self._learning

    def setting(self, name: str) -> str | None:
        with self._lock:
            return self._settings.get(name)

    def keep_setting(self, name: str, value: str) -> None:
        with self._lock:
            self._settings[name] = value

    def secret(self, name: str) -> str:
        with self._lock:
            return self._secrets.setdefault(name, secrets.token_hex(32))

    def audit(self, since: float, limit: int, after_seq: int = 0) -> Sequence[AuditEntry]:
        with self._lock:
            selected = [entry for entry in self._audit if entry.seq > after_seq and entry.at >= since]
            return selected[:limit]

    def purge(self, before: float, after_seq: int, limit: int, dry_run: bool = False) -> Purged:
        with self._lock:
            chosen = retention.select(_MemoryReader(self), before, after_seq, limit)
            items, orphans = set(chosen.items), set(chosen.orphans)
            kept = [entry for entry in self._audit if entry.item_id not in items and entry.seq not in orphans]
            purged = Purged(
                len(items),
                len(chosen.tasks),
                len(self._audit) - len(kept),
                sum(len(_entries(self._history[value])) for value in chosen.hashes),
                chosen.scanned_to,
            )
            if not dry_run:
                self._forget(chosen, kept)
            return purged

    def _forget(self, chosen: retention.Selection, kept: list[AuditEntry]) -> None:
        for item_id in chosen.items:
            del self._items[item_id]
            self._inherited.pop(item_id, None)
        for task_id in chosen.tasks:
            del self._tasks[task_id]
            self._attached.pop(task_id, None)
        for value in chosen.hashes:
            del self._history[value]
            self._rulings.pop(value, None)
        tasks = set(chosen.tasks)
        self._handed_back = {key: answer for key, answer in self._handed_back.items() if key[0] not in tasks}
        self._audit = deque(kept, maxlen=self._audit.maxlen)

    def claim_serving(self, address: str | None, at: float) -> None:
        """One process holds a memory store: nobody to fence out."""
        with self._lock:
            self._serving = address

    def hold_unserved(self) -> None:
        """One process holds a memory store: nobody to fence out."""

    def announce_serving(self, address: str, at: float) -> None:
        with self._lock:
            self._serving = address

    def beat_serving(self) -> None:
        """One process holds a memory store: no standby watches it."""

    def serving_address(self) -> str | None:
        with self._lock:
            return self._serving

    def count_items(self) -> int:
        with self._lock:
            return len(self._items)

    def schema_version(self) -> int:
        return SCHEMA_VERSION

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release; present so every store closes the same way."""


def _entries(seen: str | list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """A content's history as `content_history` gives it, from what the store keeps (see `MemoryStore._history`)."""
    return [(seen, True)] if isinstance(seen, str) else list(seen)


class _MemoryReader:
    """`retention.Reader` over a memory store's dicts, called with its lock held."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def scan(self, after_seq: int, before: float, limit: int) -> list[tuple[int, str | None, str | None]]:
        found = (
            (entry.seq, entry.item_id, entry.task_id)
            for entry in self._store._audit
            if entry.seq > after_seq and entry.at < before
        )
        return list(islice(found, limit))

    def records(self, ids: list[str]) -> dict[str, retention.Settling]:
        items = self._store._items
        return {item_id: _settling(items[item_id]) for item_id in ids if item_id in items}

    def history(self, hashes: list[str]) -> dict[str, list[str]]:
        history = self._store._history
        return {value: [item_id for item_id, _ in _entries(history[value])] for value in hashes if value in history}

    def copies(self, owners: list[str]) -> list[retention.Settling]:
        wanted = set(owners)
        return [_settling(record) for record in self._store._items.values() if record.duplicate_of in wanted]

    def task_states(self, ids: list[str]) -> dict[str, TaskState]:
        tasks = self._store._tasks
        return {task_id: tasks[task_id].state for task_id in ids if task_id in tasks}

    def last_activity(self, item_ids: list[str]) -> dict[str, float]:
        wanted, latest = set(item_ids), dict[str, float]()
        for entry in self._store._audit:
            if entry.item_id in wanted:
                latest[entry.item_id] = max(latest.get(entry.item_id, entry.at), entry.at)
        return latest


def _settling(record: ItemRecord) -> retention.Settling:
    return retention.Settling(record.id, record.status, record.content_hash, record.submitted_at, record.decided_at)
