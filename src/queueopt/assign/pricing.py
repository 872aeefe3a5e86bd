"""Solve the flow on a few promising pairs per task, then prove (or refute) that the left-out pairs do not matter.

This is column generation with an exact pricing step. A flow is optimal when some node potentials d make every
residual arc's reduced cost `cost + d[tail] - d[head]` non-negative; shortest distances from a virtual root joined to
every node give such potentials whenever the flow is optimal for the arcs it had. A left-out pair is an unused arc of
capacity 1, so it only adds a residual arc of its own: if none of those has a negative reduced cost, the restricted
optimum is the optimum of the whole network. The integer costs make the test exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from queueopt.assign.problem import Problem

if TYPE_CHECKING:
    from queueopt.assign.flow import FlowSolution, Network

# Measured in benchmarks/bench_assign.py: on 5,000 x 1,000 at 5% the optimum uses at most a task's 7th-best option,
# and the restricted flow with ~10 options per task solves 2-3x faster than the full one. Below 3 x that many options
# per task the extra pass does not pay.
OPTIONS_PER_TASK = 10
MIN_OPTIONS_TO_RESTRICT = 3 * OPTIONS_PER_TASK
# Shortest-path passes allowed before giving up on the proof and solving the whole network; typical batches need 30.
MAX_PASSES = 200
# Restricted solves (the first guess plus repairs) before solving the whole network.
MAX_ROUNDS = 3


def candidate_pairs(problem: Problem) -> NDArray[np.bool_] | None:
    """About `OPTIONS_PER_TASK` best pairs of each task (always its best), or None when restricting would not pay.

    Values are divided by their task's best so one threshold suits rich and poor tasks alike; the threshold is the
    quantile that keeps the wanted share, found in linear time.
    """
    pairs = problem.pairs
    active_tasks = problem.task_index[0]
    if active_tasks.size == 0 or pairs.task.size < MIN_OPTIONS_TO_RESTRICT * active_tasks.size:
        return None
    starts = np.flatnonzero(np.r_[True, pairs.task[1:] != pairs.task[:-1]])
    best = np.maximum.reduceat(pairs.value, starts)
    relative = pairs.value / best[problem.task_index[1]]
    keep = OPTIONS_PER_TASK * active_tasks.size
    threshold = np.partition(relative, relative.size - keep)[relative.size - keep]
    included: NDArray[np.bool_] = relative >= threshold
    return included


def underpriced_pairs(
    network: Network, solution: FlowSolution, left_out: NDArray[np.bool_]
) -> NDArray[np.bool_] | None:
    """Left-out pairs whose arc would have a negative reduced cost; None if the potentials did not settle in time."""
    has_room = solution.flows < solution.capacities
    has_flow = solution.flows > 0
    tails = np.concatenate([solution.tails[has_room], solution.heads[has_flow]])
    heads = np.concatenate([solution.heads[has_room], solution.tails[has_flow]])
    costs = np.concatenate([solution.costs[has_room], -solution.costs[has_flow]])
    distance = np.zeros(network.n_nodes, dtype=np.int64)
    for _ in range(MAX_PASSES):  # Bellman-Ford, one vectorised relaxation of every residual arc per pass
        reached = distance[tails] + costs
        shorter = reached < distance[heads]
        if not shorter.any():
            break
        np.minimum.at(distance, heads[shorter], reached[shorter])
    else:
        return None
    reduced = network.pair_cost + distance[network.pair_tail] - distance[network.pair_head]
    underpriced: NDArray[np.bool_] = left_out & (reduced < 0)
    return underpriced
