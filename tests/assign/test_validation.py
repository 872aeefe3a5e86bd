"""Bad input fails loudly with a message that names the argument and the problem."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp

from queueopt.assign import solve

VALUE = np.ones((3, 4))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value": np.ones(3)}, "value: must be a 2-D tasks x moderators matrix, got shape (3,)"),
        ({"value": VALUE, "capacity": [1, 1, 1]}, "capacity: expected length 4 (one per moderator), got 3"),
        ({"value": VALUE, "capacity": [[1, 1, 1, 1]]}, "capacity: must be 1-D, got shape (1, 4)"),
        ({"value": VALUE, "capacity": [1, 1, 1, -1]}, "capacity: must be non-negative, got -1 at moderator 3"),
        ({"value": VALUE, "capacity": [1.0, 1.0, 1.0, 1.0]}, "capacity: must hold integers, got dtype float64"),
        (
            {"value": np.array([[1.0, np.inf]])},
            "value: must be NaN or at most 1e+300 in magnitude, got inf at task 0, moderator 1",
        ),
        (
            {"value": np.array([[1.0, 2.0], [-np.inf, 1.0]])},
            "value: must be NaN or at most 1e+300 in magnitude, got -inf at task 1, moderator 0",
        ),
        (
            {"value": sp.csr_matrix(np.array([[0.0, np.inf]]))},
            "value: must be NaN or at most 1e+300 in magnitude, got inf at task 0, moderator 1",
        ),
        ({"value": VALUE.astype(complex)}, "value: must hold real numbers, got dtype complex128"),
        ({"value": np.array([["a", "b"]])}, "value: must hold real numbers, got dtype <U1"),
        ({"value": VALUE.astype(object)}, "value: must hold real numbers, got dtype object"),
        ({"value": VALUE.astype(bool)}, "value: must hold real numbers, got dtype bool"),
        (
            {"value": VALUE, "method": "magic"},
            "method: expected one of 'auto', 'hungarian', 'flow', 'greedy'; got 'magic'",
        ),
        ({"value": VALUE, "severe": [True] * 3}, "severe, severe_cap: give both or neither"),
        ({"value": VALUE, "vendor_cap": [1]}, "vendor, vendor_cap: give both or neither"),
        (
            {"value": VALUE, "severe": [True, False], "severe_cap": [1] * 4},
            "severe: expected length 3 (one per task), got shape (2,)",
        ),
        (
            {"value": VALUE, "severe": [1, 0, 1], "severe_cap": [1] * 4},
            "severe: must hold booleans, got dtype int64",
        ),
        (
            {"value": VALUE, "severe": [True] * 3, "severe_cap": [1, 1, -2, 1]},
            "severe_cap: must be non-negative, got -2 at moderator 2",
        ),
        (
            {"value": VALUE, "vendor": [0, 1, 2, 0], "vendor_cap": [1, 1]},
            "vendor: index 2 at moderator 2 is out of range for vendor_cap of length 2",
        ),
        (
            {"value": VALUE, "vendor": [0, -1, 0, 0], "vendor_cap": [1]},
            "vendor: must be non-negative, got -1 at moderator 1",
        ),
        (
            {"value": VALUE, "vendor": [0, 0, 0, 0], "vendor_cap": [-1]},
            "vendor_cap: must be non-negative, got -1 at vendor 0",
        ),
        (
            {"value": VALUE, "severe": [True] * 3, "severe_cap": [1] * 4, "method": "hungarian"},
            "method: 'hungarian' cannot enforce severe or vendor caps; use 'flow' or 'auto'",
        ),
        (
            {"value": VALUE, "vendor": [0, 0, 0, 0], "vendor_cap": [1], "method": "hungarian"},
            "method: 'hungarian' cannot enforce severe or vendor caps; use 'flow' or 'auto'",
        ),
    ],
)
def test_bad_input_names_the_problem(kwargs: dict[str, object], message: str) -> None:
    value = kwargs.pop("value")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        solve(value, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        sp.csr_matrix((np.array([1.0, 2.0, 3.0]), np.array([1, 1, 3]), np.array([0, 2, 2, 3])), shape=(3, 40)),
        sp.csr_matrix(np.arange(1.0, 13.0).reshape(3, 4)),
    ],
    ids=["sparse-with-duplicates", "dense-enough"],
)
def test_the_callers_sparse_matrix_is_left_as_it_was(value: sp.csr_matrix) -> None:
    """Sparse input is read in place (no copy on the dense path), so neither path may write to it: the first has
    duplicates that the sparse path sums, the second is dense enough to be read as a matrix."""
    before = (value.data.copy(), value.indices.copy(), value.indptr.copy())
    solve(value, method="flow")
    solve(value)
    after = (value.data, value.indices, value.indptr)
    assert all(np.array_equal(old, new) for old, new in zip(before, after, strict=True))
