"""`ExactSums` cells are the correctly rounded sum of their live terms whatever the order terms came and went, the
property that lets a model rebuilt from a saved state score bit for bit like the original."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from queueopt.capability.estimators import ExactSums, exact_units

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@settings(max_examples=300, deadline=None)
@given(terms=st.lists(finite, max_size=40), removed=st.lists(st.booleans(), max_size=40), data=st.data())
def test_a_cell_is_the_rounded_sum_of_live_terms(terms: list[float], removed: list[bool], data: st.DataObject) -> None:
    sums = ExactSums(2)
    sums.grow(1)
    live = []
    for term, remove in zip(terms, removed + [False] * len(terms), strict=False):
        sums.add(0, 1, exact_units(term))
        if remove:
            sums.add(0, 1, exact_units(-term))
        else:
            live.append(term)
        if data.draw(st.booleans()):  # read between adds as well as at the end: values are brought up to date
            assert sums.values[0, 1] == math.fsum(live)
    assert sums.values[0, 1] == math.fsum(live)
    assert sums.values[0, 0] == 0.0

    shuffled = ExactSums(2)
    shuffled.grow(1)
    shuffled.add(0, 1, exact_units(*data.draw(st.permutations(live))))
    assert shuffled.values[0, 1] == sums.values[0, 1]


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), finite), max_size=40))
def test_a_column_sum_is_the_rounded_sum_of_its_cells_terms(cells: list[tuple[int, int, float]]) -> None:
    sums = ExactSums(2)
    sums.grow(4)
    for row, column, term in cells:
        sums.add(row, column, exact_units(term))
    for column in (0, 1):
        assert sums.column_sums()[column] == math.fsum(term for _, at, term in cells if at == column)
