"""Drawn items are made without validating each one (see `queueopt.sim.arrivals._items`): they must be exactly the
items `Item(...)` would have made, and a draw `Item` would refuse must still be refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from queueopt.domain import MAX_DURATION_S, MAX_REPORTS, MAX_VIEWS_PER_HOUR, Item, Source
from queueopt.enqueue.router import unlinked
from queueopt.sim.arrivals import sample_arrivals
from queueopt.sim.variants import scaled

from .helpers import example, mm_c


def _same_as_validated(item: Item) -> None:
    again = Item.model_validate({name: getattr(item, name) for name in item.model_fields_set})
    assert again == item
    assert again.model_fields_set == item.model_fields_set
    assert list(again.__dict__) == list(item.__dict__)
    assert [type(value) for value in again.__dict__.values()] == [type(value) for value in item.__dict__.values()]
    assert again.model_dump_json() == item.model_dump_json()
    assert item.__pydantic_extra__ is None and item.__pydantic_private__ is None
    assert (again.__pydantic_extra__, again.__pydantic_private__) == (None, None)


def test_a_days_drawn_items_are_what_validation_makes() -> None:
    """Every stream of the example day (signals, duplicates, media durations, attributes, several sources)."""
    arrivals = sample_arrivals(scaled(example("example_day.toml"), 0.05), 0)
    assert len(arrivals) > 40_000
    for item in arrivals.items:
        _same_as_validated(item)


def test_drawn_appeals_name_a_content_of_their_own_and_other_items_without_copies_none() -> None:
    """The engine refuses an appeal without a content hash (`queueopt.enqueue.router.unlinked`); the example day's
    appeal stream draws no copies, so each of its appeals names a content nothing else has."""
    items = sample_arrivals(scaled(example("example_day.toml"), 0.05), 0).items
    appeals = [item for item in items if item.source is Source.APPEAL]
    assert appeals and all(unlinked(item) is None for item in items)
    assert len({item.content_hash for item in appeals}) == len(appeals)
    hashed = {item.content_hash for item in items if item.source is not Source.APPEAL}
    assert hashed.isdisjoint(item.content_hash for item in appeals)


def test_drawn_items_without_optional_draws_are_what_validation_makes() -> None:
    arrivals = sample_arrivals(mm_c(horizon_s=5000.0, arrival={"attributes": {"surface": "feed", "tier": 2}}), 0)
    for item in arrivals.items:
        _same_as_validated(item)
    assert all(item.attributes is not arrivals.items[0].attributes for item in arrivals.items[1:])


def test_copying_a_drawn_item_leaves_the_fields_set_the_others_share_alone() -> None:
    first, second = sample_arrivals(mm_c(horizon_s=2000.0), 0).items[:2]
    fields_set = set(second.model_fields_set)
    copy = first.model_copy(update={"created_at": datetime(2026, 1, 1, tzinfo=UTC)})
    assert "created_at" in copy.model_fields_set
    assert first.model_fields_set == second.model_fields_set == fields_set
    with pytest.raises(ValidationError):
        second.id = "elsewhere"  # type: ignore[misc]
    assert second.model_fields_set == fields_set


def test_a_draw_beyond_an_items_limits_is_held_to_them() -> None:
    """A lognormal's tail passes the limits a sent item must respect; a drawn item respects them too."""
    arrival = {
        "duration_s": {"median": MAX_DURATION_S, "sigma": 1.0},
        "views_per_hour": {"median": MAX_VIEWS_PER_HOUR, "sigma": 1.0},
        "reports": {"mean": 1e9},
    }
    items = sample_arrivals(mm_c(horizon_s=5000.0, arrival=arrival), 0).items
    durations = [item.duration_s for item in items]
    views = [item.views_per_hour for item in items]
    assert items and max(durations) == MAX_DURATION_S and max(views) == MAX_VIEWS_PER_HOUR
    assert durations.count(MAX_DURATION_S) > len(items) / 3 and views.count(MAX_VIEWS_PER_HOUR) > len(items) / 3
    assert all(item.reports <= MAX_REPORTS for item in items)
    assert all(Item.model_validate(item.model_dump()) == item for item in items[:50])
