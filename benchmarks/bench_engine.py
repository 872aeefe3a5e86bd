"""Submit throughput on SQLite against the memory store, and the latency of one assignment batch.

Targets (issue 5): SQLite at least 25% of the memory store's rate and at least 20,000 items/s in batches of
100; `assign_batch` for 1,000 queued tasks and 300 free moderators under 50 ms. Both stores run in this
process, in this run, so machine noise cancels in the ratio.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from queueopt.capability import ModeratorProfile
from queueopt.clock import VirtualClock
from queueopt.config import load_config
from queueopt.domain import Item
from queueopt.engine import Engine
from queueopt.store import open_store

CONFIG = load_config(Path(__file__).resolve().parents[1] / "examples" / "ops.toml")
ITEMS = 20_000
BATCH = 100
LANGUAGES = ["en"] * 5 + ["es", "pt", "hi", "ar", "fr"]


def items(count: int, prefix: str, seed: int = 11) -> list[Item]:
    rng = random.Random(seed)
    areas = ["violence", "hate", "nudity", "harassment", "spam"]
    return [
        Item(
            id=f"{prefix}-{index}",
            modality=rng.choice(["video", "photo", "text", "text", "audio"]),
            language=rng.choice(LANGUAGES),
            region=rng.choice(["us", "eu"]),
            signals={area: rng.random() * 0.9 for area in rng.sample(areas, 2)},
            views_per_hour=rng.lognormvariate(4, 2),
            reports=rng.choice([0, 0, 1, 4]),
            duration_s=rng.uniform(0, 300),
        )
        for index in range(count)
    ]


def submit_rate(url: str, batch: list[Item]) -> float:
    engine = Engine(open_store(url), VirtualClock(0.0), CONFIG)
    started = time.perf_counter()
    for start in range(0, len(batch), BATCH):
        engine.submit(batch[start : start + BATCH])
    elapsed = time.perf_counter() - started
    engine.close()
    return len(batch) / elapsed


def moderators(count: int) -> list[ModeratorProfile]:
    rng = random.Random(5)
    return [
        ModeratorProfile(
            id=f"m{index}",
            regions=["us", "eu"],
            languages=dict.fromkeys({"en", rng.choice(LANGUAGES)}, 1.0),
            modalities=["video", "photo", "text", "audio"],
            policy_areas=["violence", "hate", "nudity", "harassment", "spam"],
            capacity=1,
        )
        for index in range(count)
    ]


def main() -> None:
    workload = items(ITEMS, "s")
    with tempfile.TemporaryDirectory() as folder:
        memory = submit_rate("memory://", workload)
        sqlite = submit_rate(f"sqlite:///{folder}/bench.db", workload)
    print(f"submit memory  {memory:>10,.0f} items/s  (batches of {BATCH}, {ITEMS:,} items)")
    print(f"submit sqlite  {sqlite:>10,.0f} items/s  (WAL, synchronous=NORMAL: durable against process crash)")
    print(f"ratio sqlite/memory = {sqlite / memory:.2f}  (target >= 0.25; sqlite target >= 20,000 items/s)")

    latencies = []
    for repeat in range(7):
        engine = Engine(open_store("memory://"), VirtualClock(0.0), CONFIG)
        engine.submit(items(1_000, f"q{repeat}", seed=repeat))
        for profile in moderators(300):
            engine.upsert_moderator(profile)
        started = time.perf_counter()
        leases = engine.assign_batch()
        latencies.append(time.perf_counter() - started)
    print(
        f"assign_batch 1,000 tasks x 300 moderators: median {statistics.median(latencies) * 1e3:.1f} ms, "
        f"best {min(latencies) * 1e3:.1f} ms, {len(leases)} leases  (target < 50 ms)"
    )


if __name__ == "__main__":
    main()
