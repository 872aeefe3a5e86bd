"""Replayed arrivals: a scenario may read its items from a CSV or JSON Lines trace instead of drawing them, to test a
strategy or a staffing plan on what really arrived (a viral day, last week's backlog).

Every row is checked as an item is at the HTTP API (a JSON line as strictly, a CSV row's text read as numbers), plus
its arrival time and what the trace says happened (whether it truly violated, its views' half-life, how long it
waited before it was abandoned); a bad row is reported with its line number, with up to `_MAX_TRACE_PROBLEMS` of them
at once, and nothing of a bad trace is simulated.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from pydantic import Field, ValidationError

from queueopt.config import ConfigError, format_validation_error
from queueopt.domain import Item, SentItem
from queueopt.enqueue.router import unlinked
from queueopt.sim.scenario import MAX_HORIZON_S, Scenario, Strict, stream_making


class TraceArrival(NamedTuple):
    at_s: float
    item: Item
    true_violating: bool | None
    views_half_life_s: float = math.inf
    patience_s: float = math.inf


# Lax, as `Item` is: a CSV cell is text, read as a number here; a JSON line's timing is read strictly (`_JSONL`).
_TraceSeconds = Annotated[float, Field(gt=0.0, le=MAX_HORIZON_S, allow_inf_nan=False)]


class _TraceTiming(Strict):
    """What a replayed row says beyond its item. Without a half-life its views stay constant until action, and
    without a patience it never leaves unreviewed: a trace records what happened, not the curve it came from."""

    arrive_at_s: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    true_violating: bool | None = None
    views_half_life_s: _TraceSeconds = math.inf
    patience_s: _TraceSeconds = math.inf


_MAX_TRACE_PROBLEMS = 20


class _Reading(NamedTuple):
    """How a format's rows are validated, the item and its timing alike. A CSV cell is always text, so numbers and
    booleans are read from it. A JSON value has its type, and is read in JSON mode as the API reads the same item
    (`SentItem`), its timing as strictly: an export replayed in the lab must mean what it meant in production, and
    `"reports": true` or `"arrive_at_s": "7"` is a mistake upstream to name, not a value to convert (found by a
    probe: both were replayed)."""

    item: Callable[[dict[str, Any]], Item]
    timing: Callable[[dict[str, Any]], _TraceTiming]


def _as_json(validate: Callable[[str], Any]) -> Callable[[dict[str, Any]], Any]:
    """`validate` applied to a decoded row as JSON text again: only JSON mode reads an enum from its text while
    refusing a number in a string (Python mode is lax on both, or strict on both)."""
    return lambda record: validate(json.dumps(record))


_CSV = _Reading(Item.model_validate, _TraceTiming.model_validate)
_JSONL = _Reading(
    _as_json(SentItem.model_validate_json),
    _as_json(partial(_TraceTiming.model_validate_json, strict=True)),
)


# A row as read: its line number and either an Item-shaped dict or, for a row that cannot be read as one, why. A bad
# row is one problem among the file's others, reported with them, not the end of the reading.
_Row = tuple[int, dict[str, Any] | str]


def _csv_rows(handle: Any) -> Iterator[_Row]:
    """CSV rows as Item-shaped dicts: `signals.<area>` and `attributes.<name>` columns nest, empty cells are absent."""
    reader = csv.DictReader(handle)
    _refuse_repeated_columns(reader)
    for row in reader:
        if None in row:
            yield reader.line_num, "more cells than columns"
            continue
        record: dict[str, Any] = {}
        for column, cell in row.items():
            if cell is None or cell == "":
                continue
            prefix, _, key = column.partition(".")
            if key and prefix in ("signals", "attributes"):
                record.setdefault(prefix, {})[key] = cell
            else:
                record[column] = cell
        yield reader.line_num, record


def _refuse_repeated_columns(reader: csv.DictReader[str]) -> None:
    """A column named twice keeps only its last cell in each row, so the first is dropped without a word: which
    one the export meant is not ours to guess."""
    seen: set[str] = set()
    for column in reader.fieldnames or ():
        if column in seen:
            raise ValueError(f"line {reader.line_num}: {column}: the column appears more than once")
        seen.add(column)


class _Repeated(dict[str, Any]):
    """A JSON object naming keys more than once, with those keys: `json` keeps only the last value of each."""

    names: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as decoded: a plain dict, or a `_Repeated` one when it names a key twice."""
    decoded = dict(pairs)
    if len(decoded) == len(pairs):
        return decoded
    repeated = _Repeated(decoded)
    repeated.names = tuple(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
    return repeated


def _repeated_keys(record: dict[str, Any]) -> list[str]:
    """The path of every key named twice in one of the row's objects, at any depth (`signals.spam`). Breadth first
    over a list of the objects and arrays still to visit that grows as it is read, not recursively: a row nested as
    deeply as the decoder allows would overflow the stack."""
    found: list[str] = []
    pending: list[tuple[str, dict[str, Any] | list[Any]]] = [("", record)]
    for path, value in pending:
        if isinstance(value, _Repeated):
            found += [path + key for key in value.names]
        members = enumerate(value) if isinstance(value, list) else value.items()
        pending += [(f"{path}{key}.", member) for key, member in members if isinstance(member, dict | list)]
    return found


def _jsonl_rows(handle: Any) -> Iterator[_Row]:
    """JSON lines as Item-shaped dicts. An object naming a key twice is refused, as a CSV column named twice is (found
    by a probe: `"arrive_at_s": 2, "arrive_at_s": 9000` was replayed at 9000 s, after the horizon, so not at all)."""
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, object_pairs_hook=_object)
        except json.JSONDecodeError as error:
            yield number, f"(json): {error.msg}"
            continue
        except RecursionError:  # the decoder recurses once per level (found by a review: a traceback)
            yield number, "(json): nested too deeply"
            continue
        except ValueError:  # Python's limit on an integer's digits; its message tells users to lift it in code
            yield number, "(json): a number has too many digits"
            continue
        if not isinstance(record, dict):
            yield number, "(json): expected an object"
            continue
        repeated = _repeated_keys(record)
        if not repeated:
            yield number, record
        for key in repeated:
            yield number, f"{key}: the key appears more than once"


def load_trace(path: str | Path) -> list[TraceArrival]:
    """Arrivals to replay, sorted by time, from a `.csv` or `.jsonl` file.

    Each row is an `Item` plus `arrive_at_s` and optional `true_violating` (sampled from the signals when absent),
    `views_half_life_s` and `patience_s` (none: constant views, no abandonment). Problems name the line, as in
    `trace.csv: line 3: modality: Input should be 'video', ...`. CSV numbers are read from their text and attribute
    values stay strings; a JSON line is read as the API reads its item, and may not name a key twice.
    """
    source = str(path)
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise ConfigError(source, [f"(file): a trace must be .csv or .jsonl, not {suffix or 'no suffix'!r}"])
    arrivals: list[TraceArrival] = []
    problems: list[str] = []
    lines: dict[str, int] = {}  # the line each item id is first on
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as handle:
            rows, reading = (_csv_rows(handle), _CSV) if suffix == ".csv" else (_jsonl_rows(handle), _JSONL)
            for number, row in rows:
                found = [row] if isinstance(row, str) else _arrival(row, reading)
                if isinstance(found, TraceArrival):
                    first = lines.setdefault(found.item.id, number)
                    if first == number:
                        arrivals.append(found)
                        continue
                    # The engine would take the second as a resend of the first, and the replay would lose it.
                    found = [f"id: {found.item.id!r} is already on line {first}"]
                problems.extend(f"line {number}: {problem}" for problem in found)
                if len(problems) >= _MAX_TRACE_PROBLEMS:
                    break
    except OSError as error:
        raise ConfigError(source, [f"(file): {error.strerror or error}"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError(source, [f"(file): not UTF-8 text ({error.reason})"]) from None
    except (ValueError, csv.Error) as error:
        raise ConfigError(source, [str(error)]) from None
    if problems:
        raise ConfigError(source, problems[:_MAX_TRACE_PROBLEMS])
    if not arrivals:
        raise ConfigError(source, ["(file): no items to replay"])
    arrivals.sort(key=lambda arrival: arrival.at_s)
    return arrivals


def _arrival(record: dict[str, Any], reading: _Reading) -> TraceArrival | list[str]:
    """One row as an arrival to replay, or what is wrong with it."""
    timing = {key: record.pop(key) for key in _TraceTiming.model_fields if key in record}
    problems: list[str] = []  # the time's and the item's, together: the row is fixed in one round
    try:
        when = reading.timing(timing)
    except ValidationError as error:
        problems = format_validation_error(error)
    try:
        item = reading.item(record)
    except ValidationError as error:
        return problems + format_validation_error(error)
    if problems:
        return problems
    unlinked_appeal = unlinked(item)
    if unlinked_appeal is not None:  # the engine would refuse it in the middle of the run
        return [f"content_hash: {unlinked_appeal}"]
    return TraceArrival(when.arrive_at_s, item, when.true_violating, when.views_half_life_s, when.patience_s)


def check_trace(scenario: Scenario) -> int:
    """Read the scenario's trace as a run would, so that a bad row stops a command before a long run starts, not in
    the middle of it; an item whose signals name a policy area the ops config lacks would stop the run too. Returns
    how many rows fall at or after the horizon, which a run leaves out; a trace with no row before it is refused (a
    trace of Unix timestamps, say: its times are seconds from the run's start), not run as an empty day."""
    if scenario.trace is None:
        return 0
    areas = {area.name for area in scenario.ops.policy_areas}
    trace = load_trace(scenario.trace)
    problems = [
        f"item {arrival.item.id!r}: signals.{name}: not a policy area of the ops config"
        for arrival in trace
        for name in arrival.item.signals
        if name not in areas
    ]
    # Found by a probe: a trace's `item-0` was taken as a copy of stream `item`'s first content, deciding it unseen.
    streams = {arrival.name for arrival in scenario.arrivals}
    problems += [
        f"item {arrival.item.id!r}: content_hash: {arrival.item.content_hash!r} is how stream {stream!r} names its "
        "own content; the replayed item would be taken as a copy of a simulated one"
        for arrival in trace
        if arrival.item.content_hash is not None
        and (stream := stream_making(arrival.item.content_hash, streams)) is not None
    ]
    if problems:
        raise ConfigError(str(scenario.trace), problems[:_MAX_TRACE_PROBLEMS])
    late = sum(arrival.at_s >= scenario.horizon_s for arrival in trace)
    if late == len(trace):
        raise ConfigError(
            str(scenario.trace),
            [
                f"(file): none of its {late} rows falls before the horizon ({scenario.horizon_s:g} s); arrive_at_s is "
                f"seconds from the start of the run, and the first row is at {trace[0].at_s:g}"
            ],
        )
    return late
