"""Simulator speed: (a) M/M/c against a SimPy model of the same system, (b) one simulated day of the example.

(a) c = 50 identical moderators, exponential handling (mean 60 s), load 0.9, `fifo`, 200,000 items by default.
    queueopt's simulator drives the real engine (routing, leases, audit, memory store); the SimPy model is the
    textbook resource queue with the same arrival and service draws. Customers per second of both, and the ratio,
    are printed; the target is a ratio of at least 1.0. Both mean waits are printed next to Erlang C.
(b) examples/scenarios/example_day.toml (2,000 moderators, about 1,060,000 items), one replication under
    `optimal`; wall time printed, target under 120 s. `--scale 0.05` runs a 5% copy and `--hours 2` the first two
    hours when the full day is too slow.

    .venv/bin/python benchmarks/bench_sim.py [--items N] [--scale F] [--hours H] [--skip-day] [--skip-mmc]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from queueopt.config import read_toml
from queueopt.sim import theory
from queueopt.sim.kpis import kpis
from queueopt.sim.scenario import Scenario, load_scenario, parse_scenario
from queueopt.sim.simulator import simulate
from queueopt.sim.variants import scaled

SERVERS = 50
MEAN_S = 60.0
LOAD = 0.9
RATIO_TARGET = 1.0
DAY_TARGET_S = 120.0
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scenarios"


def mmc_scenario(items: int) -> Scenario:
    """`examples/scenarios/mmc.toml` with `SERVERS` moderators at the same load, long enough for `items`, without
    warm-up: the customers SimPy serves are every one of them."""
    data: dict[str, Any] = read_toml(EXAMPLE / "mmc.toml")
    rate = LOAD * SERVERS / MEAN_S
    data.update(horizon_s=items / rate, warmup_s=0.0, replications=1, seed=11)
    (arrival,) = data["arrivals"]
    arrival["rate_per_hour"] = rate * 3600.0
    (group,) = data["roster"]
    group["count"] = SERVERS
    assert group["speed"]["text"] == {"distribution": "exponential", "mean_s": MEAN_S}
    return parse_scenario(data, "mmc.toml", EXAMPLE)


def simpy_mmc(arrivals_s: np.ndarray, service_s: np.ndarray) -> float:
    """The same M/M/c in SimPy: one `Resource` with c slots, a process per customer; returns the mean wait."""
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=SERVERS)
    waits = np.zeros(arrivals_s.size)

    def customer(index: int) -> simpy.events.ProcessGenerator:
        arrived = env.now
        with desk.request() as request:
            yield request
            waits[index] = env.now - arrived
            yield env.timeout(service_s[index])

    def source() -> simpy.events.ProcessGenerator:
        for index, at in enumerate(arrivals_s):
            yield env.timeout(at - env.now)
            env.process(customer(index))

    env.process(source())
    env.run()
    return float(waits.mean())


def bench_mmc(items: int) -> bool:
    scenario = mmc_scenario(items)
    started = time.perf_counter()
    run = simulate(scenario)
    ours_s = time.perf_counter() - started
    arrivals_s = run.arrivals.at_s
    service_s = MEAN_S * run.arrivals.exponential
    started = time.perf_counter()
    simpy_wait = simpy_mmc(arrivals_s, service_s)
    simpy_s = time.perf_counter() - started
    ours_rate, simpy_rate = arrivals_s.size / ours_s, arrivals_s.size / simpy_s
    erlang = theory.mm_c_mean_wait(SERVERS, LOAD * SERVERS / MEAN_S, 1.0 / MEAN_S)
    ratio = ours_rate / simpy_rate
    ours_wait = kpis(run)["overall.wait_mean_s"]
    print(f"(a) M/M/{SERVERS}, load {LOAD}, {arrivals_s.size:,} items, fifo")
    print(f"    queueopt (real engine): {ours_s:8.1f} s  {ours_rate:10,.0f} customers/s  mean wait {ours_wait:.2f} s")
    print(
        f"    SimPy:                  {simpy_s:8.1f} s  {simpy_rate:10,.0f} customers/s  mean wait {simpy_wait:.2f} s"
    )
    print(f"    Erlang C mean wait {erlang:.2f} s; ratio queueopt / SimPy = {ratio:.3f} (target >= {RATIO_TARGET})")
    return ratio >= RATIO_TARGET


def bench_day(scale: float, hours: float) -> bool:
    scenario = load_scenario(EXAMPLE / "example_day.toml")
    if scale != 1.0:
        scenario = scaled(scenario, scale)
    if hours < 24.0:
        scenario = scenario.model_copy(update={"horizon_s": hours * 3600.0, "warmup_s": 0.0})
    started = time.perf_counter()
    run = simulate(scenario, 0, "optimal")
    wall = time.perf_counter() - started
    measured = kpis(run)
    print(
        f"(b) example day x {scale:g}, first {hours:g} h: {len(run.arrivals):,} items, "
        f"{len(run.moderators):,} moderators, optimal"
    )
    print(f"    wall {wall:.1f} s (simulator loop {run.wall_s:.1f} s; target < {DAY_TARGET_S:.0f} s at full scale)")
    print(
        f"    SLA attainment {measured['overall.sla_attainment']:.3f}, accuracy {measured['overall.accuracy']:.3f}, "
        f"harmful views {measured['overall.harmful_views']:,.0f}, utilisation {measured['overall.utilisation']:.3f}"
    )
    return scale == 1.0 and hours >= 24.0 and wall < DAY_TARGET_S


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--hours", type=float, default=24.0, help="simulate only the first hours of the day")
    parser.add_argument("--skip-mmc", action="store_true")
    parser.add_argument("--skip-day", action="store_true")
    arguments = parser.parse_args()
    met = []
    if not arguments.skip_mmc:
        met.append(bench_mmc(arguments.items))
    if not arguments.skip_day:
        met.append(bench_day(arguments.scale, arguments.hours))
    print("targets met" if all(met) else "targets NOT met (see benchmarks/README.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
