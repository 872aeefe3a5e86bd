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

Most pairs of a large sparse batch are a task's tenth-best option and never used, so when tasks have many options the
flow is first solved on each task's best few (see `pricing`), and the answer is accepted only once node potentials
prove that no left-out pair could improve it; otherwise the offending pairs are added and the flow solved again, or,
when they outnumber the guess or the repairs drag on, the whole network is solved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from queueopt.assign.pricing import MAX_ROUNDS, candidate_pairs, underpriced_pairs
from queueopt.assign.problem import IntArray, Problem

_INT64_MAX = int(np.iinfo(np.int64).max)
Int64Array = NDArray[np.int64]


def solve_flow(problem: Problem) -> tuple[IntArray, IntArray]:
    pairs = problem.pairs
    network = Network(problem)
    solution = _solve_from_best_options(problem, network) or network.solve(np.arange(pairs.task.size))
    chosen = solution.pairs[solution.flows[: solution.pairs.size] > 0]
    return pairs.task[chosen], pairs.moderator[chosen]


def _solve_from_best_options(problem: Problem, network: Network) -> FlowSolution | None:
    """The optimum, proven, from a restricted set of pairs; None when the guess does not pay and the caller should
    solve the whole network (too few options per task to restrict, contended moderators, or repairs dragging on)."""
    included = candidate_pairs(problem)
    if included is None:
        return None
    for _ in range(MAX_ROUNDS):
        solution = network.solve(np.flatnonzero(included))
        missing = underpriced_pairs(network, solution, ~included)
        if missing is None or missing.sum() > included.sum():
            return None
        if not missing.any():
            return solution
        included |= missing
    return None


@dataclass(frozen=True, slots=True)
class FlowSolution:
    """Which pairs the solved network held (its first arcs, in this order), every arc's ends, cost and flow."""

    pairs: IntArray
    tails: Int64Array
    heads: Int64Array
    capacities: Int64Array
    costs: Int64Array
    flows: Int64Array


class Network:
    """Nodes and structural arcs built once; `solve` adds any subset of the task -> moderator arcs."""

    def __init__(self, problem: Problem) -> None:
        pairs = problem.pairs
        tasks, task_node = problem.task_index
        moderators, moderator_local = problem.moderator_index
        n_tasks, n_moderators = tasks.size, moderators.size
        moderator_node = n_tasks + np.arange(n_moderators)
        self.n_nodes = n_tasks + n_moderators
        pair_head = moderator_node[moderator_local]
        arcs: list[tuple[Int64Array, Int64Array, Int64Array]] = []
        if problem.severe is not None and problem.severe_cap is not None:
            gate_node = self._new_nodes(n_moderators)
            pair_head = np.where(problem.severe[pairs.task], gate_node[moderator_local], pair_head)
            arcs.append((gate_node, moderator_node, problem.severe_cap[moderators]))
        source, sink = self._new_nodes(2)
        moderator_head = np.full(n_moderators, sink)
        if problem.vendor is not None and problem.vendor_cap is not None:
            vendors, vendor_local = np.unique(problem.vendor[moderators], return_inverse=True)
            vendor_node = self._new_nodes(vendors.size)
            moderator_head = vendor_node[vendor_local]
            arcs.append((vendor_node, np.full(vendors.size, sink), problem.vendor_cap[vendors]))
        arcs.append((moderator_node, moderator_head, problem.capacity[moderators]))
        arcs.append((np.full(n_tasks, source), np.arange(n_tasks), np.ones(n_tasks, np.int64)))
        arcs.append((np.array([source]), np.array([sink]), np.array([n_tasks])))  # the "leave it queued" bypass

        self.pair_tail = task_node.astype(np.int64)
        self.pair_head = pair_head.astype(np.int64)
        self.tails = np.concatenate([tail for tail, _, _ in arcs]).astype(np.int64)
        self.heads = np.concatenate([head for _, head, _ in arcs]).astype(np.int64)
        self.capacities = np.concatenate([cap for _, _, cap in arcs]).astype(np.int64)
        self.supply_nodes = np.array([source, sink], dtype=np.int32)
        self.supplies = np.array([n_tasks, -n_tasks], dtype=np.int64)
        # Each value as a share of the largest, so the scale is finite however small the values are: C / v_max
        # overflowed to infinity below about 1e-290 (every value a batch of priority-0 tasks gets is 1e-300), and
        # halving infinity on BAD_COST_RANGE looped for ever (found by a probe).
        self.shares = pairs.value / float(pairs.value.max())
        self.budget = float(_INT64_MAX // (4 * (self.n_nodes + 2)))
        self.pair_cost = self._pair_cost()

    def _new_nodes(self, count: int) -> Int64Array:
        nodes = np.arange(self.n_nodes, self.n_nodes + count, dtype=np.int64)
        self.n_nodes += count
        return nodes

    def _pair_cost(self) -> Int64Array:
        return -np.rint(self.shares * self.budget).astype(np.int64)

    def solve(self, pairs: IntArray) -> FlowSolution:
        # OR-Tools loads here, as scipy.optimize does in hungarian.py: only a solve needs it.
        from ortools.graph.python import min_cost_flow

        tails = np.concatenate([self.pair_tail[pairs], self.tails])
        heads = np.concatenate([self.pair_head[pairs], self.heads])
        capacities = np.concatenate([np.ones(pairs.size, np.int64), self.capacities])
        while True:
            costs = np.concatenate([self.pair_cost[pairs], np.zeros(self.tails.size, np.int64)])
            solver = min_cost_flow.SimpleMinCostFlow()
            solver.add_arcs_with_capacity_and_unit_cost(
                tails.astype(np.int32), heads.astype(np.int32), capacities, costs
            )
            solver.set_nodes_supplies(self.supply_nodes, self.supplies)
            status = solver.solve()
            if status == solver.OPTIMAL:
                flows = solver.flows(np.arange(tails.size, dtype=np.int32)).astype(np.int64)
                return FlowSolution(pairs, tails, heads, capacities, costs, flows)
            if status != solver.BAD_COST_RANGE or self.budget < 1.0:
                raise RuntimeError(f"min-cost flow failed with status {status}")
            self.budget /= 2
            self.pair_cost = self._pair_cost()
