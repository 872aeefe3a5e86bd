"""Routing throughput against pydantic validation of the same items, and QueueSet against bare heapq.

Targets (issue 2): routing costs no more than validating (ratio <= 1.0); push+pop within 2x of heapq.
Both sides of each ratio run in this process, in this run, so machine noise cancels.
"""

from __future__ import annotations

import gc
import heapq
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from queueopt.config import load_config
from queueopt.domain import Item
from queueopt.enqueue import QueueSet, Router

ITEMS = 50_000
CONFIG = load_config(Path(__file__).resolve().parents[1] / "examples" / "ops.toml")
AREAS = [area.name for area in CONFIG.policy_areas]


def payloads(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    languages = ["en"] * 6 + ["es", "es", "pt", "hi", "ar", "fr", "de", "ja", "id"]
    return [
        {
            "id": f"item-{index}",
            "modality": rng.choice(["video", "video", "photo", "photo", "text", "text", "text", "audio", "livestream"]),
            "duration_s": rng.uniform(0, 600),
            "language": rng.choice(languages),
            "region": rng.choice(["us", "eu", "br", "in", "mena"]),
            "signals": {area: rng.random() ** 3 for area in rng.sample(AREAS, rng.randint(1, 4))},
            "source": rng.choice(["proactive", "proactive", "proactive", "user_report", "appeal"]),
            "views_per_hour": rng.lognormvariate(5, 2),
            "reports": rng.choice([0, 0, 0, 1, 3, 12]),
        }
        for index in range(count)
    ]


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """Best wall time of `repeats` runs, each from a collected heap with the cyclic collector paused, so a
    collection triggered by the previous run's garbage is not charged to whichever side runs next."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
        gc.enable()
    return best


def main() -> None:
    raw = payloads(ITEMS)
    items = [Item.model_validate(payload) for payload in raw]
    router = Router(CONFIG)
    validate = best_of(5, lambda: [Item.model_validate(payload) for payload in raw])
    route = best_of(5, lambda: [router.route(item) for item in items])
    print(f"validate  {ITEMS / validate:>12,.0f} items/s  ({validate * 1e6 / ITEMS:.2f} us/item)")
    print(f"route     {ITEMS / route:>12,.0f} items/s  ({route * 1e6 / ITEMS:.2f} us/item)")
    print(f"ratio route/validate = {route / validate:.2f}  (target <= 1.0)")

    rng = random.Random(3)
    keys = [rng.choice([rng.random(), 0.5]) for _ in range(ITEMS)]
    names = [f"t{index}" for index in range(ITEMS)]

    def bare_heapq() -> None:
        heap: list[tuple[float, int, str]] = []
        for index, key in enumerate(keys):
            heapq.heappush(heap, (-key, index, names[index]))
        while heap:
            heapq.heappop(heap)

    def queue_set() -> None:
        queues = QueueSet(["q"])
        for index, key in enumerate(keys):
            queues.push("q", names[index], key, float(index))
        while queues.pop_top("q", 100):
            pass

    bare = best_of(7, bare_heapq)
    ours = best_of(7, queue_set)
    print(f"heapq     push+pop {ITEMS:,} in {bare * 1e3:.1f} ms")
    print(f"QueueSet  push+pop {ITEMS:,} in {ours * 1e3:.1f} ms")
    print(f"ratio QueueSet/heapq = {ours / bare:.2f}  (target <= 2.0)")


if __name__ == "__main__":
    main()
