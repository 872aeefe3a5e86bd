"""The capability model: one number per (task, moderator) pair, the value of that assignment now, or no entry at all.

    value(i, j) = c_i(now) * accuracy_j(policy_i) * proficiency_j(language_i) / expected_handling_j(i)

Handling time is the media scale of the task times the moderator's expected seconds per unit, so the value factors
into a task part (`c_i / scale_i`) and a moderator-and-demand part; both are computed once per row or per distinct
demand and multiplied only over the eligible pairs.

A call for one moderator (the engine's `next_for`) takes a separate path with the same result: for one column the
fixed cost of numpy and scipy set-up outweighs the arithmetic, so each task is tested and scored in plain Python
against the moderator's skill bits as one int and their estimates as short lists.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import NamedTuple, TypeVar, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from queueopt.assign.problem import compact
from queueopt.capability.arrays import grown
from queueopt.capability.demand import DemandRules
from queueopt.capability.estimators import (
    MODALITIES,
    AccuracyEstimator,
    HandlingEstimator,
    media_scale,
)
from queueopt.capability.profile import ModeratorProfile, clearance_tiers, unknown_skills
from queueopt.capability.roster import Roster
from queueopt.capability.skills import Mask, covered, split
from queueopt.capability.state import NO_AREA, Learned, LearnedModerator, LearnedState, ModelState, ModeratorState
from queueopt.capability.takers import Covered, Takers
from queueopt.capability.wellbeing import SevereLedger
from queueopt.config import OpsConfig
from queueopt.domain import Modality, ModeratorStatus, Task
from queueopt.errors import InvalidInput

VALUE_FLOOR = 1e-300
_INT32_MAX = int(np.iinfo(np.int32).max)
_MODALITY_INDEX = {modality: index for index, modality in enumerate(MODALITIES)}
_COVERED_KEPT = 64
"""Sets of skill groups whose coverage `Model` keeps at once: bounded, as free moderators' groups can form many."""
MIN_HANDLING_S = 1.0
"""The shortest handling time an observation counts as (see `Model.observe_handling`)."""
_UNAVAILABLE = frozenset((None,))
"""`Roster.open_bits` of an unavailable moderator, left out of a batch's skill groups."""
_FACTS_KEPT = 8_192
"""Tasks whose facts `Model` keeps at once (see `_TaskFacts`): an evening window's ~700 tasks with room for the
tasks that replace leased ones for a hundred batches or so, after which the table starts over."""
_Value = TypeVar("_Value")
_NeedKey = tuple[str, Modality, str, str, str | None, tuple[str, ...], tuple[str, ...]]


class _Need(NamedTuple):
    """What a task asks of one moderator, per escalation step: `masks[k]` are the required skill bits once `k` of
    the queue's steps have passed (`after` are their waits); `area`, `language` and `modality` locate the task's
    factors in a moderator's rows; `serial` numbers it among the needs of the current skill vocabulary."""

    after: tuple[float, ...]
    masks: tuple[int, ...]
    area: int
    language: int
    modality: int
    kind: int
    serial: int


class _Demands(NamedTuple):
    """What the groups of a batch's tasks require now, one row per group: skill words, severity, and the `_Kinds`
    code of the need they come from."""

    required: Mask
    severe: NDArray[np.bool_]
    kinds: NDArray[np.intp]


class _Kinds:
    """Codes for the distinct (policy area, language, modality) that factors are read at, kept for the model's life
    (the triples do not depend on the roster): a batch groups its hundreds of demands by them in linear time,
    not with a dict of tuples."""

    __slots__ = ("_codes", "_table")

    def __init__(self) -> None:
        self._codes: dict[tuple[int, int, int], int] = {}
        self._table = np.zeros((0, 3), dtype=np.intp)

    def code(self, area: int, language: int, modality: int) -> int:
        code = self._codes.setdefault((area, language, modality), len(self._codes))
        if code == len(self._table):
            self._table = np.array(list(self._codes), dtype=np.intp)
        return code

    @property
    def count(self) -> int:
        return len(self._codes)

    def parts(self, codes: NDArray[np.intp]) -> NDArray[np.intp]:
        """Area, language and modality (the columns) of each code."""
        return self._table[codes]


class _Rates(NamedTuple):
    """A demands x moderators matrix in CSR form, only ever gathered from: scipy's checks on building a matrix
    would cost more than everything `value` does with it."""

    data: NDArray[np.float64]
    indices: NDArray[np.intp]
    indptr: NDArray[np.int64]


class _TaskFacts:
    """What a batch reads of each task, one array row per task object, kept across batches: an evening window holds
    the same ~700 tasks batch after batch, and building and looking up each task's need key, stepping it and
    reading its fields one task at a time cost most of `value`; gathered rows cost a few numpy calls.

    A task object never changes (every transition makes a new one), so its row holds as long as the object does.
    Rows are found by `id(task)`, and the table holds every task it has a row for, so no other object can take that
    id while the row is in use. Per row: `times` are the wait's start, priority, aging rate and media scale; `after`
    the queue's escalation waits and `masks` the required skill words before and after each, both padded to the
    longest queue's steps (waits with infinity, so a padded step is never reached); `kind` the need's `_Kinds` code
    and `group` is `2 * need.serial + severe`. The table is made for one skill vocabulary, as the needs are.
    """

    __slots__ = ("after", "group", "kind", "masks", "row_of", "tasks", "times")

    def __init__(self, steps: int, words: int) -> None:
        self.row_of: dict[int, int] = {}
        self.tasks: list[Task] = []
        self.times = np.zeros((0, 4))
        self.after = np.zeros((0, steps))
        self.masks = np.zeros((0, steps + 1, words), dtype=np.uint64)
        self.kind = np.zeros(0, dtype=np.intp)
        self.group = np.zeros(0, dtype=np.intp)

    def add(self, tasks: Sequence[Task], needs: Sequence[_Need]) -> None:
        """Rows for `tasks` (none of which has one), `needs` being theirs."""
        start, stop = len(self.tasks), len(self.tasks) + len(tasks)
        if stop > self.group.size:
            size = max(stop, 2 * self.group.size, 64)
            self.times, self.after, self.masks = (
                grown(self.times, size),
                grown(self.after, size),
                grown(self.masks, size),
            )
            self.kind, self.group = grown(self.kind, size), grown(self.group, size)
        self.row_of.update(zip(map(id, tasks), range(start, stop), strict=True))
        self.tasks += tasks
        # The media scale task by task, as `_column` reads it: a batch adds a handful of tasks, too few for numpy.
        self.times[start:stop] = [
            (task.enqueued_at, task.priority, task.aging_rate, media_scale(task.modality, task.duration_s))
            for task in tasks
        ]
        steps, words = self.masks.shape[1:]
        self.after[start:stop] = [_padded(need.after, steps - 1, math.inf) for need in needs]
        masks = [mask for need in needs for mask in _padded(need.masks, steps, need.masks[-1])]
        self.masks[start:stop] = split(masks, words).reshape(len(tasks), steps, words)
        self.kind[start:stop] = [need.kind for need in needs]
        self.group[start:stop] = [2 * need.serial + task.severe for task, need in zip(tasks, needs, strict=True)]


class Model:
    """Moderator profiles, their estimates and wellbeing budgets, and the value matrix built from them."""

    def __init__(self, config: OpsConfig) -> None:
        self._config = config
        self._rules = DemandRules(config)
        self._areas = {area.name: index for index, area in enumerate(config.policy_areas)}
        self._clearances = clearance_tiers(config)
        self._roster = Roster()
        self._accuracy = AccuracyEstimator(len(self._areas) + 1)
        self._handling = HandlingEstimator()
        self._severe = SevereLedger()
        self._steps = max((len(queue.escalation) for queue in config.queues), default=0)
        self._needs: dict[_NeedKey, _Need] = {}
        self._facts = _TaskFacts(self._steps, self._roster.held.shape[1])
        self._covered: dict[frozenset[int], Covered] = {}
        self._kinds = _Kinds()
        self._waits: dict[str, tuple[float, ...]] = {}
        self._needs_vocabulary = 0

    # -- roster -------------------------------------------------------------------------------------------------

    def upsert(self, profile: ModeratorProfile) -> None:
        unknown = unknown_skills(profile.policy_areas, profile.clearance, self._areas, self._clearances)
        if unknown:
            field, reason = unknown[0]
            raise InvalidInput(reason, field=field)
        known = self._roster.slots.get(profile.id)
        before = None if known is None else int(self._roster.group[known])
        slot = self._roster.put(profile)
        self._accuracy.ensure(self._roster.rows, len(self._roster.groups))
        self._handling.ensure(self._roster.rows, len(self._roster.groups))
        after = int(self._roster.group[slot])
        if before is not None and before != after:
            self._accuracy.move(slot, before, after)
            self._handling.move(slot, before, after)

    def remove(self, moderator_id: str) -> None:
        """Off the roster; their severe exposure is kept, as `recall_severe` keeps it, should they be put back."""
        slot = self._roster.slot_of(moderator_id)
        self._accuracy.move(slot, int(self._roster.group[slot]), None)
        self._handling.move(slot, int(self._roster.group[slot]), None)
        self._roster.drop(moderator_id)
        self._accuracy.clear(slot)
        self._handling.clear(slot)

    def profile(self, moderator_id: str) -> ModeratorProfile:
        return self._roster.profile(moderator_id)

    def moderator_ids(self) -> list[str]:
        return list(self._roster.slots)

    # -- estimates ----------------------------------------------------------------------------------------------

    def accuracy(self, moderator_id: str, policy_area: str | None) -> float:
        slot = self._roster.slot_of(moderator_id)
        return self._accuracy.row(slot, int(self._roster.group[slot]))[self._area_index(policy_area)]

    def accuracy_by_area(self, moderator_id: str) -> dict[str, tuple[float, int]]:
        """Each policy area's accuracy estimate with the QA reviews behind it (none: the prior alone), for
        operations to see what the assignment believes of a moderator."""
        slot = self._roster.slot_of(moderator_id)
        means = self._accuracy.row(slot, int(self._roster.group[slot]))
        reviews = self._accuracy.trials[slot].tolist()
        return {area: (means[index], int(reviews[index])) for area, index in self._areas.items()}

    def expected_handling_s(self, moderator_id: str, modality: Modality, duration_s: float) -> float:
        slot = self._roster.slot_of(moderator_id)
        per_unit = self._handling.row(slot, int(self._roster.group[slot]))[_MODALITY_INDEX[modality]]
        return per_unit * media_scale(modality, _duration(duration_s))

    def knows(self, moderator_id: str) -> bool:
        """Whether the moderator is on the roster: an O(1) test, unlike a scan of `moderator_ids()`, for the
        per-decision learning that skips moderators removed since they took the task."""
        return moderator_id in self._roster.slots

    def observe_accuracy(self, moderator_id: str, policy_area: str | None, correct: bool) -> None:
        """A QA outcome, in the task's policy area's column, or in the one without an area when the config no longer
        knows it (found by a probe: the QA review of a task whose area a new config dropped could not be decided)."""
        slot = self._roster.slot_of(moderator_id)
        self._accuracy.observe(slot, int(self._roster.group[slot]), self._area_or_none(policy_area), correct)

    def observe_handling(self, moderator_id: str, modality: Modality, handling_s: float, duration_s: float) -> None:
        if not (math.isfinite(handling_s) and handling_s > 0):
            raise InvalidInput("handling time must be a positive number of seconds", field="handling_s")
        # A decision posted within a second of its lease (a script, a resent post) counts as one second: faster says
        # nothing more of speed, and estimates from a few 1e-310 s made every value of the group infinite, which the
        # solver refuses (found by a probe).
        handling_s = max(handling_s, MIN_HANDLING_S)
        units = media_scale(modality, _duration(duration_s))
        slot = self._roster.slot_of(moderator_id)
        self._handling.observe(
            slot, self._roster.group.item(slot), _MODALITY_INDEX[modality], math.log(handling_s / units)
        )

    # -- wellbeing ----------------------------------------------------------------------------------------------

    def record_severe(self, moderator_id: str, at: float) -> None:
        self._roster.slot_of(moderator_id)
        self._severe.record(moderator_id, at)

    def recall_severe(self, moderator_id: str, at: float) -> None:
        """A severe exposure the engine did not lease as such: a severe lease read back from the audit at a restart,
        or a task the moderator held that turned severe (a copy or the config showed what its content is) and was
        taken back from them at `at`, which was in front of them all the same. Either counts against their budget
        as a severe lease does, their cool-down running from `at`; a severe review they have under way is still
        under way. Kept for a moderator whose profile did not load (a clearance tier renamed) as well: an admin
        putting the profile back must not hand them a fresh budget and no cool-down (found by a probe: a third
        severe item within three minutes against a budget of two)."""
        self._severe.record(moderator_id, at)

    def severe_review_started(self, moderator_id: str) -> None:
        """A severe task is leased to the moderator (counted against the budget by `record_severe`, once)."""
        self._severe.holds(moderator_id)

    def severe_review_ended(self, moderator_id: str, at: float) -> None:
        """A severe review ended (decided, handed back, expired): the moderator's cool-down runs from `at`, on the
        roster or not (see `recall_severe`)."""
        self._severe.exposed_until(moderator_id, at)

    def longest_cooldown_s(self) -> float:
        """The longest cool-down any moderator on the roster has: how far back a severe review's end still counts."""
        return max((profile.cooldown_s for profile in self._roster.profiles if profile is not None), default=0.0)

    def severe_budget_left(self, moderator_id: str, now: float) -> int:
        """Severe items still allowed in the rolling hour; the cool-down is separate (see `severe_caps`)."""
        limit = self._roster.profile(moderator_id).severe_per_hour
        return max(0, limit - self._severe.seen(moderator_id, now))

    def severe_caps(self, moderator_ids: Sequence[str], now: float) -> NDArray[np.int64]:
        """Severe items each moderator may receive in one batch: 0 while exhausted, cooling down or in a severe
        review, else 1: the next one waits for this one's review to end (and for any cool-down after it)."""
        profile = self._roster.profile
        return np.array([self._severe_cap(profile(m), now) for m in moderator_ids], dtype=np.int64)

    def _severe_cap(self, profile: ModeratorProfile, now: float) -> int:
        """One moderator's `severe_caps`, the one place the wellbeing rules are applied: the ledger is read once
        (a batch with a severe task asks this of hundreds of moderators)."""
        seen = self._severe.seen(profile.id, now)
        return int(seen < profile.severe_per_hour and not self._severe.cooling(profile.id, now, profile.cooldown_s))

    def _spent(self, profile: ModeratorProfile, now: float) -> bool:
        """No severe item for this moderator now: the hourly budget is used up or a cool-down is running."""
        return self._severe_cap(profile, now) == 0

    # -- value --------------------------------------------------------------------------------------------------

    def eligible(self, task: Task, moderator_id: str, now: float) -> bool:
        """The rules of `value` for one pair: a bit test on cached masks, no estimates and no matrix."""
        slot = self._roster.slot_of(moderator_id)
        if not self._roster.available[slot]:
            return False
        if self.required_now(task, now) & ~self._roster.held_bits[slot] or moderator_id in task.skipped_by:
            return False
        return not (task.severe and self._spent(self._roster.profile(moderator_id), now))

    def qualified(self, task: Task, moderator_id: str, now: float) -> bool:
        """Whether the moderator holds every skill, language, region and clearance the task requires now, whatever
        their status and wellbeing budget: what a lease they already hold must keep satisfying."""
        return not self.required_now(task, now) & ~self._roster.held_bits[self._roster.slot_of(moderator_id)]

    def required_now(self, task: Task, now: float) -> int:
        """The skill bits the task requires after the escalation steps its wait has passed."""
        # `_need_key` and the step lookup written out: a batch asks this of every task its window reads and of every
        # pair it leases, and the two calls cost as much as the rest.
        need = self._needs_now().get(_need_key(task))
        if need is None:
            need = self._new_need(task)
        after, masks = need.after, need.masks
        return masks[bisect_right(after, now - task.enqueued_at)] if after else masks[0]

    def required_steps(self, task: Task) -> tuple[int, ...]:
        """The skill bits the task requires at each escalation step of its queue; `required_now` is one of them."""
        need = self._needs_now().get(_need_key(task)) or self._new_need(task)
        return need.masks

    @property
    def vocabulary(self) -> int:
        """How many skills the roster has named: required masks are numbered by it, so one read off a task holds
        while this stays the same."""
        return self._roster.skills.size

    def escalation_waits(self, queue: str) -> tuple[float, ...]:
        """How long a task of `queue` waits before each of its escalation steps passes, in order."""
        waits = self._waits.get(queue)
        if waits is None:
            waits = self._waits[queue] = tuple(after_s for after_s, _ in self._rules.escalation(queue))
        return waits

    def takers(self, moderator_ids: Sequence[str], now: float) -> Takers:
        """Who among `moderator_ids` could take which task now, by the rules of `value` (see `Takers`)."""
        roster = self._roster
        # Read in C, a moderator at a time: the numpy flags would cost more than the rest of a moderator's turn.
        try:
            bits = list(map(roster.open_bits.__getitem__, map(roster.slots.__getitem__, moderator_ids)))
        except KeyError:
            for moderator_id in moderator_ids:
                roster.slot_of(moderator_id)  # raises NotFound, as `value` does
            raise
        return self._takers(now, moderator_ids, bits)

    def _takers(self, now: float, moderator_ids: Sequence[str], bits: list[int | None]) -> Takers:
        # Whether a set of skill groups covers a mask does not change while the set does not: the free moderators
        # change on every batch, but their groups (a roster has a handful) make few sets, which come back (an evening
        # batch has a new set every other time, out of about six), so each set's answers are kept across batches.
        groups = cast(frozenset[int], frozenset(bits) - _UNAVAILABLE)
        covered = self._covered.get(groups)
        if covered is None:
            if len(self._covered) >= _COVERED_KEPT:
                self._covered.clear()
            covered = self._covered[groups] = Covered(groups)
        return Takers(self, now, moderator_ids, bits, covered, groups)

    def roster_takers(self, now: float, severe: bool) -> Takers:
        """`takers` of everyone on the roster but the suspended, available or not (and, for `severe` work, but those
        whose budget is no severe item at all): whom the roster could give a task to once they come on shift, which
        says what work waits for a roster change rather than for time. A spent budget or a cool-down is no bar."""
        roster = self._roster
        moderator_ids = list(roster.slots)
        bits: list[int | None] = []
        for slot in roster.slots.values():
            profile = roster.profiles[slot]
            barred = (
                profile is None
                or profile.status is ModeratorStatus.SUSPENDED
                or (severe and profile.severe_per_hour == 0)
            )
            bits.append(None if barred else roster.held_bits[slot])
        return self._takers(now, moderator_ids, bits)

    def calm(self, moderator_id: str, now: float) -> bool:
        """The moderator may see a severe item now (their budget is not spent and no cool-down runs)."""
        return not self._spent(self._roster.profile(moderator_id), now)

    def value(
        self,
        tasks: Sequence[Task],
        moderator_ids: Sequence[str],
        now: float,
        severe_caps: NDArray[np.int64] | None = None,
    ) -> sp.csr_matrix:
        """Rows are `tasks`, columns `moderator_ids`; an entry exists exactly for the eligible pairs and is > 0.

        `severe_caps`, when given, must be `severe_caps(moderator_ids, now)`: a batch with a severe task needs them
        for its solve as well, and working them out costs a ledger read per moderator."""
        if len(moderator_ids) == 1:
            return self._column(tasks, moderator_ids[0], now)
        columns = self._roster.slots_for(moderator_ids)
        shape = (len(tasks), len(moderator_ids))
        if not tasks or not moderator_ids:
            return sp.csr_matrix(shape, dtype=np.float64)
        demands, of_task, weight = self._demands(tasks, now)
        rate = self._demand_rates(demands, columns, *self._eligible(demands, columns, moderator_ids, now, severe_caps))
        counts = np.diff(rate.indptr)[of_task]
        indptr = np.zeros(len(tasks) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        starts = np.repeat(rate.indptr[of_task] - indptr[:-1], counts)
        gather = starts + np.arange(indptr[-1], dtype=np.int64)
        data = rate.data[gather] * np.repeat(weight, counts)
        np.maximum(data, VALUE_FLOOR, out=data)
        matrix = _csr(data, rate.indices[gather], indptr, shape)
        self._drop_skipped(matrix, tasks, moderator_ids)
        return matrix

    def value_dense(
        self,
        tasks: Sequence[Task],
        moderator_ids: Sequence[str],
        now: float,
        severe_caps: NDArray[np.int64] | None = None,
    ) -> NDArray[np.float64]:
        """`value(tasks, moderator_ids, now).toarray()`, the same floats, without the sparse matrix: in an engine batch
        most pairs are eligible and the solver reads the matrix densely anyway, so building and indexing the sparse
        form first costs more than the value itself on a quiet floor's batch."""
        if len(moderator_ids) == 1 or not tasks or not moderator_ids:
            small: NDArray[np.float64] = self.value(tasks, moderator_ids, now, severe_caps).toarray()
            return small
        columns = self._roster.slots_for(moderator_ids)
        demands, of_task, weight = self._demands(tasks, now)
        live, ok = self._eligible(demands, columns, moderator_ids, now, severe_caps)
        factors, of_demand = self._factors(demands.kinds, columns[live])
        pair = factors[of_demand[of_task]] * weight[:, None]
        np.maximum(pair, VALUE_FLOOR, out=pair)
        eligible = np.where(ok[of_task], pair, 0.0)
        if live.size == len(moderator_ids):
            matrix = eligible
        else:
            matrix = np.zeros((len(tasks), len(moderator_ids)))
            matrix[:, live] = eligible
        for row, column in _skipped_pairs(tasks, moderator_ids):
            matrix[row, column] = 0.0
        return matrix

    def _column(self, tasks: Sequence[Task], moderator_id: str, now: float) -> sp.csr_matrix:
        """`value` for one moderator, task by task; same pairs and values as the batch path."""
        slot = self._roster.slot_of(moderator_id)
        rows: list[int] = []
        values: list[float] = []
        if self._roster.available[slot]:
            lacking = ~self._roster.held_bits[slot]
            blocked = self._spent(self._roster.profile(moderator_id), now)
            group = int(self._roster.group[slot])
            accuracy, unit_s = self._accuracy.row(slot, group), self._handling.row(slot, group)
            proficiency = self._roster.proficiency[slot].tolist()
            needs = self._needs_now()
            for row, task in enumerate(tasks):
                # `_need_key` and the step lookup written out, as in `required_now` (which would not give the need's
                # factor columns): this loop is the one-moderator hot path, and the calls cost as much as the rest.
                need = needs.get(_need_key(task))
                if need is None:
                    need = self._new_need(task)
                after, masks = need.after, need.masks
                mask = masks[bisect_right(after, now - task.enqueued_at)] if after else masks[0]
                if mask & lacking or (task.severe and blocked) or moderator_id in task.skipped_by:
                    continue
                factor = accuracy[need.area] * proficiency[need.language] / unit_s[need.modality]
                weight = max(task.priority_at(now), 0.0) / media_scale(task.modality, task.duration_s)
                rows.append(row)
                values.append(max(factor * weight, VALUE_FLOOR))
        indptr = np.zeros(len(tasks) + 1, dtype=np.int32)
        indptr[np.array(rows, dtype=np.intp) + 1] = 1
        np.cumsum(indptr, out=indptr)
        return _csr(np.array(values, dtype=np.float64), np.zeros(len(rows), dtype=np.int32), indptr, (len(tasks), 1))

    def _needs_now(self) -> dict[_NeedKey, _Need]:
        """The per-demand cache, emptied whenever the skill vocabulary (and so the bit numbering) has grown."""
        if self._needs_vocabulary != self.vocabulary:
            self._forget_needs()
            self._needs_vocabulary = self.vocabulary
        return self._needs

    def _forget_needs(self) -> None:
        """Empty the needs and the task facts that number them."""
        self._needs, self._facts = {}, _TaskFacts(self._steps, self._roster.held.shape[1])

    def _new_need(self, task: Task) -> _Need:
        masks = self._rules.required_masks(
            task.queue, task.modality, task.language, task.region, task.policy, self._roster.skills
        )
        if task.clearance:  # never relaxed by an escalation step: it protects the moderator, not the SLA
            extra = self._rules.clearance_bits(task.clearance, self._roster.skills)
            masks = tuple(mask | extra for mask in masks)
        if task.areas:  # relaxed where the queue's steps relax policy areas, as the task's own area is
            extra = self._rules.area_bits(task.areas, self._roster.skills)
            kept = self._rules.keeps_areas(task.queue)
            masks = tuple(mask | extra if keeps else mask for mask, keeps in zip(masks, kept, strict=True))
        area = self._area_or_none(task.policy)
        language = self._roster.languages.get(task.language, -1)
        modality = _MODALITY_INDEX[task.modality]
        need = self._needs[_need_key(task)] = _Need(
            self.escalation_waits(task.queue),
            masks,
            area,
            language,
            modality,
            self._kinds.code(area, language, modality),
            len(self._needs),
        )
        return need

    def _demands(self, tasks: Sequence[Task], now: float) -> tuple[_Demands, NDArray[np.intp], NDArray[np.float64]]:
        """Group tasks by what they require now (the cached need at its escalation step) and whether they are
        severe; the per-task weight is the harm rate per media unit, `max(priority_at(now), 0) / media_scale`."""
        rows = self._task_rows(tasks)
        facts = self._facts
        times = facts.times[rows]
        waited = now - times[:, 0]
        # A demand is a need, a severity and a step: how many of the queue's escalation waits the task's wait has
        # reached (the waits ascend, so this is `bisect_right`).
        steps = self._steps + 1
        step = np.count_nonzero(facts.after[rows] <= waited[:, None], axis=1)
        group = facts.group[rows]
        codes, of_task = compact(group * steps + step, 2 * len(self._needs) * steps)
        first = np.empty(codes.size, dtype=np.intp)
        first[of_task] = np.arange(len(tasks))  # any task of a demand stands for it
        row = rows[first]
        demands = _Demands(facts.masks[row, step[first]], (group[first] & 1).astype(np.bool_), facts.kind[row])
        weight: NDArray[np.float64] = np.maximum(times[:, 1] + times[:, 2] * np.maximum(0.0, waited), 0.0) / times[:, 3]
        return demands, of_task, weight

    def _task_rows(self, tasks: Sequence[Task]) -> NDArray[np.intp]:
        """Each task's row of facts, added for the tasks that have none; the table starts over when full."""
        needs = self._needs_now()
        facts = self._facts
        rows = list(map(facts.row_of.get, map(id, tasks), repeat(-1)))
        found = np.array(rows, dtype=np.intp)
        if -1 in rows:
            new = list({id(task): task for task, row in zip(tasks, rows, strict=True) if row < 0}.values())
            lookup = np.flatnonzero(found < 0)
            if len(facts.tasks) + len(new) > _FACTS_KEPT:
                facts = self._facts = _TaskFacts(self._steps, self._roster.held.shape[1])
                new = list({id(task): task for task in tasks}.values())
                lookup = np.arange(len(tasks))
            facts.add(new, [needs.get(_need_key(task)) or self._new_need(task) for task in new])
            # Only the tasks that had no row are looked up again (all, if the table started over): an evening
            # batch brings a few dozen new tasks among its hundreds.
            row_of = facts.row_of
            found[lookup] = [row_of[id(tasks[at])] for at in lookup.tolist()]
        return found

    def _demand_rates(
        self, demands: _Demands, columns: NDArray[np.intp], live: NDArray[np.intp], ok: NDArray[np.bool_]
    ) -> _Rates:
        """Per demand and moderator: accuracy * proficiency / seconds per unit, stored only where eligible (`live`
        and `ok` as `_eligible` gives them).

        Unavailable moderators are dropped before any pair is formed, and the moderator factors are tabulated per
        distinct (policy area, language, modality), far fewer than demands, then gathered once per eligible pair.
        """
        counts = np.count_nonzero(ok, axis=1)
        indptr = np.zeros(demands.kinds.size + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        rows = np.repeat(np.arange(demands.kinds.size), counts)
        cols = np.flatnonzero(ok) - rows * live.size
        factors, of_demand = self._factors(demands.kinds, columns[live])
        data = factors.ravel()[of_demand[rows] * live.size + cols]
        # `ok` is scanned row-major and `live` ascends, so each row's columns come out sorted: a canonical CSR.
        return _Rates(data, live[cols], indptr)

    def _eligible(
        self,
        demands: _Demands,
        columns: NDArray[np.intp],
        moderator_ids: Sequence[str],
        now: float,
        severe_caps: NDArray[np.int64] | None,
    ) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
        """The available positions among `columns` (ascending), and per demand and available moderator whether the
        pair is eligible: the skills cover the demand and, for a severe one, the wellbeing budget allows it (the
        caller's `severe_caps` of `moderator_ids`, else worked out for the available ones)."""
        live = np.flatnonzero(self._roster.available[columns])
        ok = covered(demands.required, self._roster.held[columns[live]])
        severe = demands.severe
        if severe.any():
            if severe_caps is None:
                blocked = self.severe_caps([moderator_ids[column] for column in live.tolist()], now) == 0
            else:
                blocked = severe_caps[live] == 0
            if blocked.any():
                ok &= ~(severe[:, None] & blocked[None, :])
        return live, ok

    def _factors(
        self, kinds: NDArray[np.intp], slots: NDArray[np.intp]
    ) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
        """`accuracy * proficiency / seconds per unit` for each distinct kind (area, language, modality) of `kinds`
        and moderator, and the row of each entry of `kinds`."""
        codes, of_demand = compact(kinds, self._kinds.count)
        area, language, modality = self._kinds.parts(codes).T
        accuracy, unit_s = self._estimates(slots)
        proficiency = self._roster.proficiency[slots][:, language]
        factors = accuracy[:, area] * proficiency / unit_s[:, modality]
        return factors.T.copy(), of_demand

    @staticmethod
    def _drop_skipped(matrix: sp.csr_matrix, tasks: Sequence[Task], moderator_ids: Sequence[str]) -> None:
        dropped = False
        for row, column in _skipped_pairs(tasks, moderator_ids):
            start, stop = matrix.indptr[row], matrix.indptr[row + 1]
            at = start + int(np.searchsorted(matrix.indices[start:stop], column))
            if at < stop and matrix.indices[at] == column:
                matrix.data[at] = 0.0
                dropped = True
        if dropped:
            matrix.eliminate_zeros()

    def _estimates(self, slots: NDArray[np.intp]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Accuracy per area and seconds per unit per modality for `slots` only, exact as of the last observation."""
        group = self._roster.group
        return self._accuracy.means(slots, group), self._handling.expected_unit_s(slots, group)

    def _area_index(self, policy_area: str | None) -> int:
        if policy_area is not None and policy_area not in self._areas:
            raise InvalidInput(f"unknown policy area {policy_area!r}", field="policy_area")
        return self._area_or_none(policy_area)

    def _area_or_none(self, policy_area: str | None) -> int:
        """Column of a policy area; tasks without one, or with one the config does not know, share the last."""
        if policy_area is None:
            return len(self._areas)
        return self._areas.get(policy_area, len(self._areas))

    # -- persistence --------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, object]:
        moderators = []
        for moderator_id, slot in self._roster.slots.items():
            severe_times, last_severe, in_review = self._severe.state_of(moderator_id)
            accuracy, handling = self._learned_of(slot)
            moderators.append(
                ModeratorState(
                    profile=self._roster.profile(moderator_id),
                    accuracy=accuracy,
                    handling=handling,
                    severe_times=severe_times,
                    last_severe=last_severe,
                    severe_in_review=in_review,
                )
            )
        return ModelState(moderators=moderators).model_dump(mode="json")

    def learned(self) -> LearnedState:
        """What QA and handling times taught the model, for the moderators who taught it anything."""
        moderators = []
        for moderator_id, slot in self._roster.slots.items():
            accuracy, handling = self._learned_of(slot)
            if accuracy or handling:
                moderators.append(LearnedModerator(id=moderator_id, accuracy=accuracy, handling=handling))
        return LearnedState(moderators=moderators)

    def restore_learned(self, state: LearnedState) -> list[LearnedModerator]:
        """Put back what `state` says was learned about each moderator the model knows, and return the entries of
        those it does not (a moderator whose profile does not load now), to keep until they are put again. What
        was learned in a policy area the config no longer has is left out: nobody is judged in it. Every entry is
        checked before any is written, so an error leaves the model as it was."""
        known = [entry for entry in state.moderators if entry.id in self._roster.slots]
        for entry in known:
            _check_learned(entry)
        for entry in known:
            accuracy = {
                area: counts for area, counts in entry.accuracy.items() if area in self._areas or area == NO_AREA
            }
            slot = self._roster.slot_of(entry.id)
            group = int(self._roster.group[slot])
            self._accuracy.move(slot, group, None)
            self._handling.move(slot, group, None)
            self._accuracy.clear(slot)
            self._handling.clear(slot)
            self._set_learned(slot, entry.model_copy(update={"accuracy": accuracy}))
            self._accuracy.move(slot, None, group)
            self._handling.move(slot, None, group)
        return [entry for entry in state.moderators if entry.id not in self._roster.slots]

    def _learned_of(
        self, slot: int
    ) -> tuple[dict[str, tuple[float, float]], dict[Modality, tuple[float, float, float]]]:
        names = [*self._areas, NO_AREA]
        trials, correct = self._accuracy.trials[slot], self._accuracy.correct[slot]
        count, mean, m2 = self._handling.count[slot], self._handling.mean[slot], self._handling.m2[slot]
        accuracy = {names[a]: (float(correct[a]), float(trials[a])) for a in np.flatnonzero(trials)}
        handling = {MODALITIES[m]: (float(count[m]), float(mean[m]), float(m2[m])) for m in np.flatnonzero(count)}
        return accuracy, handling

    def _set_learned(self, slot: int, learned: Learned) -> None:
        """Write `learned` into the slot's rows (which hold nothing yet); the caller moves them into a group."""
        for area, (correct, trials) in learned.accuracy.items():
            column = self._area_index(None if area == NO_AREA else area)
            self._accuracy.correct[slot, column] = correct
            self._accuracy.trials[slot, column] = trials
        for modality, (count, mean, m2) in learned.handling.items():
            column = _MODALITY_INDEX[modality]
            self._handling.count[slot, column] = count
            self._handling.mean[slot, column] = mean
            self._handling.m2[slot, column] = m2

    def load_state_dict(self, state: object) -> None:
        """Replace everything with `state`; on any error the model is left as it was."""
        snapshot = ModelState.model_validate(state)
        fresh = Model(self._config)
        for entry in snapshot.moderators:
            _check_learned(entry)
            fresh.upsert(entry.profile)
            slot = fresh._roster.slot_of(entry.profile.id)
            fresh._set_learned(slot, entry)
            group = int(fresh._roster.group[slot])
            fresh._accuracy.move(slot, None, group)
            fresh._handling.move(slot, None, group)
            fresh._severe.restore(entry.profile.id, entry.severe_times, entry.last_severe, entry.severe_in_review)
        self._roster, self._accuracy, self._handling = fresh._roster, fresh._accuracy, fresh._handling
        # The rules' and needs' caches hold bit numbers of the old vocabulary, which the fresh roster may number
        # differently even at the same size.
        self._severe, self._rules = fresh._severe, fresh._rules
        self._forget_needs()


def _check_learned(learned: Learned) -> None:
    for area, (correct, trials) in learned.accuracy.items():
        if correct > trials:
            raise InvalidInput(f"more correct than trials for {area!r}", field="accuracy")


def _csr(
    data: NDArray[np.float64], indices: NDArray[np.integer], indptr: NDArray[np.integer], shape: tuple[int, int]
) -> sp.csr_matrix:
    """A canonical CSR matrix (sorted, duplicate-free columns per row) from its parts, with the int32 indices scipy
    itself would choose while they fit: given those, with copy=False, scipy neither scans nor copies them, which
    is most of its cost on a batch-sized matrix."""
    index = np.int32 if max(*shape, indices.size) <= _INT32_MAX else np.int64
    return sp.csr_matrix(
        (data, indices.astype(index, copy=False), indptr.astype(index, copy=False)), shape=shape, copy=False
    )


def _skipped_pairs(tasks: Sequence[Task], moderator_ids: Sequence[str]) -> Iterator[tuple[int, int]]:
    """(row, column) of every task and moderator among `moderator_ids` who skipped it: never a pair."""
    column_of: dict[str, int] | None = None
    for row, task in enumerate(tasks):
        if not task.skipped_by:
            continue
        if column_of is None:
            column_of = {moderator_id: column for column, moderator_id in enumerate(moderator_ids)}
        for moderator_id in task.skipped_by:
            column = column_of.get(moderator_id)
            if column is not None:
                yield row, column


def _need_key(task: Task) -> _NeedKey:
    """The task fields a single pair's rules depend on, apart from the time it has waited."""
    return task.queue, task.modality, task.language, task.region, task.policy, task.clearance, task.areas


def _duration(duration_s: float) -> float:
    if not (math.isfinite(duration_s) and duration_s >= 0):
        raise InvalidInput("duration must be a non-negative number of seconds", field="duration_s")
    return duration_s


def _padded(values: tuple[_Value, ...], length: int, pad: _Value) -> tuple[_Value, ...]:
    return values + (pad,) * (length - len(values))
