"""The stored payload (orjson over the item's fields, defaults left out) against pydantic's own JSON of the item:
the same fields, and it parses back to an equal item, for every kind of value an item may carry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from queueopt.domain import Item, Modality, Source
from queueopt.engine.records import item_payload

# NUL is refused in every text field (PostgreSQL cannot store it), and a lone surrogate is no text at all: pydantic
# refuses it (a draw of "\ud800" as an attribute's name failed the test while building the item).
text = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
values = st.one_of(
    st.text(text, max_size=8),
    st.booleans(),
    st.integers(),  # beyond 64 bits too, which orjson refuses
    st.floats(allow_nan=False, allow_infinity=False),
)
zones = st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))])

items = st.builds(
    Item,
    id=st.from_regex(r"[A-Za-z0-9._:\-]{0,10}[A-Za-z0-9_:\-][A-Za-z0-9._:\-]{0,9}", fullmatch=True),
    modality=st.sampled_from(Modality),
    duration_s=st.sampled_from([0.0, -0.0]) | st.floats(0, 7 * 24 * 3600.0),
    language=st.sampled_from(["en", "pt-br"]),
    region=st.sampled_from(["us", "eu"]),
    signals=st.dictionaries(st.sampled_from(["hate", "spam", "nudity"]), st.floats(0, 1)),
    source=st.sampled_from(Source),
    views_per_hour=st.sampled_from([0.0, 1e12]) | st.floats(0, 1e12),
    reports=st.integers(0, 10**9),
    content_hash=st.none() | st.from_regex(r"[!-~]{1,16}", fullmatch=True),
    created_at=st.none() | st.builds(datetime.replace, st.datetimes(), tzinfo=zones),
    attributes=st.dictionaries(st.text(text, min_size=1, max_size=6), values, max_size=3),
)


@settings(max_examples=500, deadline=None)
@given(items)
def test_the_payload_holds_what_pydantic_would_and_parses_back_equal(item: Item) -> None:
    payload = item_payload(item)
    reference = Item.__pydantic_serializer__.to_json(item, exclude_defaults=True)
    assert list(json.loads(payload)) == list(json.loads(reference))
    assert Item.model_validate_json(payload) == item
