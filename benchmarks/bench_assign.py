"""Assignment core speed and quality: `solve` against scipy on the dense slot-expanded matrix and against greedy.

Each line prints wall time (median of a few runs) and objective. scipy's `linear_sum_assignment` runs on the dense
tasks x slots matrix (ineligible cells 0), built before the clock starts; it is the exact baseline `auto` must beat.
Greedy's loss is (optimum - greedy) / optimum. A last block times hungarian against flow over density, which is what
`auto`'s thresholds in `queueopt.assign.solve` come from.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from queueopt.assign import solve

SPARSE_TARGET_SPEEDUP = 4.0
SPARSE_TARGET_SECONDS = 0.120


def timed(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def slot_expanded(value: sp.csr_matrix | np.ndarray, capacity: np.ndarray) -> np.ndarray:
    dense = value.toarray() if sp.issparse(value) else np.nan_to_num(value, nan=0.0)
    return np.repeat(np.maximum(dense, 0.0), capacity, axis=1)


def compare(name: str, value: sp.csr_matrix | np.ndarray, capacity: np.ndarray, repeats: int) -> dict[str, float]:
    expanded = slot_expanded(value, capacity)

    def scipy_dense() -> float:
        row, col = linear_sum_assignment(expanded, maximize=True)
        return float(expanded[row, col].sum())

    auto_time, auto = timed(lambda: solve(value, capacity), repeats)
    scipy_time, scipy_objective = timed(scipy_dense, repeats)
    greedy_time, greedy = timed(lambda: solve(value, capacity, method="greedy"), repeats)
    gap = abs(auto.objective - scipy_objective) / scipy_objective
    loss = (auto.objective - greedy.objective) / auto.objective
    print(f"{name}: auto[{auto.method}] {auto_time * 1e3:9.1f} ms  objective {auto.objective:.6f}")
    print(f"{name}: scipy dense    {scipy_time * 1e3:9.1f} ms  objective {scipy_objective:.6f}  (gap {gap:.1e})")
    print(f"{name}: greedy         {greedy_time * 1e3:9.1f} ms  objective {greedy.objective:.6f}")
    print(f"{name}: auto is {scipy_time / auto_time:.1f}x scipy dense; greedy loses {loss:.2%} of the optimum")
    return {"auto": auto_time, "scipy": scipy_time, "gap": gap}


def dense(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random((n, n)) + 1e-3


def sparse(rng: np.random.Generator) -> tuple[sp.csr_matrix, np.ndarray]:
    value = sp.random(5_000, 1_000, density=0.05, random_state=rng, format="csr")
    value.data += 1e-3
    return value, np.full(1_000, 3)


def skills(rng: np.random.Generator) -> tuple[sp.csr_matrix, np.ndarray]:
    """3,000 tasks in 30 languages with a Zipf mix; 800 moderators speaking one or two of them, 1-3 free slots.

    value = harm rate x accuracy x speed, the generalised c-mu value the engine will pass in.
    """
    n_tasks, n_moderators, n_languages = 3_000, 800, 30
    weights = 1.0 / np.arange(1, n_languages + 1)
    weights /= weights.sum()
    task_language = rng.choice(n_languages, size=n_tasks, p=weights)
    speaks = np.zeros((n_moderators, n_languages), dtype=bool)
    speaks[np.arange(n_moderators), rng.choice(n_languages, size=n_moderators, p=weights)] = True
    second = rng.random(n_moderators) < 0.5
    speaks[np.flatnonzero(second), rng.integers(0, n_languages, size=int(second.sum()))] = True
    eligible = speaks[:, task_language].T
    harm = rng.lognormal(0.0, 1.0, size=n_tasks)
    accuracy = rng.beta(8, 2, size=(n_tasks, n_moderators))
    speed = rng.lognormal(0.0, 0.3, size=n_moderators)
    value = np.where(eligible, harm[:, None] * accuracy * speed[None, :], 0.0)
    return sp.csr_matrix(value), rng.integers(1, 4, size=n_moderators)


def density_sweep(rng: np.random.Generator) -> None:
    n = 1_000
    for density in (0.02, 0.05, 0.1, 0.25, 0.5, 1.0):
        value = np.where(rng.random((n, n)) < density, rng.random((n, n)) + 1e-3, 0.0)
        capacity = np.ones(n, dtype=np.int64)
        hungarian_time, hungarian = timed(lambda v=value, c=capacity: solve(v, c, method="hungarian"), 3)
        flow_time, flow = timed(lambda v=value, c=capacity: solve(v, c, method="flow"), 3)
        assert abs(hungarian.objective - flow.objective) <= 1e-9 * hungarian.objective
        print(
            f"sweep {n}x{n} density {density:4.0%}: hungarian {hungarian_time * 1e3:7.1f} ms, "
            f"flow {flow_time * 1e3:7.1f} ms, auto picks {solve(value, capacity).method}"
        )


def main() -> int:
    rng = np.random.default_rng(20261124)
    for n in (100, 500, 1_000, 2_000):
        compare(f"dense {n}x{n}", dense(n, rng), np.ones(n, dtype=np.int64), repeats=3 if n < 2_000 else 1)
    value, capacity = sparse(rng)
    result = compare("sparse 5000x1000 5% cap 3", value, capacity, repeats=7)
    value, capacity = skills(rng)
    compare("skills 3000x800 zipf", value, capacity, repeats=5)
    density_sweep(rng)
    speedup = result["scipy"] / result["auto"]
    met = speedup >= SPARSE_TARGET_SPEEDUP and result["auto"] < SPARSE_TARGET_SECONDS
    target = f"auto >= {SPARSE_TARGET_SPEEDUP:.0f}x scipy dense and < {SPARSE_TARGET_SECONDS * 1e3:.0f} ms"
    outcome = "met" if met else "MISSED"
    print(f"target on sparse ({target}): {outcome} ({speedup:.1f}x, {result['auto'] * 1e3:.1f} ms)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
