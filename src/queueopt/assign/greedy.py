"""Highest value first: the baseline every benchmark reports the optimal matching's gain against.

Greedy spends a scarce specialist on the first high-value task it sees even when a generalist could have taken that
task and the specialist was the only one able to do another; that loss is what the exact methods exist to avoid.
"""

from __future__ import annotations

import numpy as np

from queueopt.assign.problem import IntArray, Problem


def solve_greedy(problem: Problem) -> tuple[IntArray, IntArray]:
    """Walk pairs by value (ties by task, then moderator index) and keep each one that still fits every limit.

    The order is one vectorised sort; the walk itself is sequential by nature and stops as soon as no task or no slot
    is left.
    """
    pairs = problem.pairs
    order = np.argsort(-pairs.value, kind="stable")  # pairs are already in (task, moderator) order
    tasks = pairs.task[order].tolist()
    moderators = pairs.moderator[order].tolist()
    slots = problem.capacity.tolist()
    severe = None if problem.severe is None else problem.severe.tolist()
    severe_slots = None if problem.severe_cap is None else problem.severe_cap.tolist()
    vendor = None if problem.vendor is None else problem.vendor.tolist()
    vendor_slots = None if problem.vendor_cap is None else problem.vendor_cap.tolist()
    taken = [False] * problem.n_tasks
    tasks_left = problem.n_tasks
    slots_left = sum(slots)
    chosen_task: list[int] = []
    chosen_moderator: list[int] = []
    for i, j in zip(tasks, moderators, strict=True):
        if taken[i] or slots[j] == 0:
            continue
        is_severe = severe is not None and severe[i]
        if is_severe and severe_slots is not None and severe_slots[j] == 0:
            continue
        if vendor is not None and vendor_slots is not None:
            if vendor_slots[vendor[j]] == 0:
                continue
            vendor_slots[vendor[j]] -= 1
        if is_severe and severe_slots is not None:
            severe_slots[j] -= 1
        taken[i] = True
        slots[j] -= 1
        chosen_task.append(i)
        chosen_moderator.append(j)
        tasks_left -= 1
        slots_left -= 1
        if tasks_left == 0 or slots_left == 0:
            break
    return np.asarray(chosen_task, dtype=np.intp), np.asarray(chosen_moderator, dtype=np.intp)
