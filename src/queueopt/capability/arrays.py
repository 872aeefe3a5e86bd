"""Growing the per-slot and per-row tables the capability model keeps, one definition for all of them."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

_Cell = TypeVar("_Cell", bound=np.generic)


def grown(array: NDArray[_Cell], capacity: int) -> NDArray[_Cell]:
    """`array` with at least `capacity` rows, the new ones zero."""
    if array.shape[0] >= capacity:
        return array
    bigger = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    bigger[: array.shape[0]] = array
    return bigger
