"""Turn the caller's arrays into one checked, pruned list of eligible pairs that every method solves.

Validation lives here, once, so the methods can trust their input and stay short. Pruning removes only pairs that no
feasible matching can use (a moderator with no free slot, a severe task to a moderator whose severe budget is 0, a
moderator whose vendor has no volume left), which never changes the optimum but keeps the solvers' graphs small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

IntArray = NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class Problem:
    """Eligible pairs in (task, moderator) order plus the limits on them; caps are clipped to what can be used."""

    n_tasks: int
    n_moderators: int
    task: IntArray
    moderator: IntArray
    value: NDArray[np.float64]
    capacity: NDArray[np.int64]
    severe: NDArray[np.bool_] | None
    severe_cap: NDArray[np.int64] | None
    vendor: IntArray | None
    vendor_cap: NDArray[np.int64] | None

    @property
    def has_side_constraints(self) -> bool:
        return self.severe is not None or self.vendor is not None

    @property
    def n_pairs(self) -> int:
        return int(self.task.size)


def build_problem(
    value: Any,
    capacity: Any = None,
    *,
    severe: Any = None,
    severe_cap: Any = None,
    vendor: Any = None,
    vendor_cap: Any = None,
) -> Problem:
    """Check every argument, naming the offending one, and collect the pairs a matching may use."""
    task, moderator, pair_value, (n_tasks, n_moderators) = _eligible_pairs(value)
    cap = _counts("capacity", capacity, n_moderators, "moderator", default=1)
    if (severe is None) != (severe_cap is None):
        raise ValueError("severe, severe_cap: give both or neither")
    if (vendor is None) != (vendor_cap is None):
        raise ValueError("vendor, vendor_cap: give both or neither")
    severe_flags = None if severe is None else _flags("severe", severe, n_tasks)
    severe_limit = None if severe_cap is None else _counts("severe_cap", severe_cap, n_moderators, "moderator")
    vendor_of = None if vendor is None else _vendor_index(vendor, n_moderators)
    vendor_limit = None
    if vendor_cap is not None and vendor_of is not None:
        vendor_limit = _counts("vendor_cap", vendor_cap, -1, "vendor")
        if vendor_of.size and int(vendor_of.max()) >= vendor_limit.size:
            bad = int(np.argmax(vendor_of >= vendor_limit.size))
            raise ValueError(
                f"vendor: index {int(vendor_of[bad])} at moderator {bad} is out of range for "
                f"vendor_cap of length {vendor_limit.size}"
            )

    cap = np.minimum(cap, n_tasks)
    usable = cap[moderator] > 0
    if severe_flags is not None and severe_limit is not None:
        severe_limit = np.minimum(severe_limit, cap)
        usable &= ~severe_flags[task] | (severe_limit[moderator] > 0)
    if vendor_of is not None and vendor_limit is not None:
        vendor_limit = np.minimum(vendor_limit, n_tasks)
        usable &= vendor_limit[vendor_of[moderator]] > 0
    return Problem(
        n_tasks=n_tasks,
        n_moderators=n_moderators,
        task=task[usable],
        moderator=moderator[usable],
        value=pair_value[usable],
        capacity=cap,
        severe=severe_flags,
        severe_cap=severe_limit,
        vendor=vendor_of,
        vendor_cap=vendor_limit,
    )


def _eligible_pairs(value: Any) -> tuple[IntArray, IntArray, NDArray[np.float64], tuple[int, int]]:
    if sp.issparse(value):
        matrix = sp.csr_matrix(value, copy=True)
        _check_real("value", matrix.dtype)
        shape = _matrix_shape(matrix.shape)
        matrix.sum_duplicates()
        coo = matrix.tocoo()
        rows, cols, data = coo.row, coo.col, np.asarray(coo.data, dtype=np.float64)
        _check_finite(data, rows, cols)
    else:
        dense = np.asarray(value)
        _check_real("value", dense.dtype)
        shape = _matrix_shape(dense.shape)
        infinite = np.isinf(dense)
        if infinite.any():
            rows, cols = np.nonzero(infinite)
            _check_finite(np.asarray(dense[rows, cols], dtype=np.float64), rows, cols)
        rows, cols = np.nonzero(dense > 0)
        data = np.asarray(dense[rows, cols], dtype=np.float64)
    keep = data > 0
    order = np.lexsort((cols[keep], rows[keep]))
    return (
        rows[keep][order].astype(np.intp),
        cols[keep][order].astype(np.intp),
        data[keep][order],
        shape,
    )


def _check_finite(data: NDArray[np.float64], rows: NDArray[Any], cols: NDArray[Any]) -> None:
    """NaN means "not eligible"; an infinity is a bug upstream and would poison every method's arithmetic."""
    infinite = np.isinf(data)
    if infinite.any():
        bad = int(np.argmax(infinite))
        raise ValueError(f"value: must be finite or NaN, got {data[bad]} at task {rows[bad]}, moderator {cols[bad]}")


def _check_real(name: str, dtype: np.dtype[Any]) -> None:
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
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
    if counts.size and not np.issubdtype(counts.dtype, np.integer):
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


def _vendor_index(given: Any, n_moderators: int) -> IntArray:
    index = _counts("vendor", given, n_moderators, "moderator")
    return index.astype(np.intp)
