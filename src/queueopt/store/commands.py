"""`queueopt purge`: delete settled work older than a number of days from a store no engine serves.

A serving process purges its own store in the background (`QUEUEOPT_RETENTION_DAYS`); this command is for a store
at rest (a stopped service, an archive). It holds the store's engine lock while it runs, so no engine starts on the
store meanwhile and none is writing to it: a submit reads a content's history before it writes the copy that joins
it, and a purge in between would leave the copy riding on a deleted item. It holds the lock as an engine does, and
so may lose it as an engine may (a standby ends the session of a holder it judges hung, an operator ends it): it
then stops, and none of its writes lands beside the next engine's (`_purge_holding`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from queueopt.command_options import number_from
from queueopt.errors import Deposed, InvalidInput, StoreInUse, StoreUnavailable
from queueopt.store.retention import MAX_RETENTION_DAYS

if TYPE_CHECKING:
    from queueopt.store import Store
    from queueopt.store.engine_lock import HeldLock
    from queueopt.store.retention import Purged
    from queueopt.store.urls import StoreUrl


def purge(
    older_than_days: Annotated[
        float,
        typer.Option(
            parser=number_from(0.0, MAX_RETENTION_DAYS, above_low=True),
            help="Purge work that settled more than this many days ago "
            f"(a positive number, at most {MAX_RETENTION_DAYS:g}).",
        ),
    ],
    dry_run: Annotated[bool, typer.Option(help="Say what would be purged; delete nothing.")] = False,
    database_url: Annotated[
        str | None, typer.Option(help="Store URL (env QUEUEOPT_DATABASE_URL, default as for serve).")
    ] = None,
) -> None:
    """Delete settled items (every task decided or cancelled, none open, nothing of their content still open or
    recent) with their tasks, audit entries and content history, and audit entries of no item, older than the
    cutoff; print what was deleted. Refused while an engine serves the store (set QUEUEOPT_RETENTION_DAYS on it)."""
    from queueopt.service.settings import Settings
    from queueopt.store import open_store
    from queueopt.store.engine_lock import engine_lock
    from queueopt.store.retention import BATCH, DAY_S
    from queueopt.store.urls import parse_store_url

    url = database_url or os.environ.get("QUEUEOPT_DATABASE_URL") or str(Settings.model_fields["database_url"].default)
    where = parse_store_url(url)
    if where.backend == "memory":
        raise InvalidInput("a memory store lives and dies with its process: nothing to purge", field="database_url")
    if where.backend == "sqlite" and not Path(where.path).is_file():
        raise InvalidInput(f"no SQLite database at {where.path!r}", field="database_url")
    if not _holds_a_store(where):
        # Opening a store makes its tables: a mistyped URL would gain them, and be reported purged (found by a probe).
        raise InvalidInput("the database holds no queueopt store (no schema_version table)", field="database_url")
    before = time.time() - older_than_days * DAY_S
    try:
        with engine_lock(url) as held:
            store = open_store(url)
            try:
                total = _purge_holding(held, store, lambda after: store.purge(before, after, BATCH, dry_run))
            finally:
                store.close()
    except StoreInUse:
        raise StoreInUse(
            "an engine serves this store: set QUEUEOPT_RETENTION_DAYS on it to purge in the background, or stop it "
            "and purge again",
            field="database_url",
        ) from None
    cutoff = datetime.fromtimestamp(before, UTC).isoformat(timespec="seconds")
    print(
        f"{'would purge' if dry_run else 'purged'} {total.items} items settled before {cutoff} "
        f"({total.tasks} tasks, {total.audit} audit entries, {total.content} content history rows)"
    )


def _holds_a_store(where: StoreUrl) -> bool:
    """Whether the database `where` names holds a queueopt store, read without writing. A SQLite file that cannot
    be read as a database counts as one: opening it says why, as for every command."""
    if where.backend == "sqlite":
        import sqlite3

        from queueopt.store.sqlite import SQLITE

        try:
            with closing(sqlite3.connect(Path(where.path).resolve().as_uri() + "?mode=ro", uri=True)) as connection:
                return bool(connection.execute(SQLITE.versioned).fetchall()[0][0])
        except sqlite3.Error:
            return True
    from queueopt.store.engine_lock import current_schema
    from queueopt.store.postgres import connect

    with connect(where.conninfo) as connection:
        schema = where.schema or current_schema(connection)
        row = connection.execute("SELECT to_regclass(format('%%I.schema_version', %s::text))", (schema,)).fetchone()
        return row is not None and row[0] is not None


def _purge_holding(held: HeldLock, store: Store, batch: Callable[[int], Purged]) -> Purged:
    """Run `batch` (a purge given its `after_seq`) to the end as the lock holder of `store` that serves nothing;
    the totals. Raises `StoreUnavailable`, saying that the purge stopped, once the lock is lost (before the next
    batch) or the store fails.

    A batch is one transaction, fenced as an engine's writes are (`Store.hold_unserved`): should a standby claim the
    store while one is on its way, that one commits before the claim or not at all. Every batch is checked against
    the lock first, so once the lock is gone not another starts.

    Before each batch the purge also beats (`Store.beat_serving`, fenced too): a standby waiting for the lock judges
    its holder by the last beat (`hung_holder`), and without one of its own the purge would be judged by the
    previous engine's and unseated while it works. Beating is the simpler of the two ways out, and the one that
    still frees the store of a purge that hangs: exempting holders that never beat themselves would need the holder
    named beside its beat, and would let a hung purge keep every standby waiting for as long as its process lives.
    A batch, at most `BATCH` audit entries, takes milliseconds, far inside any standby's bound."""
    from queueopt.store.retention import purge_all

    store.hold_unserved()

    def checked(after: int) -> Purged:
        lost = held.lost()
        if lost is not None:
            raise Deposed(lost)
        store.beat_serving()
        return batch(after)

    try:
        return purge_all(checked)
    except StoreUnavailable as error:
        raise StoreUnavailable(
            f"the purge stopped ({error.message}): the batches before stay purged, none is half done; purge again "
            "once no engine serves the store",
            field="database_url",
        ) from None


def register(app: typer.Typer) -> None:
    app.command()(purge)
