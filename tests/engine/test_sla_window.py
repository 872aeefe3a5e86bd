"""The engine's rolling SLA window stays an hour long whether or not anyone reads the share."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from queueopt.engine.sla_window import SLA_WINDOW_S, SlaWindow


@given(st.lists(st.tuples(st.floats(0.0, 600.0), st.booleans()), min_size=1, max_size=200))
def test_the_window_holds_only_the_last_hour_of_decisions(steps: list[tuple[float, bool]]) -> None:
    window, now, added = SlaWindow(), 0.0, []
    for gap, within in steps:
        now += gap
        window.add(now, within)
        added.append((now, within))
    kept = [entry for entry in added if entry[0] >= now - SLA_WINDOW_S]
    assert list(window.decisions) == kept
    assert window.share(now) == sum(within for _, within in kept) / len(kept)
