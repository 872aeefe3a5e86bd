"""The records the engine writes, made from what it holds: a review task from an item's routing, the next state of a
task or item record as a copy of it, an item's payload and a decision's JSON.

Each is pure and made on the engine's hot paths (every submit, lease and decision), so each is written for speed, and
the simulator makes review tasks the same way the engine does (`review_task`), without an engine.
"""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from operator import attrgetter
from typing import TypeVar

import orjson

from queueopt.domain import Decision, Item, Task, TaskKind, TaskState, Verdict
from queueopt.enqueue import Routing
from queueopt.store import ItemRecord

_QUEUED, _REVIEW = TaskState.QUEUED, TaskKind.REVIEW  # module names: a member read off its enum class costs more
_Record = TypeVar("_Record", Task, ItemRecord)
_FIELDS_OF = {
    Task: attrgetter(*(field.name for field in fields(Task))),
    ItemRecord: attrgetter(*ItemRecord.__slots__),
}
_EVERYONE: frozenset[str] = frozenset()  # a task no moderator is kept off
_ITEM_JSON = Item.__pydantic_serializer__
_ITEM_DEFAULTS = tuple(
    (name, field.get_default(call_default_factory=True))
    for name, field in Item.model_fields.items()
    if not field.is_required()
)


def evolved(record: _Record, **changes: object) -> _Record:
    """`dataclasses.replace` for the engine's tasks and item records, at half its cost: the fields are read by
    one C-level getter and passed positionally (every field of both is an `__init__` parameter, in order; a
    record's text fields as stored, so a text not yet made is not made for the copy), then `changes` are set on
    the copy. A name that is not a field fails, as with `replace`, on the slotted classes."""
    copy = type(record)(*_FIELDS_OF[type(record)](record))
    for name, value in changes.items():
        setattr(copy, name, value)
    return copy


def requeued(task: Task, skipped_by: frozenset[str] | None = None) -> Task:
    """The task back in its queue, keeping its attempt (the next lease gets a new token) and its age."""
    return evolved(
        task,
        state=_QUEUED,
        holder=None,
        leased_at=None,
        lease_expires_at=None,
        skipped_by=task.skipped_by if skipped_by is None else skipped_by,
    )


def review_task(item_id: str, item: Item, routing: Routing, now: float) -> Task:
    """The review a routing to a queue makes of an item, queued at `now` under the item's id: what it requires of a
    reviewer, and whom it is kept from (an appeal's earlier deciders)."""
    assert routing.queue is not None
    fields = item.__dict__  # a pydantic model's field values: a subscript each, not an attribute lookup
    earlier = routing.duplicate_of
    return Task(
        item_id,
        item_id,
        routing.queue,
        _REVIEW,
        _QUEUED,
        routing.priority,
        routing.aging_rate,
        now,
        fields["modality"],
        fields["language"],
        fields["region"],
        fields["duration_s"],
        routing.severe,
        routing.policy,
        skipped_by=_EVERYONE if earlier is None else earlier.reviewers,
        clearance=routing.terms.clearance,
        areas=routing.terms.areas,
    )


def item_payload(item: Item) -> str:
    """The item as JSON without the fields left at their defaults: it parses back to an equal `Item` and is
    shorter to store. orjson encodes the model's field dict (a copy, pruned of the defaults) at about a quarter
    of the cost of pydantic's serializer, which checks every field against its default its own slower way;
    pydantic still serializes what orjson refuses (an integer attribute beyond 64 bits)."""
    fields = item.__dict__.copy()
    for name, default in _ITEM_DEFAULTS:
        if fields[name] == default:
            del fields[name]
    try:
        return orjson.dumps(fields).decode()
    except orjson.JSONEncodeError:
        return _ITEM_JSON.to_json(item, exclude_defaults=True).decode()


@lru_cache(maxsize=256)
def decision_json(decision: Decision) -> str:
    """A decision's JSON, for the audit note and the item. Callers such as the simulator send the same few decisions
    over and over; a frozen model is hashable and equal decisions serialise alike, so a small cache answers those
    for a hash instead of a serialisation, and bounds what distinct ones (free-text notes) may hold."""
    return decision.model_dump_json()


@lru_cache(maxsize=256)
def verdict_json(verdict: Verdict, policy: str | None) -> str:
    """The JSON of a decision made without a moderator (an auto-action, a duplicate's owner's verdict): a few
    verdicts and policy areas, over and over, each validated and serialised once."""
    return Decision(verdict=verdict, policy=policy).model_dump_json()
