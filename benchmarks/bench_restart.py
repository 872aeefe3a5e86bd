"""How long an engine takes to start on a store with a large backlog: recovery reads every open task, re-derives
what each asks of its reviewer under the config it starts with (`Engine._widen_to_config`), and rebuilds its
indexes. 100,000 open tasks (1,000 of them leased) on SQLite, started with the config they were routed with, and
with one in which `violence` needs a clearance tier, which widens and writes every task scoring for it.

`.venv/bin/python benchmarks/bench_restart.py [open tasks] [database URL]`; a PostgreSQL URL's schema is emptied.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_engine import CONFIG, items, moderators
from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.engine import Engine
from queueopt.store import open_store

OPEN = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
LEASED = 1_000
BATCH = 1_000


def backlog(url: str) -> None:
    """`OPEN` items routed to review, and `LEASED` of them leased."""
    engine = Engine(open_store(url), VirtualClock(0.0), CONFIG)
    workload = items(OPEN, "r")
    for start in range(0, OPEN, BATCH):
        engine.submit(workload[start : start + BATCH])
    engine.seed_moderators(moderators(LEASED))
    engine.assign_batch()
    engine.close()


def violence_cleared() -> OpsConfig:
    data = CONFIG.model_dump()
    for area in data["policy_areas"]:
        if area["name"] == "violence":
            area["clearance"] = "gore_tier"
    return OpsConfig.model_validate(data)


def start_times(url: str, config: OpsConfig, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        engine = Engine(open_store(url), VirtualClock(10.0), config)
        times.append(time.perf_counter() - started)
        engine.close()
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{Path(folder) / 'restart.db'}"
        backlog(url)
        same = start_times(url, CONFIG, 3)
        median, best = statistics.median(same), min(same)
        print(f"restart, {OPEN:,} open tasks, same config: median {median:.2f} s, best {best:.2f} s")
        wider = start_times(url, violence_cleared(), 1)
        print(f"restart with violence newly cleared (widens and writes its tasks): {wider[0]:.2f} s")
        again = start_times(url, violence_cleared(), 3)
        print(f"restart again with that config (nothing left to widen): median {statistics.median(again):.2f} s")


if __name__ == "__main__":
    main()
