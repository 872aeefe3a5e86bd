"""Exact matching as a min-cost flow (OR-Tools `SimpleMinCostFlow`), the only method that also enforces side caps.

Network, one unit of flow per assigned task:

    source -> task (cap 1) -> [severe gate of moderator j (cap severe_cap[j]), severe tasks only] -> moderator j
           -> [vendor v (cap vendor_cap[v])] -> sink,      plus a bypass source -> sink (cap n_tasks, cost 0).

The source pushes every task's unit and the bypass absorbs the ones not worth assigning, so the solver maximises
total value rather than the number of assigned tasks.

Integer scaling. OR-Tools needs int64 costs, and refuses magnitudes above roughly int64_max / (2 * (nodes + 1))
because cost scaling multiplies them by the node count. A pair's cost is -round(value * C / v_max) with C set to
int64_max // (4 * (nodes + 2)) (halved again if OR-Tools still reports BAD_COST_RANGE). Rounding moves each pair's
scaled value by at most 1/2, so the integer optimum and the true optimum differ by at most k / C of v_max, where k is
the largest possible number of assigned pairs. Every remaining pair is feasible on its own (see `problem`), so the
optimum is at least v_max and the relative gap is at most k / C: about 1e-11 for 5,000 tasks and 1,000 moderators,
and below 1e-9 up to roughly 45,000 nodes. The reported objective is summed from the original floats.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from queueopt.assign.problem import IntArray, Problem, compact

_INT64_MAX = int(np.iinfo(np.int64).max)


def solve_flow(problem: Problem) -> tuple[IntArray, IntArray]:
    pairs = problem.pairs
    network = _Network(problem)
    magnitude = _INT64_MAX // (4 * (network.n_nodes + 2))
    scale = magnitude / float(pairs.value.max())
    while True:
        solver = min_cost_flow.SimpleMinCostFlow()
        costs = network.costs(-np.rint(pairs.value * scale).astype(np.int64))
        solver.add_arcs_with_capacity_and_unit_cost(network.tails, network.heads, network.capacities, costs)
        solver.set_nodes_supplies(network.supply_nodes, network.supplies)
        status = solver.solve()
        if status == solver.OPTIMAL:
            break
        if status != solver.BAD_COST_RANGE or scale < 1.0:
            raise RuntimeError(f"min-cost flow failed with status {status}")
        scale /= 2
    chosen = np.flatnonzero(solver.flows(network.pair_arcs) > 0)
    return pairs.task[chosen], pairs.moderator[chosen]


class _Network:
    """Node numbering and arc arrays, built once; only the pair costs change between scaling attempts.

    Arcs are laid out as: source -> task, then task -> moderator (or gate) in pair order, then the rest, so the pair
    arcs are a contiguous range whose flows read back the matching directly.
    """

    def __init__(self, problem: Problem) -> None:
        pairs = problem.pairs
        tasks, task_node = problem.task_index
        moderators, moderator_local = problem.moderator_index
        n_tasks, n_moderators = tasks.size, moderators.size
        moderator_node = n_tasks + np.arange(n_moderators)
        self.n_nodes = n_tasks + n_moderators
        pair_head = moderator_node[moderator_local]
        extra: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]] = []
        if problem.severe is not None and problem.severe_cap is not None:
            gate_node = self._new_nodes(n_moderators)
            pair_head = np.where(problem.severe[pairs.task], gate_node[moderator_local], pair_head)
            extra.append((gate_node, moderator_node, problem.severe_cap[moderators]))
        source, sink = self._new_nodes(2)
        moderator_head = np.full(n_moderators, sink)
        if problem.vendor is not None and problem.vendor_cap is not None:
            vendors, vendor_local = compact(problem.vendor[moderators], problem.vendor_cap.size)
            vendor_node = self._new_nodes(vendors.size)
            moderator_head = vendor_node[vendor_local]
            extra.append((vendor_node, np.full(vendors.size, sink), problem.vendor_cap[vendors]))
        extra.append((moderator_node, moderator_head, problem.capacity[moderators]))
        extra.append((np.array([source]), np.array([sink]), np.array([n_tasks])))  # the "leave it queued" bypass

        self.tails = np.concatenate([np.full(n_tasks, source), task_node, *(tail for tail, _, _ in extra)])
        self.heads = np.concatenate([np.arange(n_tasks), pair_head, *(head for _, head, _ in extra)])
        self.capacities = np.concatenate([np.ones(n_tasks + pairs.task.size), *(cap for _, _, cap in extra)])
        self.tails = self.tails.astype(np.int32)
        self.heads = self.heads.astype(np.int32)
        self.capacities = self.capacities.astype(np.int64)
        self.pair_arcs = np.arange(n_tasks, n_tasks + pairs.task.size, dtype=np.int32)
        self.supply_nodes = np.array([source, sink], dtype=np.int32)
        self.supplies = np.array([n_tasks, -n_tasks], dtype=np.int64)

    def _new_nodes(self, count: int) -> NDArray[np.int64]:
        nodes = np.arange(self.n_nodes, self.n_nodes + count, dtype=np.int64)
        self.n_nodes += count
        return nodes

    def costs(self, pair_cost: NDArray[np.int64]) -> NDArray[np.int64]:
        """Only task -> moderator arcs carry a cost; every structural arc is free."""
        cost = np.zeros(self.tails.size, dtype=np.int64)
        cost[self.pair_arcs[0] : self.pair_arcs[0] + pair_cost.size] = pair_cost
        return cost
