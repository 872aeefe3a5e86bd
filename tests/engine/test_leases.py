"""The lease book's free-slot index, kept up to date lease by lease, against a count from scratch."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from queueopt.engine.leases import LeaseBook

MODERATORS = [f"m{index}" for index in range(6)]
TASKS = [f"t{index}" for index in range(12)]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("slots"), st.sampled_from(MODERATORS), st.integers(0, 3)),
        st.tuples(st.just("add"), st.sampled_from(MODERATORS), st.sampled_from(TASKS)),
        st.tuples(st.just("drop"), st.sampled_from(MODERATORS), st.sampled_from(TASKS)),
        st.tuples(st.just("idle"), st.sampled_from(MODERATORS), st.booleans()),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_free_slots_match_a_recount(script: list[tuple[str, str, object]]) -> None:
    book = LeaseBook()
    slots: dict[str, int] = {}
    first_given: list[str] = []
    held: dict[str, set[str]] = {moderator_id: set() for moderator_id in MODERATORS}
    idle: set[str] = set()
    for action, moderator_id, argument in script:
        if action == "slots":
            assert isinstance(argument, int)
            book.set_slots(moderator_id, argument)
            slots[moderator_id] = argument
            if moderator_id not in first_given:
                first_given.append(moderator_id)
        elif action == "idle":
            if argument:
                book.mark_idle(moderator_id)
                idle.add(moderator_id)
            else:
                book.mark_present(moderator_id)
                idle.discard(moderator_id)
        elif action == "add":
            assert isinstance(argument, str)
            book.add(moderator_id, argument, 1, 100.0)
            held[moderator_id].add(argument)
        else:
            assert isinstance(argument, str)
            book.drop(moderator_id, argument)
            held[moderator_id].discard(argument)
        free = {m: 0 if m in idle else max(0, slots.get(m, 0) - len(held[m])) for m in MODERATORS}
        expected = [m for m in first_given if free[m] > 0]
        assert book.free_slots() == (expected, [free[m] for m in expected])
        assert all(book.free(m) == free[m] and book.idle(m) == (m in idle) for m in MODERATORS)
