"""Routing throughput against pydantic validation of the same items, and QueueSet against bare heapq.

Targets (issue 2): routing costs no more than validating (ratio <= 1.0); push+pop within 2x of heapq.
Both sides of each ratio run in this process, in this run, in alternating back-to-back pairs, so a burst of load
hits both sides of a pair; the median of the per-pair ratios is printed beside the best-of ratio and is the
steadier of the two on a shared machine.
"""

from __future__ import annotations

import gc
import heapq
import random
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

from queueopt.config import load_config
from queueopt.domain import Item
from queueopt.enqueue import QueueSet, Router

ITEMS = 50_000
CONFIG = load_config(Path(__file__).resolve().parents[1] / "examples" / "ops.toml")
AREAS = [area.name for area in CONFIG.policy_areas]
QUEUE_PAIRS = 15
ROUTE_PAIRS = 9


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


def timed(run: Callable[[], object]) -> float:
    """Wall time of one run from a collected heap with the cyclic collector paused, so a collection triggered by
    the previous run's garbage is not charged to whichever side runs next."""
    gc.collect()
    gc.disable()
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    gc.enable()
    return elapsed


def paired(repeats: int, baseline: Callable[[], object], candidate: Callable[[], object]) -> list[tuple[float, float]]:
    """`repeats` (baseline, candidate) wall-time pairs, run back to back with the order alternating, so a burst of
    load on a shared machine hits both sides of a pair rather than all the runs of one side."""
    pairs = []
    for repeat in range(repeats):
        if repeat % 2:
            candidate_s, baseline_s = timed(candidate), timed(baseline)
        else:
            baseline_s, candidate_s = timed(baseline), timed(candidate)
        pairs.append((baseline_s, candidate_s))
    return pairs


def main() -> None:
    raw = payloads(ITEMS)
    items = [Item.model_validate(payload) for payload in raw]
    router = Router(CONFIG)
    routing = paired(
        ROUTE_PAIRS,
        lambda: [Item.model_validate(payload) for payload in raw],
        lambda: [router.route(item) for item in items],
    )
    validate, route = min(pair[0] for pair in routing), min(pair[1] for pair in routing)
    for name, seconds in (("validate", validate), ("route", route)):
        rate, micros = ITEMS / seconds, seconds * 1e6 / ITEMS
        print(f"{name:<9} {rate:>12,.0f} items/s  ({micros:.2f} us/item, best of {ROUTE_PAIRS})")
    print(f"ratio route/validate = {route / validate:.2f}  (target <= 1.0)")
    print(f"ratio route/validate, median of {ROUTE_PAIRS} back-to-back pairs = {median(r / v for v, r in routing):.2f}")

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

    pairs = paired(QUEUE_PAIRS, bare_heapq, queue_set)
    bare, ours = min(pair[0] for pair in pairs), min(pair[1] for pair in pairs)
    print(f"heapq     push+pop {ITEMS:,} in {bare * 1e3:.1f} ms  (best of {QUEUE_PAIRS})")
    print(f"QueueSet  push+pop {ITEMS:,} in {ours * 1e3:.1f} ms  (best of {QUEUE_PAIRS})")
    print(f"ratio QueueSet/heapq = {ours / bare:.2f}  (target <= 2.0)")
    print(f"ratio QueueSet/heapq, median of {QUEUE_PAIRS} back-to-back pairs = {median(o / b for b, o in pairs):.2f}")


if __name__ == "__main__":
    main()
