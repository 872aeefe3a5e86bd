"""The `Store` protocol: the source of truth every engine, service replica and test talks to.

Three backends implement it (memory, SQLite, PostgreSQL) and one contract suite (tests/store) runs against
each, so the engine can trust any of them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from queueopt.domain import Task
from queueopt.store.records import AuditEntry, Changes, ItemRecord
from queueopt.store.retention import Purged

SCHEMA_VERSION = 15
BEAT_S = 1.0
"""How often the serving engine calls `Store.beat_serving`."""
RECOVERY_PAGE = 50_000
"""Open tasks a recovering engine reads or indexes between beats: about half a second of either."""


class Store(Protocol):
    def apply(self, changes: Changes) -> None:
        """Write everything in `changes` atomically, or raise `StaleWrite` and write nothing."""
        ...

    def items(self, ids: Iterable[str]) -> dict[str, ItemRecord]: ...

    def items_of_task(self, task_id: str) -> list[ItemRecord]: ...

    def content_history(self, hashes: Iterable[str]) -> dict[str, list[tuple[str, bool]]]:
        """For each content hash already seen, every item handled on its own (`True`: `Changes.owners`) and every
        appeal or escalation of it (`False`: `Changes.appeals`), oldest first."""
        ...

    def inherited(self, owners: Iterable[str]) -> list[ItemRecord]:
        """The copies that inherited the automatic action of one of `owners` (items actioned automatically): those
        naming it as their `duplicate_of`, with no task. They join no content history (a viral
        re-upload would add an entry a copy, which each next copy would read), so what they ask of a review is read
        here when it is needed: an appeal's routing, a restart's re-check."""
        ...

    def rulings(self, hashes: Iterable[str]) -> dict[str, str]:
        """For each of those content hashes that has one, the appeal or escalation of it decided last
        (`Changes.rulings`)."""
        ...

    def task(self, task_id: str) -> Task | None: ...

    def tasks(self, ids: Iterable[str]) -> dict[str, Task]:
        """The tasks of those ids that exist, in one read: a restart looks up an hour's decided tasks."""
        ...

    def decided(self, task_id: str) -> tuple[str, str] | None:
        """A decided task's lease token (of the lease it was decided under) and its signed decision, or None: no such
        task, not decided, or decided before schema version 10. A narrow read, about as long whichever it is, since
        every refused decision makes it (`Engine.decide`)."""
        ...

    def handed_back(self, task_id: str, lease_token: str, holder: str) -> tuple[str, str] | None:
        """How `holder` handed that lease back (their signed release or skip) and the task as the answer showed it, or
        None: no such lease, not handed back by its holder, handed back by someone else (the holder is compared in
        the read, so a refusal reads nothing more for a task another moderator handed back), or before schema
        version 12. A narrow read, about as long whichever it is: every refused release and skip
        makes it."""
        ...

    def open_tasks(self, each_page: Callable[[], None] | None = None) -> list[Task]:
        """Queued and leased tasks in id order, to rebuild the engine's indexes after a restart; `each_page` is
        called before each `RECOVERY_PAGE` of them is read and made, outside the store's lock (a recovering engine
        beats there)."""
        ...

    def moderators(self) -> dict[str, str]: ...

    def save_learning(self, state: str, at: float) -> None:
        """Keep `state`, what the capability model learned, in place of the last one kept (a fenced write)."""
        ...

    def learning(self) -> str | None:
        """The learned state kept last, or None."""
        ...

    def secret(self, name: str) -> str:
        """The deployment's secret `name`: random, made by the first caller, and the same for every replica of
        this store from then on."""
        ...

    def setting(self, name: str) -> str | None:
        """The value last kept under `name` (`keep_setting`), or None."""
        ...

    def keep_setting(self, name: str, value: str) -> None:
        """Keep `value` under `name` in place of the last one kept (a fenced write). Kept beside the secrets, under
        names of their own: what the serving engine must know of the last one (which config its open tasks were
        last checked against, see `Engine._widen_to_config`)."""
        ...

    def audit(self, since: float, limit: int, after_seq: int = 0) -> Sequence[AuditEntry]: ...

    def purge(self, before: float, after_seq: int, limit: int, dry_run: bool = False) -> Purged:
        """Delete, in one transaction, the settled work the next `limit` audit entries after `after_seq` name whose
        every part settled before `before`, and those entries that name no item or task (see `retention`); a dry
        run deletes nothing and says what it would have. A fenced write, like `apply`."""
        ...

    def claim_serving(self, address: str | None, at: float) -> None:
        """Make this store object's writes the serving engine's: from now on every write through any other that
        claimed before raises `Deposed`. Called by the lock holder before it reads the store to rebuild its engine;
        `address` is where it answers HTTP, if known yet."""
        ...

    def hold_unserved(self) -> None:
        """Fence this store object's writes at the epoch on record, without claiming: for a process that holds the
        engine lock to write, but serves nothing (`queueopt purge`). A standby that unseats it and claims the store
        moves the epoch on, and every write through this object from then on raises `Deposed`, as a deposed
        engine's would. Called once the lock is held; a holder that checks its lock after this call knows that no
        claim came between the lock and the epoch this fences at."""
        ...

    def announce_serving(self, address: str, at: float) -> None:
        """Record where the serving engine answers HTTP, once its port is bound."""
        ...

    def beat_serving(self) -> None:
        """Record, by the database's clock, that the lock holder (the serving engine, or a purge) still works (a
        fenced write): a hung holder keeps its lock, so standbys judge it by its beats (see `hung_holder`)."""
        ...

    def serving_address(self) -> str | None:
        """Where the serving engine last said it answers, for standby replicas to pass requests to."""
        ...

    def count_items(self) -> int: ...

    def schema_version(self) -> int: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...
