"""Moderators as array rows: skill masks, language proficiencies and vendor/site group, kept in step with profiles.

Skill masks are kept twice: as a uint64 array for the batch test over all moderators, and as Python ints for the
one-moderator test, where a single big-int `&` beats any numpy call.

Rows (slots) are reused after a removal so the arrays stay as long as the largest roster, and every per-moderator
array elsewhere (the estimators) can share the same slot numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from queueopt.capability.arrays import grown
from queueopt.capability.profile import ModeratorProfile
from queueopt.capability.skills import Mask, SkillBits, join, split
from queueopt.domain import ModeratorStatus
from queueopt.errors import InvalidInput, NotFound

UNSPOKEN_PROFICIENCY = 0.1
"""The proficiency a task is valued at for a moderator who does not speak its language (where the task's queue does
not require it)."""


class Roster:
    def __init__(self) -> None:
        self.skills = SkillBits()
        self.slots: dict[str, int] = {}
        self.profiles: list[ModeratorProfile | None] = []
        self._free: list[int] = []
        self.held: Mask = np.zeros((0, 1), dtype=np.uint64)
        self.held_bits: list[int] = []
        # Each slot's skill bits while its moderator is available, else None: what a batch groups its free moderators
        # by, read in C (the numpy flags cost a call each).
        self.open_bits: list[int | None] = []
        self.languages: dict[str, int] = {}
        # Per slot and language, the proficiency a task in that language is valued at: the moderator's level, or
        # UNSPOKEN_PROFICIENCY. A column past the roster's languages is always kept, so column -1 stands for a
        # language nobody speaks. The rule applied here, once per profile, spares every batch applying it.
        self.proficiency = np.full((0, 1), UNSPOKEN_PROFICIENCY)
        self.groups: dict[tuple[str, str], int] = {}
        self.group = np.zeros(0, dtype=np.intp)
        self.available = np.zeros(0, dtype=np.bool_)

    @property
    def rows(self) -> int:
        """Allocated rows; per-moderator arrays elsewhere must be at least this long."""
        return int(self.held.shape[0])

    def put(self, profile: ModeratorProfile) -> int:
        """Insert or replace; returns the slot, which survives a replacement so estimates stay attached."""
        slot = self.slots.get(profile.id)
        if slot is None:
            slot = self._free.pop() if self._free else self._new_slot()
            self.slots[profile.id] = slot
        self.profiles[slot] = profile
        bits = [self.skills.add("language", code) for code in profile.languages]
        bits += [self.skills.add("modality", modality.value) for modality in profile.modalities]
        bits += [self.skills.add("region", code) for code in profile.regions]
        bits += [self.skills.add("policy", code) for code in profile.policy_areas]
        bits += [self.skills.add("clearance", code) for code in profile.clearance]
        self._widen(self.skills.words, len(self.languages) + len(profile.languages))
        self.held_bits[slot] = join(bits)
        self.held[slot] = split([self.held_bits[slot]], self.held.shape[1])[0]
        self.proficiency[slot] = UNSPOKEN_PROFICIENCY
        for code, level in profile.languages.items():
            column = self.languages.setdefault(code, len(self.languages))
            self.proficiency[slot, column] = level
        self.group[slot] = self.groups.setdefault((profile.vendor, profile.site), len(self.groups))
        available = self.available[slot] = profile.status is ModeratorStatus.AVAILABLE
        self.open_bits[slot] = self.held_bits[slot] if available else None
        return slot

    def drop(self, moderator_id: str) -> int:
        slot = self.slot_of(moderator_id)
        del self.slots[moderator_id]
        self.profiles[slot] = None
        self.held[slot] = 0
        self.held_bits[slot] = 0
        self.proficiency[slot] = UNSPOKEN_PROFICIENCY
        self.group[slot] = 0
        self.available[slot] = False
        self.open_bits[slot] = None
        self._free.append(slot)
        return slot

    def slot_of(self, moderator_id: str) -> int:
        slot = self.slots.get(moderator_id)
        if slot is None:
            raise NotFound(f"unknown moderator {moderator_id!r}", field="moderator_id")
        return slot

    def profile(self, moderator_id: str) -> ModeratorProfile:
        profile = self.profiles[self.slot_of(moderator_id)]
        assert profile is not None
        return profile

    def slots_for(self, moderator_ids: Sequence[str]) -> NDArray[np.intp]:
        """The slots of distinct, known moderators; a batch asks for hundreds every tick, so the lookups are dict
        reads mapped in C and the distinctness test a set of ints, with `slot_of` only to name the first unknown one."""
        try:
            slots = list(map(self.slots.__getitem__, moderator_ids))
        except KeyError:
            for moderator_id in moderator_ids:
                self.slot_of(moderator_id)
            raise
        if len(set(slots)) != len(slots):
            raise InvalidInput("moderator ids must be distinct", field="moderator_ids")
        return np.array(slots, dtype=np.intp)

    def _new_slot(self) -> int:
        slot = len(self.profiles)
        self.profiles.append(None)
        self.held_bits.append(0)
        self.open_bits.append(None)
        if slot >= self.held.shape[0]:
            size = max(16, 2 * self.held.shape[0])
            self.held = grown(self.held, size)
            self.proficiency = grown(self.proficiency, size)
            self.group = grown(self.group, size)
            self.available = grown(self.available, size)
        return slot

    def _widen(self, words: int, languages: int) -> None:
        if words > self.held.shape[1]:
            self.held = np.hstack([self.held, np.zeros((self.held.shape[0], words - self.held.shape[1]), np.uint64)])
        if languages >= self.proficiency.shape[1]:
            extra = max(languages + 1, 2 * self.proficiency.shape[1]) - self.proficiency.shape[1]
            unspoken = np.full((self.proficiency.shape[0], extra), UNSPOKEN_PROFICIENCY)
            self.proficiency = np.hstack([self.proficiency, unspoken])
