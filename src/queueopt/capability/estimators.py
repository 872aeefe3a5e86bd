"""Accuracy and handling-time estimates, one row per moderator slot, shrunk toward their group and the population.

Each observation is an O(1) update of sufficient statistics. Shrinkage is recomputed from those statistics in a few
vectorised passes when an estimate is next read, so a new QA outcome in a group moves every member's prior without
touching each member. The hierarchy is the same for both estimators: population prior (the constants below, worth
`POPULATION_STRENGTH` observations) -> group mean (vendor and site, prior worth `GROUP_STRENGTH`) -> moderator mean
(prior worth `MODERATOR_STRENGTH`). A newcomer with no observations therefore starts exactly at their group's mean.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

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


def _grown(array: Floats, capacity: int) -> Floats:
    if array.shape[0] >= capacity:
        return array
    bigger = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    bigger[: array.shape[0]] = array
    return bigger


def _group_sums(values: Floats, group: Ints, n_groups: int) -> Floats:
    sums = np.zeros((n_groups, values.shape[1]), dtype=np.float64)
    np.add.at(sums, group, values)
    return sums


class AccuracyEstimator:
    """Beta posterior of P(correct) per (moderator, policy area); the last column is "no policy area"."""

    def __init__(self, n_areas: int) -> None:
        self.correct = np.zeros((0, n_areas), dtype=np.float64)
        self.trials = np.zeros((0, n_areas), dtype=np.float64)

    def ensure(self, capacity: int) -> None:
        self.correct = _grown(self.correct, capacity)
        self.trials = _grown(self.trials, capacity)

    def clear(self, slot: int) -> None:
        self.correct[slot] = 0.0
        self.trials[slot] = 0.0

    def observe(self, slot: int, area: int, correct: bool) -> None:
        self.trials[slot, area] += 1.0
        self.correct[slot, area] += float(correct)

    def means(self, group: Ints, n_groups: int) -> Floats:
        """Posterior mean for every slot and area, each shrunk toward its group, each group toward the population."""
        population = (POPULATION_STRENGTH * ACCURACY_PRIOR + self.correct.sum(axis=0)) / (
            POPULATION_STRENGTH + self.trials.sum(axis=0)
        )
        group_mean = (GROUP_STRENGTH * population + _group_sums(self.correct, group, n_groups)) / (
            GROUP_STRENGTH + _group_sums(self.trials, group, n_groups)
        )
        mean: Floats = (MODERATOR_STRENGTH * group_mean[group] + self.correct) / (MODERATOR_STRENGTH + self.trials)
        return mean


class HandlingEstimator:
    """Log-normal handling time per (moderator, modality), per media unit (see `media_scale`).

    Welford running mean and sum of squared deviations of `log(handling_s / scale)`; the expected time is
    `exp(mean + var / 2) * scale`, the log-normal mean. Variances pool the within-moderator spread only, so
    differences between moderators do not pass for noise.
    """

    def __init__(self) -> None:
        width = len(MODALITIES)
        self.count = np.zeros((0, width), dtype=np.float64)
        self.mean = np.zeros((0, width), dtype=np.float64)
        self.m2 = np.zeros((0, width), dtype=np.float64)
        self._prior_var = np.full(width, HANDLING_PRIOR_LOG_VAR)
        self._prior_mean = np.array([math.log(HANDLING_PRIOR_S[m]) for m in MODALITIES]) - self._prior_var / 2

    def ensure(self, capacity: int) -> None:
        self.count = _grown(self.count, capacity)
        self.mean = _grown(self.mean, capacity)
        self.m2 = _grown(self.m2, capacity)

    def clear(self, slot: int) -> None:
        self.count[slot] = 0.0
        self.mean[slot] = 0.0
        self.m2[slot] = 0.0

    def observe(self, slot: int, modality: int, log_units: float) -> None:
        self.count[slot, modality] += 1.0
        delta = log_units - self.mean[slot, modality]
        self.mean[slot, modality] += delta / self.count[slot, modality]
        self.m2[slot, modality] += delta * (log_units - self.mean[slot, modality])

    def expected_unit_s(self, group: Ints, n_groups: int) -> Floats:
        """Expected seconds per media unit for every slot and modality, shrunk like the accuracy."""
        total = self.count * self.mean
        n_all = self.count.sum(axis=0)
        pop_mean = (POPULATION_STRENGTH * self._prior_mean + total.sum(axis=0)) / (POPULATION_STRENGTH + n_all)
        pop_var = (POPULATION_STRENGTH * self._prior_var + self.m2.sum(axis=0)) / (POPULATION_STRENGTH + n_all)
        g_count = _group_sums(self.count, group, n_groups)
        g_mean = (GROUP_STRENGTH * pop_mean + _group_sums(total, group, n_groups)) / (GROUP_STRENGTH + g_count)
        g_var = (GROUP_STRENGTH * pop_var + _group_sums(self.m2, group, n_groups)) / (GROUP_STRENGTH + g_count)
        mean = (MODERATOR_STRENGTH * g_mean[group] + total) / (MODERATOR_STRENGTH + self.count)
        var = (MODERATOR_STRENGTH * g_var[group] + self.m2) / (MODERATOR_STRENGTH + self.count)
        result: Floats = np.exp(mean + var / 2)
        return result
