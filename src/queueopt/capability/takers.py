"""Whether any of a set of moderators may take a task: the question a batch asks of every task it reads, answered
per skill group rather than per moderator (see `Takers`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from queueopt.domain import Task

if TYPE_CHECKING:
    from queueopt.capability.model import Model


class Covered:
    """For one set of skill groups (the skill bits each group of moderators holds): which required masks one of
    them covers."""

    __slots__ = ("_groups", "masks")

    def __init__(self, groups: frozenset[int]) -> None:
        self._groups = groups
        self.masks: dict[int, bool] = {}

    def mask(self, mask: int) -> bool:
        covered = self.masks.get(mask)
        if covered is None:
            covered = self.masks[mask] = any(not mask & ~held for held in self._groups)
        return covered


class Takers:
    """Whether any of a set of moderators may take a task: a batch asks this of every task it looks at, so the
    moderators are grouped by their skill bits (a roster has few distinct ones) and the answer is cached per required
    mask; only a task some moderators skipped is checked person by person, and only among those who qualify.

    Whether a group has someone who may see a severe item now is worked out only when a severe task asks, and then
    only until the first such member: most batches see few severe tasks, and the wellbeing ledger is the costly
    part of a moderator's check."""

    __slots__ = (
        "_bits",
        "_calm",
        "_calm_members",
        "_covered",
        "_covering",
        "_everyone",
        "_model",
        "_moderator_ids",
        "groups",
        "now",
    )

    def __init__(
        self,
        model: Model,
        now: float,
        moderator_ids: Sequence[str],
        bits: list[int | None],
        covered: Covered,
        groups: frozenset[int],
    ) -> None:
        self._model, self.now = model, now
        # The skill groups of these moderators: whether they open a task that is not severe depends on these alone,
        # so a caller may keep such answers under this key across batches.
        self.groups = groups
        self._moderator_ids, self._bits = moderator_ids, bits  # each one's `Roster.open_bits`
        self._everyone: dict[int, list[str]] | None = None  # skill bits -> moderators, once a task asks for them
        self._covered = covered  # what the groups cover, severity aside; shared with other batches
        self._calm: dict[int, bool] = {}  # skill bits -> whether one of the group may see a severe item now
        self._calm_members: dict[int, list[str]] = {}
        self._covering: dict[tuple[int, bool], list[int]] = {}

    def take(self, task: Task) -> bool:
        mask = self._model.required_now(task, self.now)
        skipped = task.skipped_by
        if not skipped:
            return self.opens(mask, task.severe)
        return self.takes(mask, skipped, task.severe)

    def takes(self, mask: int, skipped: frozenset[str], severe: bool) -> bool:
        """Whether someone not in `skipped` holds `mask` (and may see a severe item now, for `severe`)."""
        covering = self._covering_groups(mask, severe)
        members = self._members_calm if severe else self._members().__getitem__
        return any(moderator_id not in skipped for held in covering for moderator_id in members(held))

    def opens(self, mask: int, severe: bool) -> bool:
        """Whether someone may take a task that requires `mask` now with this severity, skips aside: a lane of a
        queue is all such tasks, so this says whether a batch reads the lane or skips it."""
        return bool(self._covering_groups(mask, True)) if severe else self._covered.mask(mask)

    def _covering_groups(self, mask: int, severe: bool) -> list[int]:
        """The skill-bit groups that cover `mask` (with someone who may see a severe item now, for a severe task)."""
        covering = self._covering.get((mask, severe))
        if covering is None:
            covering = [held for held in self.groups if not mask & ~held]
            if severe:
                covering = [held for held in covering if self._has_calm(held)]
            self._covering[(mask, severe)] = covering
        return covering

    def _has_calm(self, held: int) -> bool:
        calm = self._calm.get(held)
        if calm is None:
            model, now = self._model, self.now
            calm = self._calm[held] = any(model.calm(moderator_id, now) for moderator_id in self._members()[held])
        return calm

    def _members_calm(self, held: int) -> list[str]:
        members = self._calm_members.get(held)
        if members is None:
            model, now = self._model, self.now
            members = self._calm_members[held] = [m for m in self._members()[held] if model.calm(m, now)]
        return members

    def _members(self) -> dict[int, list[str]]:
        """The moderators of each skill group, grouped only once a severe or skipped task needs them person by
        person: most batches of a quiet floor need only the groups."""
        everyone = self._everyone
        if everyone is None:
            everyone = self._everyone = {held: [] for held in self.groups}
            for held, moderator_id in zip(self._bits, self._moderator_ids, strict=True):
                if held is not None:
                    everyone[held].append(moderator_id)
        return everyone
