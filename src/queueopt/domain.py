"""The vocabulary every layer shares: items, tasks, verdicts and the lifecycle states.

Pydantic models here are the edge schemas (what pipelines send); `Task` is a slotted dataclass because the
engine, the store and the simulator create and touch millions of them and never need validation again.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import ErrorDetails, PydanticCustomError


class Modality(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    PHOTO = "photo"
    TEXT = "text"
    LIVESTREAM = "livestream"


class Source(StrEnum):
    """How an item reached moderation; user reports and appeals carry more urgency than proactive detection."""

    PROACTIVE = "proactive"
    USER_REPORT = "user_report"
    APPEAL = "appeal"
    ESCALATION = "escalation"


class Action(StrEnum):
    """What routing decided to do with an item."""

    REVIEW = "review"
    AUTO_REMOVE = "auto_remove"
    AUTO_APPROVE = "auto_approve"
    DUPLICATE = "duplicate"


class Verdict(StrEnum):
    VIOLATING = "violating"
    NOT_VIOLATING = "not_violating"


class TaskState(StrEnum):
    """The lifecycle drawn in docs/lifecycle.md."""

    QUEUED = "queued"
    LEASED = "leased"
    DECIDED = "decided"
    CANCELLED = "cancelled"


OPEN_STATES = frozenset((TaskState.QUEUED, TaskState.LEASED))
"""The states of a task still in play (waiting or under review): a set of the members, tested on every write and
every index update, not a tuple built from enum lookups per test."""


class TaskKind(StrEnum):
    REVIEW = "review"
    QA = "qa"


class ItemStatus(StrEnum):
    """Where an item stands, as the pipeline that sent it sees it."""

    QUEUED = "queued"
    DUPLICATE = "duplicate"
    AUTO_ACTIONED = "auto_actioned"
    DECIDED = "decided"
    CANCELLED = "cancelled"


class ModeratorStatus(StrEnum):
    """`suspended` is an admin's: like `offline` (no work, every lease handed back), but the moderator cannot
    change it; only an admin lifts it."""

    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"
    SUSPENDED = "suspended"


_ID_CHARACTER = r"[A-Za-z0-9._:\-]"
ID_PATTERN = rf"^{_ID_CHARACTER}*[A-Za-z0-9_:\-]{_ID_CHARACTER}*$"
"""Not only dots: clients and proxies take `.` and `..` out of a URL path (RFC 3986 dot segments), so a task with
such an id could be leased but never decided, and its item never read (found by a probe)."""
MAX_ID_LENGTH = 200
QA_SUFFIX = "~qa"
"""A QA task's id is its review task's id and this: `~` is in no item id, and a URL path carries it as it is (RFC
3986 unreserved), so a review tool builds `/v1/tasks/{task_id}/decision` without escaping (`#` cut the path short)."""
TASK_ID_PATTERN = rf"^{_ID_CHARACTER}{{1,{MAX_ID_LENGTH}}}({QA_SUFFIX})?$"  # an item's id, a QA task's suffix
"""`~` means nothing to a regular expression, so the suffix stands in the pattern as it is."""
_CODE_PATTERN = r"^[a-z0-9_\-]+$"
VISIBLE_ASCII_PATTERN = r"^[!-~]+$"
_TEXT_PATTERN = r"^[^\x00]*$"
_PATTERN_MEANINGS = {
    ID_PATTERN: "may hold only letters, digits, '.', '_', ':' and '-', and not only '.'",
    TASK_ID_PATTERN: (
        f"may hold only letters, digits, '.', '_', ':' and '-' (at most {MAX_ID_LENGTH}), "
        f"then '{QA_SUFFIX}' for a QA task"
    ),
    _CODE_PATTERN: "may hold only lowercase letters, digits, '_' and '-'",
    VISIBLE_ASCII_PATTERN: "may hold only printable ASCII, without spaces",
    _TEXT_PATTERN: "must not contain the NUL character (U+0000)",
}
"""What each pattern of these fields asks, in words: a client told `String should match pattern '^[^\x00]*$'`
must decode a regular expression to learn what to change."""

ItemId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]
ContentHash = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=VISIBLE_ASCII_PATTERN)]
"""A hash, so printable: and PostgreSQL refuses a NUL in text, which would fail the write of a whole batch."""


def free_text(max_length: int, min_length: int = 0) -> StringConstraints:
    """A note or reason as people write it: anything but NUL, which PostgreSQL cannot store in text."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=_TEXT_PATTERN)


def validation_reason(detail: ErrorDetails) -> str:
    """pydantic's message for one error, with a pattern mismatch said in words (see `_PATTERN_MEANINGS`)."""
    if detail["type"] == "string_pattern_mismatch":
        meaning = _PATTERN_MEANINGS.get(str(detail.get("ctx", {}).get("pattern")))
        if meaning is not None:
            return meaning
    # A validator's own words, without pydantic's "Value error, " before them.
    return detail["msg"].removeprefix("Value error, ")


MAX_POLICY_AREAS = 256
MAX_CLEARANCE_TIERS = 64
"""What one moderator's profile may hold, and so what an ops config may define: a tier or area beyond them could be
held by no one."""
MAX_DURATION_S = 7 * 24 * 3600.0
MAX_VIEWS_PER_HOUR = 1e12
MAX_REPORTS = 10**9
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_CODE_PATTERN)]
Score = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


def a_number(value: object) -> object:
    """Refuse `true` or `"0.8"` where a number belongs: a mistake upstream, not a value to convert. A whole-number
    float is still a valid integer (JSON Schema's integer, and what numpy-based senders write). NaN and infinity
    are refused here too, as pydantic would: once a field has a validator of its own, pydantic checks its bounds
    first, and a NaN proficiency read "Input should be greater than 0" (found by a probe)."""
    if isinstance(value, bool | str):
        kind = "a boolean" if isinstance(value, bool) else "a string"
        raise PydanticCustomError("number_type", "Input should be a number, not {kind}", {"kind": kind})
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    return value


def _scalar(value: object) -> object:
    """One error for a value that is no scalar, instead of one per member of the union naming `.str`, `.int`..."""
    if not isinstance(value, str | int | float | bool):
        raise ValueError("an attribute is a string, a number or a boolean")
    return value


def _storable(value: str | int | float | bool) -> str | int | float | bool:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a number must be finite")
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(_PATTERN_MEANINGS[_TEXT_PATTERN])
    return value


AttributeName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_TEXT_PATTERN)]
AttributeValue = Annotated[str | int | float | bool, BeforeValidator(_scalar), AfterValidator(_storable)]
"""A free-form attribute, held to what every field is held to: a number must be finite (a JSON store keeps NaN and
infinity as null, and an item that read back differently from what was acknowledged would fail every later read of
it), and text must not hold NUL, as the API promises of every text field (the probe found attributes let it through;
the item's stored JSON escapes it, but a client or export reading the text meets a NUL it was told never comes)."""


def _iso_time_or_number(value: object) -> object:
    """Seconds since the epoch come as a JSON number; pydantic would also read `"1700000000"` as one."""
    if isinstance(value, bool) or (isinstance(value, str) and not _ISO_DATE.match(value)):
        raise PydanticCustomError("datetime_type", _CREATED_AT_FORMS)
    return value


def _in_utc_years(value: datetime) -> datetime:
    """A time whose offset takes it outside years 1 to 9999 in UTC (`0001-01-01T00:00:00+23:59`), which a number
    cannot name either, and which no later comparison or conversion of it could handle."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("datetime_range", "Input should be a time within years 1 to 9999 in UTC") from None
    return value


_ISO_DATE = re.compile(r"^\d{4}-")
_CREATED_AT_FORMS = (
    "Input should be an ISO 8601 time with its UTC offset (2024-05-01T12:00:00Z) or seconds since the epoch as a number"
)
SentTime = Annotated[AwareDatetime, BeforeValidator(_iso_time_or_number), AfterValidator(_in_utc_years)]
"""An item's `created_at` as a pipeline sends it: a time without an offset is refused (stored as sent, it would sit
among the others' UTC times naming another instant on every reader's clock), and so is a number in a string."""


DurationS = Annotated[float, Field(ge=0.0, le=MAX_DURATION_S, allow_inf_nan=False)]
ViewsPerHour = Annotated[float, Field(ge=0.0, le=MAX_VIEWS_PER_HOUR, allow_inf_nan=False)]
Reports = Annotated[int, Field(ge=0, le=MAX_REPORTS)]
_Strict = Field(strict=True)


class Item(BaseModel):
    """A piece of content an upstream pipeline wants a decision on.

    `signals` are classifier scores per policy area, read as calibrated probabilities of a violation;
    `views_per_hour` is the exposure velocity that makes waiting costly.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ItemId
    modality: Modality
    duration_s: DurationS = 0.0
    language: Code
    region: Code
    signals: dict[Code, Score] = Field(default_factory=dict, max_length=64)
    source: Source = Source.PROACTIVE
    views_per_hour: ViewsPerHour = 0.0
    reports: Reports = 0
    content_hash: ContentHash | None = None
    created_at: datetime | None = None
    attributes: dict[AttributeName, AttributeValue] = Field(default_factory=dict, max_length=64)


class SentItem(Item):
    """An item as a pipeline sends it in JSON (the API, `queueopt route`): a number must come as a number, so
    `"reports": true` or a score of "0.8" is refused as the mistake upstream it is (an integer is still a valid
    float; a count must be an integer). A CSV trace, whose cells are all text, is read as `Item`. Strict in
    pydantic-core, so no Python runs per field on the ingest path."""

    duration_s: Annotated[DurationS, _Strict] = 0.0
    signals: dict[Code, Annotated[Score, _Strict]] = Field(default_factory=dict, max_length=64)
    views_per_hour: Annotated[ViewsPerHour, _Strict] = 0.0
    reports: Annotated[Reports, _Strict] = 0
    created_at: SentTime | None = None


class Decision(BaseModel):
    """A moderator's verdict on a task."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: Verdict
    policy: Code | None = None
    action: Code | None = None
    notes: Annotated[str, free_text(4000)] = ""


@dataclass(slots=True)
class Task:
    """A unit of review work: one item (and its pending duplicates) in one queue.

    Times are seconds on the engine's clock. `key` is the time-invariant priority key
    (base harm rate minus aging rate times enqueue time) so a queue stays sorted without re-keying.
    `attempt` grows with every lease; with the id and the lease's time it forms the fencing token.
    """

    id: str
    item_id: str
    queue: str
    kind: TaskKind
    state: TaskState
    priority: float
    aging_rate: float
    enqueued_at: float
    modality: Modality
    language: str
    region: str
    duration_s: float = 0.0
    severe: bool = False
    policy: str | None = None
    attempt: int = 0
    holder: str | None = None
    leased_at: float | None = None
    lease_expires_at: float | None = None
    # Immutable and, when empty, the one shared empty frozenset: a set per task doubled the objects that the
    # cyclic garbage collector walks (its full pauses grow with the open tasks), and skips are rare.
    skipped_by: frozenset[str] = frozenset()
    # Clearance tiers the task needs beyond its queue's and its policy area's: those of other cleared areas whose
    # score reached their `severe_at` (an item flagged for child safety and for extremism needs both clearances).
    clearance: tuple[str, ...] = ()
    # Policy-area certifications the task asks beyond `policy` and its queue's: an appeal of content whose earlier
    # reviews were in several areas asks for each of them. Relaxed, like `policy`, by a step relaxing policy areas.
    areas: tuple[str, ...] = ()
    # Once decided, the decision as JSON signed with its maker's id (as its items keep it), under the lease of
    # `attempt`: a review tool retrying a decision whose answer it lost is answered as the first time, not refused.
    # None for a task decided before schema version 10.
    decision: str | None = None

    @property
    def key(self) -> float:
        return self.priority - self.aging_rate * self.enqueued_at

    def priority_at(self, now: float) -> float:
        """Harm rate plus linear aging, the `c_i(t)` of the value function."""
        return self.priority + self.aging_rate * max(0.0, now - self.enqueued_at)

    @property
    def lease_token(self) -> str | None:
        return None if self.holder is None else token_of(self.id, self.attempt, self.leased_at)


def token_of(task_id: str, attempt: int, leased_at: float | None) -> str:
    """The fencing token of a task's lease number `attempt`, made at `leased_at` (microseconds, in hex): held now
    (`Task.lease_token`), or one a decision used. The lease's time tells apart the leases of one id's incarnations:
    a purged id submitted again starts its attempts anew, and a review tool's late retry of a decision on the old
    content, under `<id>.<attempt>` alone, matched its maker's lease of the new one and decided it (found by the
    retention probe). An automatic decision, made under no lease, has no time."""
    made = "-" if leased_at is None else format(round(leased_at * 1e6), "x")
    return f"{task_id}.{attempt}.{made}"
