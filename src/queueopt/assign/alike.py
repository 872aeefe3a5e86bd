"""Moderators a batch cannot tell apart, solved as one: the same value for every task, and the same vendor.

Such moderators appear wherever the model cannot tell people apart yet: new hires, a roster whose estimates are still
the shared prior of their group (the engine benchmark's 300 moderators are 6 kinds). A roster whose estimates have all
diverged gains nothing here and pays for one fingerprint per column. Merged columns get the sum of their members'
capacities (and severe budgets), and the matching is spread back over the members afterwards.

The optimum is unchanged: any matching of the original problem merges to one of the same value, and any matching of
the merged problem spreads back without breaking a cap (give each member severe tasks up to its own severe budget
first, which the summed budget allows, then the other tasks into what is left of the members' slots, which the summed
capacity allows). A batch of 300 moderators of 6 kinds becomes a 6-column problem that min-cost flow solves in a
fraction of the time the slot-expanded dense solver needs. Only the exact methods merge: greedy's walk order, and so
its result, would change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.intp]

# Rows fingerprinted before the whole matrix; the 64-bit step (2^64 / golden ratio) the row weights start from, and
# the multipliers and shifts of the SplitMix64 finaliser that scrambles both the weights and the cells.
SAMPLE_ROWS = 64
_WEYL = np.uint64(0x9E3779B97F4A7C15)
_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
_MULTIPLIERS = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


@dataclass(frozen=True, slots=True)
class Alike:
    """The original moderators behind each merged column: `moderator[start[g]:start[g + 1]]`, ascending, with their
    own (clipped) capacities and severe budgets."""

    moderator: IntArray
    start: IntArray
    capacity: NDArray[np.int64]
    severe_cap: NDArray[np.int64] | None

    def spread(self, task: IntArray, column: IntArray, severe: NDArray[np.bool_] | None) -> IntArray:
        """The original moderator for each (task, merged column) pair: severe tasks first, each to the first member
        with severe budget left, then the others to the first member with a slot left."""
        slots = self.capacity.tolist()
        members = self.moderator.tolist()
        columns = column.tolist()
        next_slot = self.start[:-1].tolist()
        spread = np.empty(task.size, dtype=np.intp)
        walk: Sequence[int] = range(task.size)
        if severe is not None and self.severe_cap is not None:
            severe_slots = self.severe_cap.tolist()
            next_severe = list(next_slot)
            is_severe = severe[task]
            for pair in np.flatnonzero(is_severe).tolist():
                group = columns[pair]
                at = next_severe[group]
                while severe_slots[at] == 0:  # a severe budget never exceeds the slots, so this member has a slot
                    at += 1
                next_severe[group] = at
                severe_slots[at] -= 1
                slots[at] -= 1
                spread[pair] = members[at]
            walk = np.flatnonzero(~is_severe).tolist()
        for pair in walk:
            group = columns[pair]
            at = next_slot[group]
            while slots[at] == 0:
                at += 1
            next_slot[group] = at
            slots[at] -= 1
            spread[pair] = members[at]
        return spread


def alike_columns(dense: NDArray[np.float64], vendor: IntArray | None) -> IntArray | None:
    """The merged column of each moderator (columns numbered from 0), or None when all of them differ.

    Equal columns agree on the first `SAMPLE_ROWS` rows too, so when the columns' totals over those rows are all
    distinct (a roster with learned estimates), or else their fingerprints, the answer is None at a fraction of the
    full cost."""
    n_tasks, n_moderators = dense.shape
    if n_moderators < 2 or _all_distinct(dense[:SAMPLE_ROWS].sum(axis=0)):
        return None
    if n_tasks > SAMPLE_ROWS and _fingerprint_groups(dense[:SAMPLE_ROWS], vendor) is None:
        return None
    of_column = _fingerprint_groups(dense, vendor)
    if of_column is None:
        return None
    n_groups = int(of_column.max()) + 1
    # The first moderator of each column: columns are numbered in order of first appearance, so exactly where the
    # running maximum rises (a plain scan; `np.unique` would sort).
    representative = np.flatnonzero(np.diff(np.maximum.accumulate(of_column), prepend=-1) > 0)
    # A fingerprint collision is as good as impossible, but a member that differs from its column's first moderator
    # in any cell gets a column of its own.
    differs = np.flatnonzero((dense != dense[:, representative[of_column]]).any(axis=0))
    of_column[differs] = n_groups + np.arange(differs.size)
    return None if differs.size == n_moderators - n_groups else of_column


def _all_distinct(totals: NDArray[Any]) -> bool:
    """Whether the columns' keys (totals, fingerprints) all differ, which proves the columns do: equal columns have
    equal keys (a column's total adds its cells in the same order as any other column's)."""
    ordered = np.sort(totals)
    return bool((ordered[1:] != ordered[:-1]).all())


def _fingerprint_groups(rows: NDArray[np.float64], vendor: IntArray | None) -> IntArray | None:
    """Columns numbered by their fingerprint over `rows` (and vendor) in order of first appearance; None when all
    differ. The fingerprint is a wrapping integer sum of each cell's scrambled bits times its row's odd weight, so
    equal columns always share it, whatever the summation order. Both are scrambled: a round number's bits end in
    dozens of zeros, which a product modulo 2^64 drops, and weights in arithmetic progression cancel out between
    mirrored columns (3, 2, 2, 3 against 2, 3, 3, 2); either made unequal columns share a fingerprint, and so
    hid equal ones (the exact check below splits a false group, it cannot find the true one)."""
    n_rows, n_columns = rows.shape
    weights = _ROW_WEIGHTS.first(n_rows)
    fingerprints = (_scrambled(rows.view(np.uint64)) * weights[:, None]).sum(axis=0)
    # Distinct fingerprints mean distinct keys whatever the vendors: one sort in C answers for a roster with learned
    # estimates, where numbering hundreds of keys in Python would only find that they all differ (`np.unique` costs
    # several times a plain sort at this size).
    if _all_distinct(fingerprints):
        return None
    fingerprint = fingerprints.tolist()
    keys = fingerprint if vendor is None else list(zip(fingerprint, vendor.tolist(), strict=True))
    first: dict[object, int] = {}
    of_column = np.fromiter((first.setdefault(key, len(first)) for key in keys), dtype=np.intp, count=n_columns)
    return None if len(first) == n_columns else of_column


class _RowWeights:
    """The odd row weights of `_fingerprint_groups`, made once: row i's depends on i alone, and making them cost as much
    as fingerprinting a quiet floor's batch of a few rows. Grown to twice the rows asked for when too short; a
    concurrent solve reads either table, and both agree on every row they hold."""

    def __init__(self) -> None:
        self._weights = np.zeros(0, dtype=np.uint64)

    def first(self, n_rows: int) -> NDArray[np.uint64]:
        weights = self._weights
        if weights.size < n_rows:
            weights = self._weights = _scrambled(np.arange(2 * n_rows, dtype=np.uint64) * _WEYL + _WEYL) | np.uint64(1)
        return weights[:n_rows]


_ROW_WEIGHTS = _RowWeights()


def _scrambled(bits: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64's finaliser on every element, into a new array: each output bit depends on every input bit."""
    first, second, third = _SHIFTS
    mixed = bits ^ (bits >> first)
    mixed *= _MULTIPLIERS[0]
    mixed ^= mixed >> second
    mixed *= _MULTIPLIERS[1]
    mixed ^= mixed >> third
    return mixed


def merged(of_column: IntArray, capacity: NDArray[np.int64], severe_cap: NDArray[np.int64] | None) -> Alike:
    moderator = np.argsort(of_column, kind="stable")
    start = np.zeros(int(of_column.max()) + 2, dtype=np.intp)
    np.cumsum(np.bincount(of_column), out=start[1:])
    return Alike(moderator, start, capacity[moderator], None if severe_cap is None else severe_cap[moderator])
