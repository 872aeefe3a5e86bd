"""The reading of a bounded number option, one for every `queueopt` command: typer's own range check told a NaN
'Input should be less than or equal to 1000' (found by a probe), so the range is checked here, and a value that is no
finite number is said to be out of range rather than compared."""

from __future__ import annotations

import math
from collections.abc import Callable

from pydantic_core import PydanticCustomError


def number_from(low: float, high: float, *, above_low: bool = False) -> Callable[[str], float]:
    """A parser for `typer.Option(parser=...)` taking numbers from `low` (or, `above_low`, only above it: a period
    of zero days is none) to `high`; click turns its ValueError into a one-line usage error naming the option."""
    start = f"above {low:,.10g}" if above_low else f"from {low:,.10g}"
    expected = f"expected a number {start} to {high:,.10g}"

    def read(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise PydanticCustomError("number", "expected a number, got '{text}'", {"text": text}) from None
        in_range = (low < value if above_low else low <= value) and value <= high
        if not math.isfinite(value) or not in_range:
            raise PydanticCustomError("number_range", expected + ", got '{text}'", {"text": text})
        return value

    return read
