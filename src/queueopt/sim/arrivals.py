"""The items of one replication and the truth about each: drawn from a scenario's streams (or replayed from a trace).

Everything random about an item is drawn here, once, so that two strategies run on the same replication see the
same items, the same true verdicts and the same per-item handling-time and mistake draws (common random numbers).
Which moderator serves an item differs between strategies; the per-item draws are therefore standardised (a
standard normal, a unit exponential, uniforms) and turned into seconds and mistakes only once the moderator is known
(`queueopt.sim.roster`).

Each quantity of an arrival stream draws from a stream of random numbers of its own (`queueopt.sim.randomness`),
keyed by the arrival stream's name and the quantity, a block per stream in arrival order within it: so two
variants of a scenario pair item for item as far as they can. A busier stream leaves every other stream's items and
their service draws alone, and a shorter horizon draws the first items of a longer one, each with the same draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from inspect import getattr_static
from itertools import repeat
from typing import Annotated, Any, get_args

import numpy as np
from pydantic import TypeAdapter
from pydantic.fields import FieldInfo

from queueopt.domain import MAX_DURATION_S, MAX_REPORTS, MAX_VIEWS_PER_HOUR, QA_SUFFIX, Item, Source
from queueopt.enqueue.router import HUMAN_ONLY
from queueopt.sim.randomness import substream
from queueopt.sim.scenario import ArrivalType, Scenario, cumulative_views, mix, stream_content_hash
from queueopt.sim.trace import TraceArrival, load_trace

# A stream of random numbers of one quantity of one arrival stream, from the quantity's name.
Draws = Callable[..., np.random.Generator]

# The per-item columns of `Arrivals` drawn stream by stream, then merged into arrival order.
PER_ITEM_COLUMNS = (
    "violating",
    "views_per_hour",
    "half_life_s",
    "patience_s",
    "normal",
    "exponential",
    "mistake",
    "qa_normal",
    "qa_exponential",
    "qa_mistake",
)


@dataclass(slots=True)
class Arrivals:
    """Columns, one row per item in arrival order; `items[k]` has id `i{k}`."""

    at_s: np.ndarray
    stream: np.ndarray
    items: list[Item]
    violating: np.ndarray
    views_per_hour: np.ndarray
    half_life_s: np.ndarray
    patience_s: np.ndarray
    normal: np.ndarray
    exponential: np.ndarray
    mistake: np.ndarray
    qa_normal: np.ndarray
    qa_exponential: np.ndarray
    qa_mistake: np.ndarray

    def __len__(self) -> int:
        return int(self.at_s.size)

    def views(self, index: np.ndarray, age_s: np.ndarray) -> np.ndarray:
        """Views items `index` gathered in their first `age_s` seconds (constant views where the half-life is inf)."""
        half_life = self.half_life_s[index]
        views = self.views_per_hour[index]
        age = np.maximum(np.asarray(age_s, dtype=float), 0.0)
        finite = np.isfinite(half_life)
        result: np.ndarray = views * age / 3600.0
        if finite.any():
            result[finite] = cumulative_views(views[finite], half_life[finite], age[finite])
        return result


def item_index(item_or_task_id: str) -> int:
    """The row of an item from its id or its task's id (`i12`, `i12~qa`)."""
    return int(item_or_task_id.removesuffix(QA_SUFFIX)[1:])


@dataclass(slots=True)
class _Stream:
    """One stream's draws before merging, in its own time order: item fields and per-item columns."""

    at_s: np.ndarray
    fields: dict[str, Any]
    columns: dict[str, np.ndarray]


def _times(scenario: Scenario, arrival: ArrivalType, rng: np.random.Generator) -> np.ndarray:
    """Exact non-homogeneous Poisson arrivals by a time change: the k-th arrival comes when the expected count since
    0 (the integral of the rate) reaches the sum of k unit exponentials.

    An arrival's time depends only on the exponentials before it, so a longer horizon adds arrivals after those of a
    shorter one and never moves them (a Poisson count per constant-rate piece, then uniform times, redrew the piece
    the horizon cuts).
    """
    pieces = [piece for piece in scenario.rate_segments(arrival, scenario.horizon_s) if piece[2] > 0.0]
    if not pieces:
        return np.zeros(0)
    start, end, rate = (np.asarray(column, dtype=float) for column in zip(*pieces, strict=True))
    reached = np.cumsum(rate * (end - start))  # expected count by the end of each piece
    before = np.concatenate(([0.0], reached[:-1]))
    total = float(reached[-1])
    blocks = []
    level = 0.0
    while level < total:
        remaining = total - level
        gaps = rng.standard_exponential(int(remaining + 4.0 * math.sqrt(remaining)) + 16)
        # Summed on from the level reached, so the sums are the same however the draws fall into blocks.
        sums = np.cumsum(np.concatenate(([level], gaps)))[1:]
        blocks.append(sums)
        level = float(sums[-1])
    levels = np.concatenate(blocks)
    levels = levels[levels < total]
    piece = np.searchsorted(reached, levels, side="right")
    times: np.ndarray = start[piece] + (levels - before[piece]) / rate[piece]
    np.minimum(times, np.nextafter(end[piece], start[piece]), out=times)  # rounding puts none past its piece
    return times


def _choose(rng: np.random.Generator, weights: dict[Any, float], size: int) -> list[Any]:
    values, probabilities = mix(weights)
    if len(values) == 1:
        return [values[0]] * size
    picks = rng.choice(len(values), size=size, p=probabilities)
    return [values[pick] for pick in picks.tolist()]


def _duplicate_roots(draws: Draws, share: float, size: int) -> np.ndarray:
    """For each item, the earlier item whose content it repeats (itself when original), resolved to an original.

    Whether an item repeats, and which earlier item, are two uniforms per item from two streams, so an item's
    choice does not depend on how many items came before or after it.
    """
    root = np.arange(size)
    if share <= 0.0 or size < 2:
        return root
    repeats = draws("duplicate").random(size) < share
    repeats[0] = False
    earlier = np.floor(draws("duplicate_of").random(size) * root).astype(np.int64)
    root[repeats] = earlier[repeats]
    while True:
        resolved = root[root]
        if np.array_equal(resolved, root):
            return root
        root = resolved


def _content_hashes(arrival: ArrivalType, root: np.ndarray, sources: list[Source]) -> list[str | None] | None:
    """Each item's content hash, named by the original it repeats; None for a stream without copies, but for its
    appeals and escalations: the engine refuses one without a hash (its only link to the decision it questions), and
    a simulated one questions content the run did not draw, so it names a content of its own, seen by nothing else."""
    if arrival.duplicate_share:
        return [stream_content_hash(arrival.name, r) for r in root.tolist()]
    if HUMAN_ONLY.isdisjoint(arrival.source):
        return None
    pairs = zip(root.tolist(), sources, strict=True)
    return [stream_content_hash(arrival.name, r) if source in HUMAN_ONLY else None for r, source in pairs]


def _service_draws(draws: Draws, size: int) -> dict[str, np.ndarray]:
    """A standard normal and a unit exponential (handling time) and a uniform (mistake) per item, for its review
    and for a QA review of it: standardised, since who reviews it depends on the strategy."""
    return {
        "normal": draws("normal").standard_normal(size),
        "exponential": draws("exponential").standard_exponential(size),
        "mistake": draws("mistake").random(size),
        "qa_normal": draws("qa_normal").standard_normal(size),
        "qa_exponential": draws("qa_exponential").standard_exponential(size),
        "qa_mistake": draws("qa_mistake").random(size),
    }


def _sample_stream(scenario: Scenario, arrival: ArrivalType, draws: Draws) -> _Stream:
    at_s = _times(scenario, arrival, draws("times"))
    size = at_s.size
    fields: dict[str, Any] = {
        name: _choose(draws(name), getattr(arrival, name), size)
        for name in ("modality", "language", "region", "source")
    }
    # A lognormal's far tail passes the limits an item must respect; a drawn item is held to them, as a sent one is.
    duration = arrival.duration_s.sample(draws("duration_s"), size) if arrival.duration_s else np.zeros(size)
    fields["duration_s"] = np.minimum(duration, MAX_DURATION_S)
    root = _duplicate_roots(draws, arrival.duplicate_share, size)
    clean = np.ones(size, dtype=bool)
    scores: dict[str, np.ndarray] = {}
    for area, signal in arrival.signals.items():
        score = draws("score", area).beta(signal.score.a, signal.score.b, size)[root]
        scores[area] = score
        clean &= draws("truth", area).random(size)[root] >= signal.calibration.probability(score)
    fields["signals"] = scores
    views = arrival.views_per_hour.sample(draws("views_per_hour"), size) if arrival.views_per_hour else np.zeros(size)
    fields["views_per_hour"] = np.minimum(views, MAX_VIEWS_PER_HOUR)
    half_life = (
        arrival.views_half_life_s.sample(draws("views_half_life_s"), size)
        if arrival.views_half_life_s
        else np.full(size, np.inf)
    )
    reports = draws("reports").poisson(arrival.reports.mean, size) if arrival.reports.mean else np.zeros(size, np.int64)
    fields["reports"] = np.minimum(reports, MAX_REPORTS)
    fields["content_hash"] = _content_hashes(arrival, root, fields["source"])
    patience = (
        draws("patience_s").exponential(arrival.patience_s, size) if arrival.patience_s else np.full(size, np.inf)
    )
    columns = {
        "violating": ~clean,
        "views_per_hour": fields["views_per_hour"],
        "half_life_s": half_life,
        "patience_s": patience,
        **_service_draws(draws, size),
    }
    return _Stream(at_s, fields, columns)


def _items(streams: list[_Stream], scenario: Scenario, order: np.ndarray, offsets: np.ndarray) -> list[Item]:
    """Items in arrival order (the k-th to arrive has id `i{k}`), built stream by stream from validated columns.

    A day is a million items, and validating each through `Item(...)` cost most of the time to draw them. Every
    field's values are therefore validated a column at a time by that field's own validator (`_COLUMNS`: the same
    constraints, run in one call per column instead of one per item), and the items are then made from the
    validated values without validating again (`_validated_item`).
    """
    new_id = np.empty(order.size, dtype=np.int64)
    new_id[order] = np.arange(order.size)
    items: list[Item | None] = [None] * order.size
    for position, stream in enumerate(streams):
        fields = stream.fields
        ids = new_id[offsets[position] : offsets[position + 1]].tolist()
        size = len(ids)
        attributes = _COLUMNS["attributes"].validate_python([scenario.arrivals[position].attributes])[0]
        columns = {
            "id": [f"i{identity}" for identity in ids],
            "modality": fields["modality"],
            "duration_s": fields["duration_s"].tolist(),
            "language": fields["language"],
            "region": fields["region"],
            "source": fields["source"],
            "views_per_hour": fields["views_per_hour"].tolist(),
            "reports": fields["reports"].tolist(),
            "content_hash": fields["content_hash"] or [None] * size,
        }
        valid = [_COLUMNS[name].validate_python(values) for name, values in columns.items()]
        rows = zip(ids, *valid, _signals(fields["signals"], size), strict=True)
        for (
            identity,
            item_id,
            modality,
            duration,
            language,
            region,
            source,
            views,
            reports,
            content_hash,
            signals,
        ) in rows:
            items[identity] = _validated_item(
                {
                    "id": item_id,
                    "modality": modality,
                    "duration_s": duration,
                    "language": language,
                    "region": region,
                    "signals": signals,
                    "source": source,
                    "views_per_hour": views,
                    "reports": reports,
                    "content_hash": content_hash,
                    "created_at": None,
                    "attributes": dict(attributes),  # each item owns its dict, as a validated one does
                }
            )
    return [item for item in items if item is not None]


def _signals(scores: dict[str, np.ndarray], size: int) -> list[dict[str, float]]:
    """Each of a stream's items' signals, validated a column at a time as the other fields are, then built once.

    Every item of a stream scores the same areas, so the areas, with the dict's own constraints, are validated
    once, on one dict of them; the scores an area at a time, by the values' validator. Validating each item's dict
    would copy every one of them.
    """
    areas = list(_COLUMNS["signals"].validate_python([dict.fromkeys(scores, 0.0)])[0])
    if not areas:
        return [{} for _ in range(size)]
    columns = [_SCORES.validate_python(column.tolist()) for column in scores.values()]
    # Each row zipped with the areas by `map`, which passes no keyword: `zip(..., strict=True)` per row costs a
    # third more, and every row has one score per area by construction.
    return list(map(dict, map(zip, repeat(areas), zip(*columns, strict=True))))


def _column(field: FieldInfo) -> TypeAdapter[list[Any]]:
    """A validator of a list of the field's values: the field's type with the field's constraints on each."""
    element: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return TypeAdapter(list[element])


_COLUMNS = {name: _column(field) for name, field in Item.model_fields.items()}
_SCORE: Any = get_args(Item.model_fields["signals"].annotation)[1]  # the type, constraints included, of a score
_SCORES: TypeAdapter[list[float]] = TypeAdapter(list[_SCORE])
# The fields set of every drawn item (all fields but `created_at`, never drawn), one set for all of them: a set of
# eleven names takes 728 bytes, 0.7 GB over a day's items, and allocating them was a third of the time to draw.
# Sharing it is safe because pydantic never changes the fields set of a frozen model (`__setattr__` and
# `__delattr__` refuse first), and `model_copy` and `copy` give the copy a set of its own before updating it.
_SET_BY_DRAW = set(Item.model_fields) - {"created_at"}

# The setters of a model's four slots, found once: `object.__setattr__` (the frozen model refuses its own) would look
# each one up by name on every call, and a day's draw sets four per item.
_set_dict, _set_fields_set, _set_extra, _set_private = (
    getattr_static(Item, name).__set__
    for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
)


def _validated_item(fields: dict[str, Any]) -> Item:
    """An `Item` whose field dict, in declaration order, holds values that its field validators returned.

    This is what pydantic's `model_construct` does, minus its per-field Python loop (which costs more than
    validating): the field dict, the fields set (`_SET_BY_DRAW`), no extras and no private state.
    tests/sim/test_arrivals.py checks drawn items against `Item.model_validate`.
    """
    item = Item.__new__(Item)
    _set_dict(item, fields)
    _set_fields_set(item, _SET_BY_DRAW)
    _set_extra(item, None)
    _set_private(item, None)
    return item


def _trace_stream(trace: list[TraceArrival], draws: Draws) -> tuple[_Stream, list[Item]]:
    """A replayed trace: times and items as given; truth as given, else drawn treating scores as calibrated."""
    size = len(trace)
    chance = draws("truth").random(size)
    violating = np.empty(size, dtype=bool)
    for row, arrival in enumerate(trace):
        if arrival.true_violating is not None:
            violating[row] = arrival.true_violating
        else:
            clean = np.prod([1.0 - score for score in arrival.item.signals.values()]) if arrival.item.signals else 1.0
            violating[row] = chance[row] >= clean
    columns = {
        "violating": violating,
        "views_per_hour": np.asarray([arrival.item.views_per_hour for arrival in trace], dtype=float),
        "half_life_s": np.asarray([arrival.views_half_life_s for arrival in trace], dtype=float),
        "patience_s": np.asarray([arrival.patience_s for arrival in trace], dtype=float),
        **_service_draws(draws, size),
    }
    at_s = np.asarray([arrival.at_s for arrival in trace], dtype=float)
    return _Stream(at_s, {}, columns), [arrival.item for arrival in trace]


def _merged(streams: list[_Stream], order: np.ndarray) -> dict[str, np.ndarray]:
    """Every per-item column of the streams, joined in stream order and put in `order`."""
    return {
        name: np.concatenate([stream.columns[name] for stream in streams])[order] if streams else np.zeros(0)
        for name in PER_ITEM_COLUMNS
    }


def sample_arrivals(scenario: Scenario, replication: int) -> Arrivals:
    """Every item of replication `replication` of `scenario`, with its truth and standardised service draws."""
    streams = [
        _sample_stream(scenario, arrival, partial(substream, scenario.seed, replication, "arrivals", arrival.name))
        for arrival in scenario.arrivals
    ]
    sizes = np.asarray([stream.at_s.size for stream in streams], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    at_s = np.concatenate([stream.at_s for stream in streams]) if streams else np.zeros(0)
    order = np.argsort(at_s, kind="stable")
    items = _items(streams, scenario, order, offsets)
    stream_of = np.repeat(np.arange(len(streams)), sizes)[order]
    columns = _merged(streams, order)
    at_s = at_s[order]
    if scenario.trace is not None:
        trace = [arrival for arrival in load_trace(scenario.trace) if arrival.at_s < scenario.horizon_s]
        replayed, replayed_items = _trace_stream(trace, partial(substream, scenario.seed, replication, "trace"))
        at_s = np.concatenate([at_s, replayed.at_s])
        merge = np.argsort(at_s, kind="stable")
        at_s = at_s[merge]
        stream_of = np.concatenate([stream_of, np.full(len(trace), -1)])[merge]
        columns = {name: np.concatenate([columns[name], replayed.columns[name]])[merge] for name in PER_ITEM_COLUMNS}
        joined = [*items, *replayed_items]
        items = [joined[k].model_copy(update={"id": f"i{new}"}) for new, k in enumerate(merge.tolist())]
    return Arrivals(
        at_s=at_s,
        stream=stream_of.astype(np.int64),
        items=items,
        violating=columns["violating"].astype(bool),
        views_per_hour=columns["views_per_hour"].astype(float),
        half_life_s=columns["half_life_s"].astype(float),
        patience_s=columns["patience_s"].astype(float),
        normal=columns["normal"],
        exponential=columns["exponential"],
        mistake=columns["mistake"],
        qa_normal=columns["qa_normal"],
        qa_exponential=columns["qa_exponential"],
        qa_mistake=columns["qa_mistake"],
    )
