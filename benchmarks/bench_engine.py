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

    for roster, learned in (("a new roster", False), ("a learned roster", True)):
        latencies, leases = batch_latencies(learned)
        print(
            f"assign_batch 1,000 tasks x 300 moderators, {roster}: median {statistics.median(latencies) * 1e3:.1f} ms, "
            f"best {min(latencies) * 1e3:.1f} ms, {leases} leases  (target < 50 ms)"
        )


def batch_latencies(learned: bool, repeats: int = 7) -> tuple[list[float], int]:
    """Seconds per batch on fresh engines. A new roster has no observations, so its moderators fall into the few
    kinds their profiles make and the solver merges equal columns; in a learned one (a few observations each) no
    two moderators are alike, which is what a roster looks like after a day of work."""
    latencies, leases = [], 0
    for repeat in range(repeats):
        engine = Engine(open_store("memory://"), VirtualClock(0.0), CONFIG)
        engine.submit(items(1_000, f"q{repeat}", seed=repeat))
        rng = random.Random(repeat)
        for profile in moderators(300):
            engine.upsert_moderator(profile)
            for _ in range(3 if learned else 0):
                engine.model.observe_accuracy(profile.id, rng.choice(["violence", "hate", "spam"]), rng.random() < 0.9)
                engine.model.observe_handling(profile.id, rng.choice(["video", "text"]), rng.uniform(20, 200), 60.0)
        started = time.perf_counter()
        leases = len(engine.assign_batch())
        latencies.append(time.perf_counter() - started)
    return latencies, leases


if __name__ == "__main__":
    main()
