"""One implementation of the store over SQL, for SQLite and PostgreSQL alike.

The two engines differ in a handful of places (placeholders, how a write transaction starts, the DDL), and
those live in a `Dialect`; every query and every invariant check is written once. Uniqueness and the
"state and attempt as expected" condition are enforced by the database, so a stale engine (or a second
replica) can never double-lease a task.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from queueopt.domain import Action, ItemStatus, Modality, Task, TaskKind, TaskState, Verdict, token_of
from queueopt.errors import Conflict, Deposed, StoreUnavailable
from queueopt.store import retention
from queueopt.store.base import RECOVERY_PAGE, SCHEMA_VERSION
from queueopt.store.records import AuditEntry, Changes, ItemRecord, StaleWrite
from queueopt.store.retention import Purged

Row = Sequence[Any]


class Connection(Protocol):
    def execute(self, query: Any, params: Any = ...) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Dialect:
    name: str
    begin: str
    placeholder: str
    integrity_errors: tuple[type[Exception], ...]
    driver_error: type[Exception]
    """The base of every error the driver raises."""
    unavailable: Callable[[Exception], str | None]
    """Why the store cannot serve now, for an error of the database's state rather than of the query (a lost
    connection, a server restart, a busy, full or failing disk), or None for any other error, which is a bug."""
    executemany: Callable[[Connection, str, list[tuple[Any, ...]]], int]
    column_types: dict[str, str]
    """Fills the `{real}`, `{bool}`, `{bigint}` and `{identity}` placeholders of the migration files,
    `{payload_source}`, an item's `source` read from its stored JSON, and `{decision_policy}`, its decision's
    `policy`."""
    share_row: str
    """Appended to a SELECT of one row to hold it shared until the transaction ends, or empty where write
    transactions never overlap (SQLite)."""
    claim_timeout: str
    """Bounds how long a claim waits for a deposed engine's write in flight (a frozen process could hold it for
    ever): the take-over fails, lets the engine lock go and tries again, and can be stopped meanwhile."""
    migration_lock: str
    """A statement that serialises migrating transactions, or empty where starting a write transaction already does
    (SQLite's `BEGIN IMMEDIATE`)."""
    now_s: str
    """The database's clock, in seconds since the epoch: heartbeats are stamped and judged by one clock, whatever
    the replicas' own say."""
    versioned: str
    """Counts the `schema_version` tables the store's schema holds: 0 where no release has migrated it yet."""
    before_open_tasks: str
    """Run before open tasks are read in pages, or empty. PostgreSQL plans each page from the table's statistics:
    with none yet (a new store that filled before autovacuum's first pass) it takes the open tasks for a few, sorts
    every one after the page's start and keeps the first page, so recovery grows with the square of the backlog
    (a page 6x slower at 200,000 open tasks of 2,000,000). ANALYZE samples a bounded number of rows (0.4 s on
    2,000,000 tasks), and a page then walks the open-task index. SQLite walks that index without statistics."""


_ITEM_COLUMNS = (
    "id, payload, status, task_id, queue, priority, action, explanation, content_hash, submitted_at, "
    "verdict, decision, decided_at, duplicate_of"
)
_TASK_COLUMNS = (
    "id, item_id, queue, kind, state, priority, aging_rate, enqueued_at, modality, language, region, duration_s, "
    "severe, policy, attempt, holder, leased_at, lease_expires_at, skipped_by, clearance, areas, decision"
)
_TASK_UPDATE = ", ".join(f"{column} = ?" for column in _TASK_COLUMNS.split(", ")[1:])
_ITEM_UPDATE = ", ".join(f"{column} = excluded.{column}" for column in _ITEM_COLUMNS.split(", ")[1:])


def _marks(columns: str) -> str:
    return ", ".join("?" * len(columns.split(", ")))


def _item_row(record: ItemRecord) -> tuple[Any, ...]:
    # str() of a StrEnum is its value without the `.value` property's cost; submit writes one row per item.
    verdict = record.verdict
    return (
        record.id,
        record.payload,
        str(record.status),
        record.task_id,
        record.queue,
        record.priority,
        str(record.action),
        record.explanation,
        record.content_hash,
        record.submitted_at,
        None if verdict is None else str(verdict),
        record.decision,
        record.decided_at,
        record.duplicate_of,
    )


_SETTING = "setting:"  # a setting's row in the secrets table (name, value) is named so; no secret's name is


def _item_of(row: Row) -> ItemRecord:
    return ItemRecord(
        id=row[0],
        payload=row[1],
        status=ItemStatus(row[2]),
        task_id=row[3],
        queue=row[4],
        priority=row[5],
        action=Action(row[6]),
        explanation=row[7],
        content_hash=row[8],
        submitted_at=row[9],
        verdict=None if row[10] is None else Verdict(row[10]),
        decision=row[11],
        decided_at=row[12],
        duplicate_of=row[13],
    )


def _task_values(task: Task) -> tuple[Any, ...]:
    """Every column but the id, in `_TASK_COLUMNS` order."""
    skipped_by = task.skipped_by
    return (
        task.item_id,
        task.queue,
        str(task.kind),
        str(task.state),
        task.priority,
        task.aging_rate,
        task.enqueued_at,
        str(task.modality),
        task.language,
        task.region,
        task.duration_s,
        task.severe,
        task.policy,
        task.attempt,
        task.holder,
        task.leased_at,
        task.lease_expires_at,
        json.dumps(sorted(skipped_by)) if skipped_by else "[]",
        ",".join(task.clearance),
        ",".join(task.areas),
        task.decision,
    )


def _task_of(row: Row) -> Task:
    return Task(
        id=row[0],
        item_id=row[1],
        queue=row[2],
        kind=TaskKind(row[3]),
        state=TaskState(row[4]),
        priority=row[5],
        aging_rate=row[6],
        enqueued_at=row[7],
        modality=Modality(row[8]),
        language=row[9],
        region=row[10],
        duration_s=row[11],
        severe=bool(row[12]),
        policy=row[13],
        attempt=row[14],
        holder=row[15],
        leased_at=row[16],
        lease_expires_at=row[17],
        skipped_by=frozenset(json.loads(row[18])),
        clearance=tuple(row[19].split(",")) if row[19] else (),
        areas=tuple(row[20].split(",")) if row[20] else (),
        decision=row[21],
    )


class SqlStore:
    """A store on one connection, serialised by a lock: SQLite has one writer anyway, and the engine above
    is serialised too. Reads share the lock so they always see a committed state.

    Opening it applies the migrations it lacks, unless not to `migrate`: a standby opens a store another engine
    serves, maybe of an older release, whose reads and writes a migration could break under it (a column it does not
    write made required, say), so the standby leaves the schema alone and migrates when it takes over. Either way a
    schema newer than this release's is refused."""

    def __init__(self, connection: Connection, dialect: Dialect, *, migrate: bool = True) -> None:
        self._connection = connection
        self._dialect = dialect
        self._lock = threading.Lock()
        # Written once, so every apply hands the driver the very same strings and its statement cache hits.
        self._update_tasks = self._sql(f"UPDATE tasks SET {_TASK_UPDATE} WHERE id = ? AND state = ? AND attempt = ?")
        self._insert_tasks = self._sql(f"INSERT INTO tasks ({_TASK_COLUMNS}) VALUES ({_marks(_TASK_COLUMNS)})")
        self._upsert_items = self._sql(
            f"INSERT INTO items ({_ITEM_COLUMNS}) VALUES ({_marks(_ITEM_COLUMNS)}) "
            f"ON CONFLICT (id) DO UPDATE SET {_ITEM_UPDATE}"
        )
        self._add_content = self._sql("INSERT INTO content_history (hash, item_id, owner) VALUES (?, ?, ?)")
        self._put_ruling = self._sql(
            "INSERT INTO content_rulings (hash, item_id) VALUES (?, ?) "
            "ON CONFLICT (hash) DO UPDATE SET item_id = excluded.item_id"
        )
        self._upsert_moderators = self._sql(
            "INSERT INTO moderators (id, profile) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET profile = excluded.profile"
        )
        self._insert_handed_back = self._sql(
            "INSERT INTO handed_back (task_id, lease_token, holder, outcome, shown) VALUES (?, ?, ?, ?, ?)"
        )
        self._insert_audit = self._sql(
            "INSERT INTO audit (at, task_id, item_id, actor, transition, note) VALUES (?, ?, ?, ?, ?, ?)"
        )
        self._read_epoch = "SELECT epoch FROM serving_engine WHERE slot = 1" + dialect.share_row
        self._epoch: int | None = None
        if migrate:
            self._migrate()
        else:
            with self._lock:
                self._refuse_newer_schema()

    def _sql(self, query: str) -> str:
        return query if self._dialect.placeholder == "?" else query.replace("?", self._dialect.placeholder)

    def _execute(self, query: str, params: Sequence[Any] = ()) -> Any:
        return self._connection.execute(self._sql(query), tuple(params))

    @contextmanager
    def _using(self) -> Iterator[None]:
        """Hold the connection for a read or a write. An error that says the database cannot serve now becomes
        `StoreUnavailable` (503, retry) instead of an internal error: a lost PostgreSQL session, say, or a SQLite
        disk that is full. The engine changes its memory only after a write returns, so it holds nothing of the
        refused one (and a serving process whose connection is lost stops: `lock_guard`). Opening the store reports
        its errors itself, naming the database (`open_store`)."""
        with self._lock:
            try:
                yield
            except self._dialect.driver_error as error:
                reason = self._dialect.unavailable(error)
                if reason is None:
                    raise
                raise StoreUnavailable(reason) from None

    @contextmanager
    def _transaction(self, keep: bool = True) -> Iterator[None]:
        """One transaction, committed; or, not to `keep` it (a dry run), rolled back once its block has run."""
        self._connection.execute(self._dialect.begin)
        try:
            yield
            self._connection.execute("COMMIT" if keep else "ROLLBACK")
        except BaseException:
            self._roll_back()
            raise

    def _roll_back(self) -> None:
        """End a transaction that failed, its COMMIT included, keeping the error that failed it as the one raised.
        A ROLLBACK fails only when the transaction is over already: SQLite ends it by itself on some errors (a full
        disk), and a lost connection's server ends it."""
        with contextlib.suppress(self._dialect.driver_error):
            self._connection.execute("ROLLBACK")

    def _migrate(self) -> None:
        """Apply every migration file newer than the recorded schema version, each in its own transaction.

        Replicas open one database at once (a standby starts beside the serving engine), so each transaction first
        takes the dialect's migration lock and reads the version inside it: of two processes opening a database
        that lacks a migration, one applies it and the other finds it applied."""
        with self._lock:
            folder = resources.files("queueopt.store") / "sql"
            for script in sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql")):
                version = int(script.split("_", 1)[0])
                text = (folder / script).read_text().format(**self._dialect.column_types)
                statements = [part.strip() for part in text.split(";")]
                with self._transaction():
                    if self._dialect.migration_lock:
                        self._execute(self._dialect.migration_lock)
                    self._execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                    rows = self._execute("SELECT MAX(version) FROM schema_version").fetchall()
                    if version <= (rows[0][0] or 0):
                        continue
                    for statement in statements:
                        body = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
                        if body.strip():
                            self._execute(body)
                    self._execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            self._refuse_newer_schema()

    def _refuse_newer_schema(self) -> None:
        """Stop a release older than the store's schema from opening it: its writes would leave out what newer
        columns and tables hold (a decision kept for retries, a ruling for re-uploads), and its reads would take
        their absence for "none", so a rollback must go with a restore of the database, never onto the newer one."""
        found = self._recorded_version()
        if found > SCHEMA_VERSION:
            message = (
                f"the store's schema is version {found}, newer than this queueopt's {SCHEMA_VERSION}: "
                "run the release that migrated it, or a later one"
            )
            raise Conflict(message, field="database_url")

    def _recorded_version(self) -> int:
        """The schema version on record; 0 for a database no release has migrated yet (no `schema_version`)."""
        if not self._execute(self._dialect.versioned).fetchall()[0][0]:
            return 0
        return int(self._execute("SELECT MAX(version) FROM schema_version").fetchall()[0][0] or 0)

    def schema_version(self) -> int:
        with self._using():
            return self._recorded_version()

    def apply(self, changes: Changes) -> None:
        inserts = [(write.task.id, *_task_values(write.task)) for write in changes.tasks if write.expect is None]
        updates = [
            (*_task_values(write.task), write.task.id, write.expect[0].value, write.expect[1])
            for write in changes.tasks
            if write.expect is not None
        ]
        many = self._dialect.executemany
        with self._using(), self._transaction():
            self._fence()
            if updates:
                changed = many(self._connection, self._update_tasks, updates)
                if changed != len(updates):
                    raise StaleWrite(str(updates[0][-3]) if len(updates) == 1 else "batch")
            if inserts:
                try:
                    many(self._connection, self._insert_tasks, inserts)
                except self._dialect.integrity_errors:
                    raise StaleWrite(str(inserts[0][0])) from None
            if changes.items:
                many(self._connection, self._upsert_items, [_item_row(record) for record in changes.items])
            if changes.owners or changes.appeals:
                rows = [(content_hash, item_id, True) for content_hash, item_id in changes.owners]
                rows += [(content_hash, item_id, False) for content_hash, item_id in changes.appeals]
                many(self._connection, self._add_content, rows)
            if changes.rulings:
                many(self._connection, self._put_ruling, changes.rulings)
            if changes.moderators:
                many(self._connection, self._upsert_moderators, changes.moderators)
            if changes.handed_back:
                many(self._connection, self._insert_handed_back, changes.handed_back)
            if changes.audit:
                many(
                    self._connection,
                    self._insert_audit,
                    [
                        (entry.at, entry.task_id, entry.item_id, entry.actor, entry.transition, entry.note)
                        for entry in changes.audit
                    ],
                )

    def _select_in(self, query: str, values: Sequence[Any]) -> list[Any]:
        """Run `query` (with one `IN ({})`) in chunks, so a large batch never exceeds the engine's parameter limit."""
        rows: list[Any] = []
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            rows.extend(self._execute(query.format(", ".join("?" * len(chunk))), chunk).fetchall())
        return rows

    def items(self, ids: Iterable[str]) -> dict[str, ItemRecord]:
        wanted = list(dict.fromkeys(ids))
        with self._using():
            rows = self._select_in(f"SELECT {_ITEM_COLUMNS} FROM items WHERE id IN ({{}})", wanted)
        return {row[0]: _item_of(row) for row in rows}

    def items_of_task(self, task_id: str) -> list[ItemRecord]:
        with self._using():
            rows = self._execute(
                f"SELECT {_ITEM_COLUMNS} FROM items WHERE id = ? AND task_id = ? UNION ALL "
                f"SELECT {_ITEM_COLUMNS} FROM items WHERE task_id = ? AND task_id <> id ORDER BY submitted_at, id",
                (task_id, task_id, task_id),
            ).fetchall()
        return [_item_of(row) for row in rows]

    def content_history(self, hashes: Iterable[str]) -> dict[str, list[tuple[str, bool]]]:
        wanted = list(dict.fromkeys(hashes))
        with self._using():
            rows = self._select_in(
                "SELECT hash, item_id, owner FROM content_history WHERE hash IN ({}) ORDER BY seq", wanted
            )
        history: dict[str, list[tuple[str, bool]]] = {}
        for content_hash, item_id, owner in rows:
            history.setdefault(content_hash, []).append((item_id, bool(owner)))
        return history

    def inherited(self, owners: Iterable[str]) -> list[ItemRecord]:
        wanted = list(dict.fromkeys(owners))
        with self._using():
            rows = self._select_in(
                f"SELECT {_ITEM_COLUMNS} FROM items WHERE duplicate_of IN ({{}}) AND task_id IS NULL", wanted
            )
        return [_item_of(row) for row in rows]

    def rulings(self, hashes: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(hashes))
        with self._using():
            rows = self._select_in("SELECT hash, item_id FROM content_rulings WHERE hash IN ({})", wanted)
        return dict(rows)

    def task(self, task_id: str) -> Task | None:
        return self.tasks((task_id,)).get(task_id)

    def tasks(self, ids: Iterable[str]) -> dict[str, Task]:
        wanted = list(dict.fromkeys(ids))
        with self._using():
            rows = self._select_in(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE id IN ({{}})", wanted)
        return {row[0]: _task_of(row) for row in rows}

    def decided(self, task_id: str) -> tuple[str, str] | None:
        with self._using():
            rows = self._execute(
                "SELECT attempt, leased_at, decision FROM tasks WHERE id = ? AND decision IS NOT NULL", (task_id,)
            ).fetchall()
        return (token_of(task_id, int(rows[0][0]), rows[0][1]), str(rows[0][2])) if rows else None

    def handed_back(self, task_id: str, lease_token: str, holder: str) -> tuple[str, str] | None:
        with self._using():
            rows = self._execute(
                "SELECT outcome, shown FROM handed_back WHERE task_id = ? AND lease_token = ? AND holder = ?",
                (task_id, lease_token, holder),
            ).fetchall()
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def open_tasks(self, each_page: Callable[[], None] | None = None) -> list[Task]:
        """Read in pages, each its own statement after the id the last one ended at, so that `each_page` (the
        engine's beat, a write on this same connection) runs between them. A recovering engine holds the store's
        lock, so no other engine writes open tasks in between; a standby's check, not holding it, may see a task
        that changed meanwhile as it was, but never one task twice."""
        query = f"SELECT {_TASK_COLUMNS} FROM tasks WHERE state IN ('queued', 'leased') AND id > ? ORDER BY id LIMIT ?"
        tasks: list[Task] = []
        after = ""
        if self._dialect.before_open_tasks:
            with self._using():
                self._execute(self._dialect.before_open_tasks)
        while True:
            if each_page is not None:
                each_page()
            with self._using():
                rows = self._execute(query, (after, RECOVERY_PAGE)).fetchall()
            tasks += map(_task_of, rows)
            if len(rows) < RECOVERY_PAGE:
                return tasks
            after = rows[-1][0]

    def moderators(self) -> dict[str, str]:
        with self._using():
            rows = self._execute("SELECT id, profile FROM moderators ORDER BY id").fetchall()
        return {row[0]: row[1] for row in rows}

    def save_learning(self, state: str, at: float) -> None:
        with self._using(), self._transaction():
            self._fence()
            self._execute(
                "INSERT INTO learning (id, saved_at, state) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET saved_at = excluded.saved_at, state = excluded.state",
                (at, state),
            )

    def learning(self) -> str | None:
        with self._using():
            rows = self._execute("SELECT state FROM learning WHERE id = 1").fetchall()
        return str(rows[0][0]) if rows else None

    def setting(self, name: str) -> str | None:
        with self._using():
            rows = self._execute("SELECT value FROM secrets WHERE name = ?", (_SETTING + name,)).fetchall()
        return str(rows[0][0]) if rows else None

    def keep_setting(self, name: str, value: str) -> None:
        with self._using(), self._transaction():
            self._fence()
            self._execute(
                "INSERT INTO secrets (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (_SETTING + name, value),
            )

    def secret(self, name: str) -> str:
        # Of replicas asking at once, the first insert wins and every one reads the winner's value.
        with self._using():
            with self._transaction():
                self._execute(
                    "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                    (name, secrets.token_hex(32)),
                )
            rows = self._execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchall()
        return str(rows[0][0])

    def audit(self, since: float, limit: int, after_seq: int = 0) -> Sequence[AuditEntry]:
        with self._using():
            rows = self._execute(
                "SELECT seq, at, task_id, item_id, actor, transition, note FROM audit "
                "WHERE seq > ? AND at >= ? ORDER BY seq LIMIT ?",
                (after_seq, since, limit),
            ).fetchall()
        return [
            AuditEntry(
                seq=row[0], at=row[1], task_id=row[2], item_id=row[3], actor=row[4], transition=row[5], note=row[6]
            )
            for row in rows
        ]

    def purge(self, before: float, after_seq: int, limit: int, dry_run: bool = False) -> Purged:
        with self._using(), self._transaction(keep=not dry_run):
            self._fence()
            chosen = retention.select(_SqlReader(self), before, after_seq, limit)
            audit = self._delete_in("DELETE FROM audit WHERE item_id IN ({})", chosen.items)
            self._delete_in("DELETE FROM handed_back WHERE task_id IN ({})", chosen.tasks)  # their retries go with them
            self._delete_in("DELETE FROM content_rulings WHERE hash IN ({})", chosen.hashes)
            return Purged(
                self._delete_in("DELETE FROM items WHERE id IN ({})", chosen.items),
                self._delete_in("DELETE FROM tasks WHERE id IN ({})", chosen.tasks),
                audit + self._delete_in("DELETE FROM audit WHERE seq IN ({})", chosen.orphans),
                self._delete_in("DELETE FROM content_history WHERE hash IN ({})", chosen.hashes),
                chosen.scanned_to,
            )

    def _delete_in(self, query: str, values: Sequence[Any]) -> int:
        """Run a DELETE with one `IN ({})` in chunks, as `_select_in` does; how many rows it deleted."""
        deleted = 0
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            deleted += self._execute(query.format(", ".join("?" * len(chunk))), chunk).rowcount
        return deleted

    def claim_serving(self, address: str | None, at: float) -> None:
        with self._using(), self._transaction():
            if self._dialect.claim_timeout:
                self._execute(self._dialect.claim_timeout)
            # One statement: on PostgreSQL it waits for the deposed engine's writes in flight (each holds the row
            # shared, see `_fence`), so the claimant's rebuild afterwards reads every one of them.
            # A claim is the claimant's first beat: the beats of the engine it deposes are no longer the ones that
            # count.
            rows = self._execute(
                f"INSERT INTO serving_engine (slot, epoch, address, since, beat_at) VALUES (1, 1, ?, ?, "
                f"{self._dialect.now_s}) ON CONFLICT (slot) DO UPDATE SET epoch = serving_engine.epoch + 1, "
                "address = excluded.address, since = excluded.since, beat_at = excluded.beat_at RETURNING epoch",
                (address, at),
            ).fetchall()
            self._epoch = int(rows[0][0])

    def hold_unserved(self) -> None:
        # Epoch 0 (a row no engine claimed yet) is made here when there is none, so that a purge's writes have a
        # row to hold shared and a standby's claim one to wait on; the claim that follows makes it epoch 1, as it
        # would have without it.
        with self._using(), self._transaction():
            self._execute(
                f"INSERT INTO serving_engine (slot, epoch, address, since) VALUES (1, 0, NULL, {self._dialect.now_s}) "
                "ON CONFLICT (slot) DO NOTHING"
            )
            self._epoch = int(self._execute("SELECT epoch FROM serving_engine WHERE slot = 1").fetchall()[0][0])

    def announce_serving(self, address: str, at: float) -> None:
        with self._using(), self._transaction():
            self._fence()
            self._execute("UPDATE serving_engine SET address = ?, since = ? WHERE slot = 1", (address, at))

    def beat_serving(self) -> None:
        with self._using(), self._transaction():
            self._fence()
            self._execute(f"UPDATE serving_engine SET beat_at = {self._dialect.now_s} WHERE slot = 1")

    def serving_address(self) -> str | None:
        with self._using():
            rows = self._execute("SELECT address FROM serving_engine WHERE slot = 1").fetchall()
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def _fence(self) -> None:
        """In a write transaction of a store that claimed serving (or holds the store unserved, see
        `hold_unserved`): refuse to write once another claim followed.

        The check reads the epoch row under the dialect's share lock, so a claim cannot commit between this check
        and this transaction's commit (on SQLite every write transaction already runs alone)."""
        if self._epoch is None:
            return
        rows = self._execute(self._read_epoch).fetchall()
        if not rows or int(rows[0][0]) != self._epoch:
            raise Deposed("this engine no longer serves the store: another replica took it over; retry")

    def count_items(self) -> int:
        with self._using():
            return int(self._execute("SELECT COUNT(*) FROM items").fetchall()[0][0])

    def ping(self) -> bool:
        try:
            with self._lock:
                self._execute("SELECT 1").fetchall()
        except Exception:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class _SqlReader:
    """`retention.Reader` over a SQL store, inside its purge's transaction."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def scan(self, after_seq: int, before: float, limit: int) -> list[tuple[int, str | None, str | None]]:
        # Bounded by the last entry before the cutoff (found by the index on time), so the last batch does not read
        # on through every entry made since.
        execute = self._store._execute
        last = execute("SELECT seq FROM audit WHERE at < ? ORDER BY at DESC LIMIT 1", (before,)).fetchall()
        if not last:
            return []
        rows = execute(
            "SELECT seq, item_id, task_id FROM audit WHERE seq > ? AND seq <= ? AND at < ? ORDER BY seq LIMIT ?",
            (after_seq, last[0][0], before, limit),
        ).fetchall()
        return [(int(seq), item_id, task_id) for seq, item_id, task_id in rows]

    def records(self, ids: list[str]) -> dict[str, retention.Settling]:
        rows = self._store._select_in(f"SELECT {_SETTLING} FROM items WHERE id IN ({{}})", ids)
        return {row[0]: _settling(row) for row in rows}

    def history(self, hashes: list[str]) -> dict[str, list[str]]:
        rows = self._store._select_in(
            "SELECT hash, item_id FROM content_history WHERE hash IN ({}) ORDER BY seq", hashes
        )
        found: dict[str, list[str]] = {}
        for content_hash, item_id in rows:
            found.setdefault(content_hash, []).append(item_id)
        return found

    def copies(self, owners: list[str]) -> list[retention.Settling]:
        rows = self._store._select_in(f"SELECT {_SETTLING} FROM items WHERE duplicate_of IN ({{}})", owners)
        return [_settling(row) for row in rows]

    def task_states(self, ids: list[str]) -> dict[str, TaskState]:
        rows = self._store._select_in("SELECT id, state FROM tasks WHERE id IN ({})", ids)
        return {task_id: TaskState(state) for task_id, state in rows}

    def last_activity(self, item_ids: list[str]) -> dict[str, float]:
        rows = self._store._select_in(
            "SELECT item_id, MAX(at) FROM audit WHERE item_id IN ({}) GROUP BY item_id", item_ids
        )
        return {item_id: float(at) for item_id, at in rows}


_SETTLING = "id, status, content_hash, submitted_at, decided_at"


def _settling(row: Row) -> retention.Settling:
    return retention.Settling(row[0], ItemStatus(row[1]), row[2], row[3], row[4])
