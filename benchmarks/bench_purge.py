"""The retention purge on SQLite: how fast it deletes settled work, and how long one batch holds the store.

100,000 items decided long ago (each with its task, three audit entries and a content history row, about what a
reviewed item leaves), behind 5,000 still waiting at the head of the audit, purged in batches of the serving
process's size (`retention.BATCH`). Each batch is one transaction, run under the engine's lock in a service:
its time is how long requests can wait behind it. Targets: at least 5,000 items/s; a batch's p99 under 50 ms.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from queueopt.domain import Action, ItemStatus, Modality, Task, TaskKind, TaskState, Verdict
from queueopt.store import AuditEntry, Changes, ItemRecord, TaskWrite, open_store
from queueopt.store.retention import BATCH

SETTLED = 100_000
WAITING = 5_000
WRITE_BATCH = 1_000


def _changes(first: int, count: int, state: TaskState) -> Changes:
    changes = Changes()
    decided = state is TaskState.DECIDED
    for number in range(first, first + count):
        item_id = f"item-{number}"
        at = 1_000.0 + number
        payload = {"id": item_id, "modality": "video", "language": "en", "region": "us", "signals": {"hate": 0.8}}
        changes.items.append(
            ItemRecord(
                item_id,
                json.dumps(payload | {"content_hash": f"h{number}", "attributes": {"uploader": f"u{number}"}}),
                ItemStatus.DECIDED if decided else ItemStatus.QUEUED,
                item_id,
                "video_high_en",
                4.8,
                Action.REVIEW,
                "rule 'video_violence_en' -> queue 'video_high_en'; priority harm 4.8 x exposure 1/h = 4.8",
                f"h{number}",
                at,
                Verdict.VIOLATING if decided else None,
                '{"verdict": "violating", "policy": "hate", "moderator_id": "m1"}' if decided else None,
                at + 60.0 if decided else None,
            )
        )
        task = Task(
            item_id, item_id, "video_high_en", TaskKind.REVIEW, state, 4.8, 0.01, at, Modality.VIDEO, "en", "us"
        )
        changes.tasks.append(TaskWrite(task))
        changes.audit.append(AuditEntry(at, item_id, item_id, "ingest", "queued", "rule 'video_violence_en'"))
        if decided:
            changes.audit.append(AuditEntry(at + 1.0, item_id, item_id, "assigner", "leased", "to m1"))
            changes.audit.append(AuditEntry(at + 60.0, item_id, item_id, "moderator:m1", "decided", "violating"))
        changes.owners.append((f"h{number}", item_id))
    return changes


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "purge.db"
        store = open_store(f"sqlite:///{path}")
        for first in range(0, WAITING, WRITE_BATCH):
            store.apply(_changes(first, WRITE_BATCH, TaskState.QUEUED))
        for first in range(WAITING, WAITING + SETTLED, WRITE_BATCH):
            store.apply(_changes(first, WRITE_BATCH, TaskState.DECIDED))
        size = path.stat().st_size + Path(f"{path}-wal").stat().st_size
        held, purged, after = [], 0, 0
        start = time.perf_counter()
        while after is not None:
            began = time.perf_counter()
            batch = store.purge(1e12, after, BATCH)
            held.append(time.perf_counter() - began)
            purged += batch.items
            after = batch.scanned_to
        took = time.perf_counter() - start
        left = store.count_items()
        store.close()
    rate = purged / took
    held_ms = sorted(1000 * seconds for seconds in held)
    p99 = held_ms[int(0.99 * (len(held_ms) - 1))]
    print(f"store before the purge: {size / 1e6:.1f} MB for {SETTLED + WAITING} items")
    print(f"purged {purged} items in {took:.2f} s: {rate:,.0f} items/s; {len(held)} batches of {BATCH} entries")
    print(f"lock held per batch: p50 {statistics.median(held_ms):.1f} ms, p99 {p99:.1f} ms, max {held_ms[-1]:.1f} ms")
    ok = purged == SETTLED and left == WAITING and rate >= 5_000 and p99 < 50.0
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
