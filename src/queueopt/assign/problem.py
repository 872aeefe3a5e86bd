"""Turn the caller's arrays into one checked problem: the eligible pairs and the limits on them.

Validation lives here, once, so the methods can trust their input and stay short. Pruning removes only pairs that no
feasible matching can use (a moderator with no free slot, a severe task to a moderator whose severe budget is 0, a
moderator whose vendor has no volume left), and caps that cannot bind (a severe budget no smaller than the
moderator's slots, a vendor volume no smaller than its moderators' slots) are dropped; neither changes the optimum,
and both keep the solvers' work small. The flow solver relies on the pruning, not only for speed: it scales values
to integer costs by the largest, and an unusable pair of huge value left in would round every usable pair's cost to
0 (found by a mutation review; `tests/assign/test_solve.py` holds it).
A dense input without side caps stays a matrix and its pair list is only built, and pruned of outranked pairs, if a
method asks for it, because the dense solver works on the matrix (and restricts itself to the tasks that can matter,
see `hungarian`) and listing millions of cells would cost more than solving.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from queueopt.assign.alike import Alike, alike_columns, merged

IntArray = NDArray[np.intp]
FloatArray = NDArray[np.float64]
# `compact` sorts the entries instead of counting every id when there are this many times fewer of them than ids:
# measured, the two cost the same at about eight.
_SORTED_BELOW = 8
MAX_VALUE = 1e300
"""The largest value a pair may have: sums of a batch's values stay finite (the objective, the alike-column totals)."""


@dataclass(frozen=True, slots=True)
class Pairs:
    """Eligible (task, moderator, value) triples in (task, moderator) order."""

    task: IntArray
    moderator: IntArray
    value: FloatArray

    def without(self, dropped: NDArray[np.bool_]) -> Pairs:
        kept = ~dropped
        return Pairs(self.task[kept], self.moderator[kept], self.value[kept])


@dataclass(frozen=True)
class Problem:
    """The pairs a matching may use plus the limits on them; caps are clipped to what can be used.

    Exactly one of `dense` (tasks x moderators, 0 in every cell that is not a pair) and `listed` is set. With `alike`,
    each moderator column stands for several of the caller's moderators, which `Alike.spread` tells apart again.
    """

    n_tasks: int
    n_moderators: int
    capacity: NDArray[np.int64]
    dense: FloatArray | None = None
    listed: Pairs | None = None
    severe: NDArray[np.bool_] | None = None
    severe_cap: NDArray[np.int64] | None = None
    vendor: IntArray | None = None
    vendor_cap: NDArray[np.int64] | None = None
    alike: Alike | None = None

    @property
    def has_side_constraints(self) -> bool:
        return self.severe is not None or self.vendor is not None

    @cached_property
    def pairs(self) -> Pairs:
        if self.listed is not None:
            return self.listed
        assert self.dense is not None
        task, moderator = np.nonzero(self.dense)
        listed = Pairs(task.astype(np.intp), moderator.astype(np.intp), self.dense[task, moderator])
        outranked = _outranked_pairs(listed, self.n_tasks, self.capacity, None)
        return listed if outranked is None else listed.without(outranked)

    @cached_property
    def n_pairs(self) -> int:
        return int(np.count_nonzero(self.dense)) if self.dense is not None else int(self.pairs.task.size)

    @cached_property
    def active(self) -> tuple[IntArray, IntArray]:
        """Tasks and moderators that have at least one pair; the rest cannot take part in any matching."""
        if self.dense is not None:
            eligible = self.dense > 0
            return np.flatnonzero(eligible.any(axis=1)), np.flatnonzero(eligible.any(axis=0))
        return self.task_index[0], self.moderator_index[0]

    @cached_property
    def task_index(self) -> tuple[IntArray, IntArray]:
        """Active tasks and each pair's position among them, shared by `auto` and the solvers that renumber."""
        return compact(self.pairs.task, self.n_tasks)

    @cached_property
    def moderator_index(self) -> tuple[IntArray, IntArray]:
        return compact(self.pairs.moderator, self.n_moderators)

    def values_at(self, task: IntArray, moderator: IntArray) -> FloatArray:
        if self.dense is not None:
            return self.dense[task, moderator]
        pairs = self.pairs
        key = pairs.task * self.n_moderators + pairs.moderator
        return pairs.value[np.searchsorted(key, task * self.n_moderators + moderator)]


def compact(index: IntArray, size: int) -> tuple[IntArray, IntArray]:
    """The distinct ids in `index` (sorted) and each entry's position among them, ids being below `size`: a
    linear-time `np.unique`, counting every id below `size`; when the entries are far fewer than that (a quiet
    floor's batch numbers its few demands among every need the model has met), sorting them costs less."""
    if index.size * _SORTED_BELOW < size:
        ordered = np.sort(index)
        later = ordered[1:]
        distinct = np.concatenate((ordered[:1], later[later != ordered[:-1]])).astype(np.intp, copy=False)
        return distinct, np.searchsorted(distinct, index).astype(np.intp, copy=False)
    present = np.bincount(index, minlength=size) > 0
    ids = np.flatnonzero(present)
    position = np.cumsum(present) - 1
    return ids.astype(np.intp), position[index].astype(np.intp)


def build_problem(
    value: Any,
    capacity: Any = None,
    *,
    severe: Any = None,
    severe_cap: Any = None,
    vendor: Any = None,
    vendor_cap: Any = None,
    merge_alike: bool = True,
) -> Problem:
    """Check every argument, naming the offending one, and keep only what a matching may use; with `merge_alike`,
    moderators a dense batch cannot tell apart become one column (see `alike`)."""
    dense, listed, (n_tasks, n_moderators) = _read_value(value)
    cap = _counts("capacity", capacity, n_moderators, "moderator", default=1)
    if (severe is None) != (severe_cap is None):
        raise ValueError("severe, severe_cap: give both or neither")
    if (vendor is None) != (vendor_cap is None):
        raise ValueError("vendor, vendor_cap: give both or neither")
    severe_flags = None if severe is None else _flags("severe", severe, n_tasks)
    severe_limit = None if severe_cap is None else _counts("severe_cap", severe_cap, n_moderators, "moderator")
    vendor_of = None if vendor is None else _counts("vendor", vendor, n_moderators, "moderator").astype(np.intp)
    vendor_limit = None if vendor_cap is None else _counts("vendor_cap", vendor_cap, -1, "vendor")
    if vendor_of is not None and vendor_limit is not None and vendor_of.size and vendor_of.max() >= vendor_limit.size:
        bad = int(np.argmax(vendor_of >= vendor_limit.size))
        raise ValueError(
            f"vendor: index {vendor_of[bad]} at moderator {bad} is out of range for vendor_cap of length "
            f"{vendor_limit.size}"
        )

    cap = np.minimum(cap, n_tasks)
    if severe_limit is not None:
        severe_limit = np.minimum(severe_limit, cap)
        if (severe_limit == cap).all():  # no budget can bind: dropping it lets auto use the dense solver
            severe_flags = severe_limit = None
    if vendor_of is not None and vendor_limit is not None:
        vendor_limit = np.minimum(vendor_limit, n_tasks)
        if (vendor_limit >= np.bincount(vendor_of, weights=cap, minlength=vendor_limit.size)).all():
            vendor_of = vendor_limit = None
    alike = None
    if dense is not None:
        dense[:, cap == 0] = 0.0
        of_column = alike_columns(dense, vendor_of) if merge_alike else None
        if of_column is not None:
            alike = merged(of_column, cap, severe_limit)
            representative = alike.moderator[alike.start[:-1]]
            dense, n_moderators = dense[:, representative], representative.size
            cap = np.minimum(np.bincount(of_column, weights=cap).astype(np.int64), n_tasks)
            if severe_limit is not None:
                severe_limit = np.minimum(np.bincount(of_column, weights=severe_limit).astype(np.int64), cap)
            if vendor_of is not None:
                vendor_of = vendor_of[representative]
        if severe_flags is None and vendor_of is None:
            return Problem(n_tasks, n_moderators, cap, dense=dense, alike=alike)
        task, moderator = np.nonzero(dense)
        listed = Pairs(task.astype(np.intp), moderator.astype(np.intp), dense[task, moderator])
    assert listed is not None
    usable = cap[listed.moderator] > 0
    if severe_flags is not None and severe_limit is not None:
        usable &= ~severe_flags[listed.task] | (severe_limit[listed.moderator] > 0)
    if vendor_of is not None and vendor_limit is not None:
        usable &= vendor_limit[vendor_of[listed.moderator]] > 0
    if not usable.all():
        listed = Pairs(listed.task[usable], listed.moderator[usable], listed.value[usable])
    outranked = _outranked_pairs(listed, n_tasks, cap, severe_flags)
    if outranked is not None:
        listed = listed.without(outranked)
    return Problem(n_tasks, n_moderators, cap, None, listed, severe_flags, severe_limit, vendor_of, vendor_limit, alike)


# Sparse input this dense, and no larger, is read as a dense matrix (see `_read_value`).
DENSE_MIN_SHARE = 0.1
DENSE_MAX_CELLS = 4_000_000
# `_outranked_pairs` lays the crowded moderators' pairs out densely to rank them; it gives up (pruning is only a
# speed-up) when that layout would exceed this many cells per pair, as on a huge, very sparse batch.
MAX_RANKING_CELLS_PER_PAIR = 8


def reads_dense(shape: tuple[int, int], nnz: int) -> bool:
    """Whether a sparse input of this shape with `nnz` stored entries is read as a dense matrix (see `_read_value`):
    a caller that has the dense matrix at hand can pass it instead, to the same effect."""
    cells = shape[0] * shape[1]
    return cells <= DENSE_MAX_CELLS and nnz >= DENSE_MIN_SHARE * cells


def _outranked_pairs(
    listed: Pairs, n_tasks: int, cap: NDArray[np.int64], severe: NDArray[np.bool_] | None
) -> NDArray[np.bool_] | None:
    """Pairs no method needs: those below the `reach`-th best value of their moderator, `reach` being the most pairs a
    matching can hold (severe and other tasks ranked apart while severe caps bind); pairs tied with it stay.

    Exact methods: if an optimum gave moderator j a task i outside j's top `reach` of i's kind, at most `reach - 1` of
    those top tasks are matched (i is one of at most `reach` matched tasks), so one of them is free; giving it to j
    instead of i keeps every cap (same moderator, same kind) and loses no value. Greedy walks pairs best first, so
    when it reaches (i, j) with a slot still free at j, fewer than `reach` tasks are taken: one of j's better pairs of
    i's kind had a free task and a free slot and was taken before, so greedy never picks (i, j) either. A batch with
    far more tasks than free slots shrinks to the tasks that can matter to each moderator.
    """
    per_moderator = np.bincount(listed.moderator, minlength=cap.size)
    reach = int(cap[per_moderator > 0].sum())
    group = listed.moderator if severe is None else 2 * listed.moderator + severe[listed.task]
    crowded = np.flatnonzero(np.bincount(group) > reach)
    if crowded.size == 0:
        return None
    column = np.full(int(group.max()) + 1, -1)
    column[crowded] = np.arange(crowded.size)
    inside = column[group] >= 0
    if n_tasks * crowded.size > MAX_RANKING_CELLS_PER_PAIR * int(np.count_nonzero(inside)):
        return None
    block = np.zeros((n_tasks, crowded.size))
    block[listed.task[inside], column[group[inside]]] = listed.value[inside]
    outranked = np.zeros(listed.task.size, dtype=np.bool_)
    outranked[inside] = listed.value[inside] < _floors(block, reach)[column[group[inside]]]
    return outranked


def _floors(block: FloatArray, reach: int) -> FloatArray:
    """Each column's `reach`-th largest cell (0 cells are not pairs and rank below every pair)."""
    floors: FloatArray = np.partition(block, block.shape[0] - reach, axis=0)[block.shape[0] - reach]
    return floors


def _read_value(value: Any) -> tuple[FloatArray | None, Pairs | None, tuple[int, int]]:
    """A dense matrix with 0 for every ineligible cell, or the pairs of a sparse one (CSR order is row-major).

    A sparse matrix with at least `DENSE_MIN_SHARE` of its cells stored (an engine batch, where most moderators may
    take most tasks) is read as dense: one C-level `toarray` replaces the several passes over the pair list that
    listing, pruning and the dense solver's scatter would cost, and the result is the same.
    """
    # An array is never sparse, and the engine passes one in every batch: `isinstance` is far cheaper than `issparse`.
    if not isinstance(value, np.ndarray) and sp.issparse(value):
        matrix = value.tocsr()  # the caller's own matrix when it is CSR already: read, never written, on this path
        _check_real("value", matrix.dtype)
        shape = _matrix_shape(matrix.shape)
        if reads_dense(shape, matrix.nnz):
            return _read_value(matrix.toarray())
        matrix = matrix.copy()  # only here: summing duplicates must not touch the caller's matrix
        matrix.sum_duplicates()
        rows = np.repeat(np.arange(shape[0], dtype=np.intp), np.diff(matrix.indptr))
        cols = matrix.indices.astype(np.intp)
        data = np.asarray(matrix.data, dtype=np.float64)
        _check_finite(data, rows, cols)
        keep = data > 0
        return None, Pairs(rows[keep], cols[keep], data[keep]), shape
    dense = np.asarray(value)
    _check_real("value", dense.dtype)
    shape = _matrix_shape(dense.shape)
    dense = dense.astype(np.float64, copy=False)
    outside = np.abs(dense) > MAX_VALUE
    if outside.any():
        rows, cols = np.nonzero(outside)
        _check_finite(dense[rows, cols], rows, cols)
    return np.where(dense > 0, dense, 0.0), None, shape


def _check_finite(data: NDArray[np.float64], rows: NDArray[Any], cols: NDArray[Any]) -> None:
    """NaN means "not eligible"; an infinity is a bug upstream and would poison every method's arithmetic, and so
    would a value so large that sums of a few overflow (found by a probe: 1e308s crashed every method)."""
    outside = np.abs(data) > MAX_VALUE
    if outside.any():
        bad = int(np.argmax(outside))
        raise ValueError(
            f"value: must be NaN or at most {MAX_VALUE:g} in magnitude, got {data[bad]} at task {rows[bad]}, "
            f"moderator {cols[bad]}"
        )


# Dtype kinds of numpy's integer types (timedelta64 is one) and of its floating types: a kind test answers what
# `np.issubdtype(dtype, np.integer)` or `np.floating` would, in a fraction of the time, twice in every batch.
_INTEGER_KINDS = "ium"
_REAL_KINDS = _INTEGER_KINDS + "f"


def _check_real(name: str, dtype: np.dtype[Any]) -> None:
    if dtype.kind not in _REAL_KINDS:
        raise ValueError(f"{name}: must hold real numbers, got dtype {dtype}")


def _matrix_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) != 2:
        raise ValueError(f"value: must be a 2-D tasks x moderators matrix, got shape {shape}")
    return int(shape[0]), int(shape[1])


def _counts(name: str, given: Any, length: int, unit: str, *, default: int | None = None) -> NDArray[np.int64]:
    """A non-negative integer per moderator (or per vendor when `length` is -1, meaning any length)."""
    if given is None and default is not None:
        return np.full(length, default, dtype=np.int64)
    counts = np.asarray(given)
    if counts.ndim != 1:
        raise ValueError(f"{name}: must be 1-D, got shape {counts.shape}")
    if length >= 0 and counts.size != length:
        raise ValueError(f"{name}: expected length {length} (one per {unit}), got {counts.size}")
    if counts.size and counts.dtype.kind not in _INTEGER_KINDS:
        raise ValueError(f"{name}: must hold integers, got dtype {counts.dtype}")
    counts = counts.astype(np.int64)
    if (counts < 0).any():
        bad = int(np.argmax(counts < 0))
        raise ValueError(f"{name}: must be non-negative, got {counts[bad]} at {unit} {bad}")
    return counts


def _flags(name: str, given: Any, length: int) -> NDArray[np.bool_]:
    flags = np.asarray(given)
    if flags.ndim != 1 or flags.size != length:
        raise ValueError(f"{name}: expected length {length} (one per task), got shape {flags.shape}")
    if flags.size and flags.dtype != np.bool_:
        raise ValueError(f"{name}: must hold booleans, got dtype {flags.dtype}")
    return flags.astype(np.bool_)
