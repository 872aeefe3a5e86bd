"""The moderators the engine holds: each profile in the capability model and, in step with its capacity and status, in
the lease book's free-slot index; and what was learned about moderators whose stored profile did not load, kept until
they are put again so that saving the model's learning never loses it.

The engine decides what a profile change hands back and writes it; putting a profile, and undoing that when the write
is refused, is this module's job, so the model and the lease book never disagree about who may work.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from pydantic import ValidationError

from queueopt.capability import Model, ModeratorProfile
from queueopt.capability.state import LearnedModerator, LearnedState
from queueopt.domain import ModeratorStatus
from queueopt.engine.leases import LeaseBook
from queueopt.errors import InvalidInput

log = logging.getLogger("queueopt.engine")


class Replaced(NamedTuple):
    """What `Roster.put` replaced, for `Roster.undo`: the profile before it, or None for a new moderator, and what was
    learned of them while their stored profile did not load."""

    before: ModeratorProfile | None
    kept: LearnedModerator | None


class Roster:
    """Profiles into `model` and slots into `leases` (both the engine's own, shared, not copied)."""

    def __init__(self, model: Model, leases: LeaseBook) -> None:
        self._model = model
        self._leases = leases
        self._unplaced: dict[str, LearnedModerator] = {}  # learned about moderators whose profiles did not load

    def put(self, profile: ModeratorProfile) -> Replaced:
        """Into the model, and the lease book's free-slot index in step with the profile's capacity and status; what
        was learned about a moderator whose stored profile had not loaded comes back with them. Returns what it
        replaced, for `undo`."""
        model = self._model
        replaced = Replaced(
            model.profile(profile.id) if model.knows(profile.id) else None, self._unplaced.get(profile.id)
        )
        model.upsert(profile)
        kept = self._unplaced.pop(profile.id, None)
        if kept is not None:
            try:
                model.restore_learned(LearnedState(moderators=[kept]))
            except InvalidInput as error:  # a corrupt entry: the profile is put all the same, at the prior
                log.warning("learned estimates kept for moderator %s do not load, dropped: %s", profile.id, error)
        available = profile.status is ModeratorStatus.AVAILABLE
        self._leases.set_slots(profile.id, profile.capacity if available else 0)
        return replaced

    def undo(self, moderator_id: str, replaced: Replaced) -> None:
        """Undo `put` after a refused write: the profile before it, or none (with what was learned of a moderator
        whose stored profile had not loaded kept for them again, and their severe exposure kept)."""
        if replaced.before is not None:
            self.put(replaced.before)
            return
        self._model.remove(moderator_id)
        self._leases.forget_newest(moderator_id)
        if replaced.kept is not None:
            self._unplaced[moderator_id] = replaced.kept

    def restore_learning(self, kept: str | None) -> None:
        """Put back what the model had learned when it was last saved (`learned`, kept in the store as `kept`); a
        state that does not load is logged and the model starts from its priors, as it would have before anything was
        kept. What was learned of moderators not on the roster is kept until they are put."""
        if kept is None:
            return
        try:
            unplaced = self._model.restore_learned(LearnedState.model_validate_json(kept))
        except (ValidationError, InvalidInput) as error:
            log.warning(
                "the learned estimates kept in the store do not load, so every moderator starts from the prior: %s",
                error,
            )
            return
        if unplaced:
            self._unplaced = {entry.id: entry for entry in unplaced}
            log.warning(
                "learned estimates kept for moderators not loaded, kept until they are put again: %s",
                ", ".join(sorted(self._unplaced)),
            )

    def learned(self) -> LearnedState:
        """What the model has learned, with what was learned about moderators whose profile did not load as it was."""
        learned = self._model.learned()
        learned.moderators += self._unplaced.values()
        return learned
