"""Accuracy and handling-time estimates, one row per moderator slot, shrunk toward their group and the population.

Each observation is an O(1) update of the moderator's sufficient statistics and of their group's sums. Shrinkage is
recomputed when an estimate is next read, and only as far as needed: the small group-level table once per change,
then just the rows asked for. A new QA outcome in a group therefore moves every member's prior without touching each
member, and every read is exact: nothing is cached across an observation that could change it.

Group sums are exact functions of the current rows, never running totals that drift: counts are integers in floats,
and the float sums of handling statistics are kept as correctly rounded sums (`ExactSums`), so a model rebuilt from
a saved state, which adds its rows in another order, scores bit for bit like the original.

The hierarchy is the same for both estimators: population prior (the constants below, worth
`POPULATION_STRENGTH` observations) -> group mean (vendor and site, prior worth `GROUP_STRENGTH`) -> moderator mean
(prior worth `MODERATOR_STRENGTH`). A newcomer with no observations therefore starts exactly at their group's mean.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from queueopt.capability.arrays import grown
from queueopt.domain import Modality

Floats = NDArray[np.float64]
Ints = NDArray[np.intp]

POPULATION_STRENGTH = 20.0
GROUP_STRENGTH = 10.0
MODERATOR_STRENGTH = 10.0
ACCURACY_PRIOR = 0.9

MODALITIES: tuple[Modality, ...] = tuple(Modality)
TIMED = frozenset({Modality.VIDEO, Modality.AUDIO, Modality.LIVESTREAM})
REFERENCE_MEDIA_S = 60.0
HANDLING_PRIOR_S: dict[Modality, float] = {
    Modality.TEXT: 60.0,
    Modality.PHOTO: 120.0,
    Modality.VIDEO: REFERENCE_MEDIA_S,
    Modality.AUDIO: REFERENCE_MEDIA_S,
    Modality.LIVESTREAM: REFERENCE_MEDIA_S,
}
HANDLING_PRIOR_LOG_VAR = 0.25


def media_scale(modality: Modality, duration_s: float) -> float:
    """How many reference units a task is: timed media in minutes of content (at least one), anything else one.

    Handling times are learned per unit, so a reviewer's speed on short clips carries over to long videos.
    """
    if modality in TIMED:
        return max(1.0, duration_s / REFERENCE_MEDIA_S)
    return 1.0


# Every finite float is an integer multiple of 2**-_SUBNORMAL_BITS (the smallest subnormal).
_SUBNORMAL_BITS = 1074
_SMALLEST_INVERSE = 1 << _SUBNORMAL_BITS


def exact_units(*terms: float) -> int:
    """The exact sum of finite `terms` as a whole number of the smallest subnormal (see `ExactSums`)."""
    units = 0
    for term in terms:
        numerator, denominator = term.as_integer_ratio()
        units += numerator << (_SUBNORMAL_BITS + 1 - denominator.bit_length())
    return units


class ExactSums:
    """Cells that always read as the correctly rounded sum of the terms added to them, with O(1) adds and removals.

    Each cell keeps its sum exactly as an integer count of the smallest subnormal, 2**-1074, of which every finite
    float is a whole multiple (`exact_units`); Python's integer true division rounds correctly, so the value does not
    depend on the order terms came and went. (Shewchuk's partials, the algorithm behind `math.fsum`, give the same
    values, but a Python loop over them costs several times more once a long-lived cell has gathered many partials.)
    That division and the array write cost more than the add itself and every decision adds to two cells, while
    the values are read far less often, so a cell's value is brought up to date when `values` is next read.
    Each column's exact total over its cells is kept as well (`column_sums`): the population's sums, which would
    otherwise be a second set of cells that every decision adds to again.
    """

    def __init__(self, width: int) -> None:
        self._values = np.zeros((0, width), dtype=np.float64)
        self._units: dict[tuple[int, int], int] = {}
        self._stale: set[tuple[int, int]] = set()
        self._column_units = [0] * width

    def grow(self, rows: int) -> None:
        self._values = grown(self._values, rows)

    def add(self, row: int, column: int, units: int) -> None:
        """Add an exact amount (`exact_units` of the terms) to a cell."""
        cell = (row, column)
        self._units[cell] = self._units.get(cell, 0) + units
        self._stale.add(cell)
        self._column_units[column] += units

    @property
    def values(self) -> Floats:
        """Every cell's correctly rounded sum."""
        if self._stale:
            units = self._units
            for cell in self._stale:
                self._values[cell] = units[cell] / _SMALLEST_INVERSE
            self._stale.clear()
        return self._values

    def column_sums(self) -> Floats:
        """Each column's correctly rounded sum over all its cells, as one cell given all their terms would read."""
        return np.array([units / _SMALLEST_INVERSE for units in self._column_units])


class AccuracyEstimator:
    """Beta posterior of P(correct) per (moderator, policy area); the last column is "no policy area".

    Correct and trial counts are whole numbers, so their group sums are exact with plain float arithmetic.
    """

    def __init__(self, n_areas: int) -> None:
        self.correct = np.zeros((0, n_areas), dtype=np.float64)
        self.trials = np.zeros((0, n_areas), dtype=np.float64)
        self._group_correct = np.zeros((0, n_areas), dtype=np.float64)
        self._group_trials = np.zeros((0, n_areas), dtype=np.float64)
        self._group_mean: Floats | None = None

    def ensure(self, capacity: int, n_groups: int) -> None:
        self.correct = grown(self.correct, capacity)
        self.trials = grown(self.trials, capacity)
        if n_groups > self._group_correct.shape[0]:
            self._group_correct = grown(self._group_correct, n_groups)
            self._group_trials = grown(self._group_trials, n_groups)
            self._group_mean = None

    def observe(self, slot: int, group: int, area: int, correct: bool) -> None:
        self.trials[slot, area] += 1.0
        self.correct[slot, area] += float(correct)
        self._group_trials[group, area] += 1.0
        self._group_correct[group, area] += float(correct)
        self._group_mean = None

    def move(self, slot: int, group: int | None, to: int | None) -> None:
        """Take the row's counts out of `group` and into `to` (None: no group, for a new or a removed row)."""
        for target, sign in ((group, -1.0), (to, 1.0)):
            if target is not None:
                self._group_correct[target] += sign * self.correct[slot]
                self._group_trials[target] += sign * self.trials[slot]
        self._group_mean = None

    def clear(self, slot: int) -> None:
        self.correct[slot] = 0.0
        self.trials[slot] = 0.0

    def means(self, slots: Ints, group: Ints) -> Floats:
        """Posterior means of `slots` for every area, each shrunk toward its group, each group toward the population."""
        mean: Floats = (MODERATOR_STRENGTH * self._priors()[group[slots]] + self.correct[slots]) / (
            MODERATOR_STRENGTH + self.trials[slots]
        )
        return mean

    def row(self, slot: int, group: int) -> list[float]:
        """`means` for one slot in plain floats (same operations, same results), without numpy's per-call cost."""
        return [
            (MODERATOR_STRENGTH * prior + correct) / (MODERATOR_STRENGTH + trials)
            for prior, correct, trials in zip(
                self._priors()[group].tolist(), self.correct[slot].tolist(), self.trials[slot].tolist(), strict=True
            )
        ]

    def _priors(self) -> Floats:
        """Each group's mean, shrunk toward the population; rebuilt after any change to any group."""
        if self._group_mean is None:
            correct, trials = self._group_correct, self._group_trials
            population = (POPULATION_STRENGTH * ACCURACY_PRIOR + correct.sum(axis=0)) / (
                POPULATION_STRENGTH + trials.sum(axis=0)
            )
            self._group_mean = (GROUP_STRENGTH * population + correct) / (GROUP_STRENGTH + trials)
        return self._group_mean


class HandlingEstimator:
    """Log-normal handling time per (moderator, modality), per media unit (see `media_scale`).

    Welford running mean and sum of squared deviations of `log(handling_s / scale)`; the expected time is
    `exp(mean + var / 2) * scale`, the log-normal mean. Variances pool the within-moderator spread only, so
    differences between moderators do not pass for noise. A row's terms in its group's (and the population's) sums
    are `count`, `count * mean` and `m2`; an observation swaps the old terms for the new ones.
    """

    def __init__(self) -> None:
        width = len(MODALITIES)
        self.count = np.zeros((0, width), dtype=np.float64)
        self.mean = np.zeros((0, width), dtype=np.float64)
        self.m2 = np.zeros((0, width), dtype=np.float64)
        self._group_count = np.zeros((0, width), dtype=np.float64)
        self._group_total = ExactSums(width)
        self._group_m2 = ExactSums(width)
        self._prior_var = np.full(width, HANDLING_PRIOR_LOG_VAR)
        self._prior_mean = np.array([math.log(HANDLING_PRIOR_S[m]) for m in MODALITIES]) - self._prior_var / 2
        self._group_prior: tuple[Floats, Floats] | None = None

    def ensure(self, capacity: int, n_groups: int) -> None:
        self.count = grown(self.count, capacity)
        self.mean = grown(self.mean, capacity)
        self.m2 = grown(self.m2, capacity)
        if n_groups > self._group_count.shape[0]:
            self._group_count = grown(self._group_count, n_groups)
            self._group_total.grow(n_groups)
            self._group_m2.grow(n_groups)
            self._group_prior = None

    def observe(self, slot: int, group: int, modality: int, log_units: float) -> None:
        """One Welford step, and the row's old terms in the sums swapped for its new ones.

        This runs on every decision, so the cell is read once into plain floats (the same IEEE arithmetic as numpy's
        scalars; `item` reads one without making a numpy scalar first), and the removal and the addition are made
        exact once and added to the group's and the population's sums alike.
        """
        count = self.count.item(slot, modality)
        mean = self.mean.item(slot, modality)
        m2 = self.m2.item(slot, modality)
        delta = log_units - mean
        new_count = count + 1.0
        new_mean = mean + delta / new_count
        new_m2 = m2 + delta * (log_units - new_mean)
        self.count[slot, modality] = new_count
        self.mean[slot, modality] = new_mean
        self.m2[slot, modality] = new_m2
        total = exact_units(-count * mean, new_count * new_mean) if count else exact_units(new_count * new_mean)
        spread = exact_units(-m2, new_m2) if count else exact_units(new_m2)
        self._group_count[group, modality] = self._group_count.item(group, modality) + 1.0
        self._group_total.add(group, modality, total)
        self._group_m2.add(group, modality, spread)
        self._group_prior = None

    def move(self, slot: int, group: int | None, to: int | None) -> None:
        """Take the row's terms out of `group` and into `to` (None: no group, for a new or a removed row)."""
        for modality in np.flatnonzero(self.count[slot]).tolist():
            if group is not None:
                self._account(slot, group, modality, -1.0)
            if to is not None:
                self._account(slot, to, modality, 1.0)

    def clear(self, slot: int) -> None:
        self.count[slot] = 0.0
        self.mean[slot] = 0.0
        self.m2[slot] = 0.0

    def _account(self, slot: int, group: int, modality: int, sign: float) -> None:
        count = float(self.count[slot, modality])
        if not count:
            return
        total = exact_units(sign * count * float(self.mean[slot, modality]))
        m2 = exact_units(sign * float(self.m2[slot, modality]))
        self._group_count[group, modality] += sign * count
        self._group_total.add(group, modality, total)
        self._group_m2.add(group, modality, m2)
        self._group_prior = None

    def expected_unit_s(self, slots: Ints, group: Ints) -> Floats:
        """Expected seconds per media unit of `slots` for every modality, shrunk like the accuracy."""
        group_mean, group_var = self._priors()
        of_slot, count = group[slots], self.count[slots]
        mean = (MODERATOR_STRENGTH * group_mean[of_slot] + count * self.mean[slots]) / (MODERATOR_STRENGTH + count)
        var = (MODERATOR_STRENGTH * group_var[of_slot] + self.m2[slots]) / (MODERATOR_STRENGTH + count)
        result: Floats = np.exp(mean + var / 2)
        return result

    def row(self, slot: int, group: int) -> list[float]:
        """`expected_unit_s` for one slot: the arithmetic in plain floats (the same operations, so the same results),
        the exponential through the same numpy function as the batch."""
        group_mean, group_var = self._priors()
        exponents = []
        for prior_mean, prior_var, count, mean, m2 in zip(
            group_mean[group].tolist(),
            group_var[group].tolist(),
            self.count[slot].tolist(),
            self.mean[slot].tolist(),
            self.m2[slot].tolist(),
            strict=True,
        ):
            shrunk_mean = (MODERATOR_STRENGTH * prior_mean + count * mean) / (MODERATOR_STRENGTH + count)
            shrunk_var = (MODERATOR_STRENGTH * prior_var + m2) / (MODERATOR_STRENGTH + count)
            exponents.append(shrunk_mean + shrunk_var / 2)
        result: list[float] = np.exp(np.array(exponents)).tolist()
        return result

    def _priors(self) -> tuple[Floats, Floats]:
        """Each group's log-mean and log-variance, shrunk toward the population; rebuilt after any change."""
        if self._group_prior is None:
            g_count, g_total, g_m2 = self._group_count, self._group_total.values, self._group_m2.values
            n_all = g_count.sum(axis=0)
            pop_mean = (POPULATION_STRENGTH * self._prior_mean + self._group_total.column_sums()) / (
                POPULATION_STRENGTH + n_all
            )
            pop_var = (POPULATION_STRENGTH * self._prior_var + self._group_m2.column_sums()) / (
                POPULATION_STRENGTH + n_all
            )
            self._group_prior = (
                (GROUP_STRENGTH * pop_mean + g_total) / (GROUP_STRENGTH + g_count),
                (GROUP_STRENGTH * pop_var + g_m2) / (GROUP_STRENGTH + g_count),
            )
        return self._group_prior
