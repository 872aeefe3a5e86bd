"""Run by test_crash.py as a separate process that gets killed with SIGKILL at a random moment.

Submits batches to a SQLite store and prints each batch's ids only after `submit` returned (the
acknowledgement); in between, a moderator leases and decides, so kills also land mid-lease.
"""

from __future__ import annotations

import sys

from queueopt.capability import ModeratorProfile
from queueopt.clock import SystemClock
from queueopt.config import load_config
from queueopt.domain import Decision, Item, Verdict
from queueopt.engine import Engine
from queueopt.store import open_store


def main(url: str, config_path: str, tag: str) -> None:
    engine = Engine(open_store(url), SystemClock(), load_config(config_path))
    engine.upsert_moderator(
        ModeratorProfile(
            id=f"mod-{tag}",
            regions=["us"],
            languages={"en": 1.0},
            modalities=["video"],
            policy_areas=["violence"],
            capacity=3,
        )
    )
    batch = 0
    while True:
        ids = [f"{tag}-{batch}-{index}" for index in range(25)]
        items = [
            Item(id=item_id, modality="video", language="en", region="us", signals={"violence": 0.7}) for item_id in ids
        ]
        engine.submit(items)
        print(" ".join(ids), flush=True)
        task = engine.next_for(f"mod-{tag}")
        if task is not None and task.lease_token is not None and batch % 2 == 0:
            engine.decide(task.id, task.lease_token, f"mod-{tag}", Decision(verdict=Verdict.VIOLATING))
        batch += 1


if __name__ == "__main__":
    main(*sys.argv[1:4])
