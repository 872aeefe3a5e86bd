"""`queueopt purge`: delete settled work older than a number of days from a store no engine serves.

A serving process purges its own store in the background (`QUEUEOPT_RETENTION_DAYS`); this command is for a store
at rest (a stopped service, an archive). It holds the store's engine lock while it runs, so no engine starts on the
store meanwhile and none is writing to it: a submit reads a content's history before it writes the copy that joins
it, and a purge in between would leave the copy riding on a deleted item.
"""

from __future__ import annotations

import math
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from queueopt.errors import InvalidInput, StoreInUse
from queueopt.store.retention import MAX_RETENTION_DAYS


def purge(
    older_than_days: Annotated[
        float,
        typer.Option(
            help="Purge work that settled more than this many days ago "
            f"(a positive number, at most {MAX_RETENTION_DAYS:g})."
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
    if not math.isfinite(older_than_days) or not 0.0 < older_than_days <= MAX_RETENTION_DAYS:
        raise typer.BadParameter(
            f"expected a positive number of days up to {MAX_RETENTION_DAYS:g}, got {older_than_days:g}",
            param_hint="'--older-than-days'",
        )
    from queueopt.service.settings import Settings
    from queueopt.store import open_store
    from queueopt.store.engine_lock import engine_lock
    from queueopt.store.retention import BATCH, DAY_S, purge_all
    from queueopt.store.urls import parse_store_url

    url = database_url or os.environ.get("QUEUEOPT_DATABASE_URL") or str(Settings.model_fields["database_url"].default)
    where = parse_store_url(url)
    if where.backend == "memory":
        raise InvalidInput("a memory store lives and dies with its process: nothing to purge", field="database_url")
    if where.backend == "sqlite" and not Path(where.path).is_file():
        raise InvalidInput(f"no SQLite database at {where.path!r}", field="database_url")
    before = time.time() - older_than_days * DAY_S
    try:
        with engine_lock(url):
            store = open_store(url)
            try:
                total = purge_all(lambda after: store.purge(before, after, BATCH, dry_run))
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


def register(app: typer.Typer) -> None:
    app.command()(purge)
