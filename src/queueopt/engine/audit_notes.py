"""What the engine's audit notes say of a lease: whose it was, whether it was severe, who is back after an expiry.

The engine writes these notes as leases are made, handed back and expire, and a restart reads them back
(`recovery.recall_recent`) to rebuild the wellbeing ledger and who is idle after an expiry. Both sides use this module,
so the way a note is written and the way it is read cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable

from queueopt.capability import Model
from queueopt.store.records import AuditEntry, moderator_actor

SEVERE_NOTE = ", severe"  # ends the audit note of a severe lease, or of one taken back as it turned severe
LEASED_TO = "to "  # how a lease's audit note names its holder
LEASE_OF = "lease of "  # how an expiry's or a hand-back's audit note names the holder
PRESENT = "present"  # the audit transition of a moderator idle after an expiry showing they are back
_BACK = ": back after a lease of theirs expired"  # ends a `present` entry's note, after the moderator's id
_MODERATOR_ACTOR = moderator_actor("")


def present_entry(now: float, moderator_id: str, actor: str) -> AuditEntry:
    """The entry showing a moderator idle after an expiry back (`shown_present` reads it), written by `actor`."""
    return AuditEntry(now, None, None, actor, PRESENT, f"{moderator_id}{_BACK}")


def severe_holder(leased: AuditEntry) -> str | None:
    """The holder a `leased` entry names if the lease was severe, else None."""
    if not leased.note.endswith(SEVERE_NOTE):
        return None
    return leased.note.removeprefix(LEASED_TO).removesuffix(SEVERE_NOTE)


def reviewer_of(ended: AuditEntry) -> str | None:
    """Whose review an audit entry ending one ended: the moderator acting on it, else the holder its note names (an
    expiry, or a lease the engine or an admin handed back); None for a hand-back written before notes named the
    holder. An id holds no space, so the holder ends at the first ": "."""
    if ended.actor.startswith(_MODERATOR_ACTOR):
        return ended.actor.removeprefix(_MODERATOR_ACTOR)
    if not ended.note.startswith(LEASE_OF):
        return None
    return ended.note.removeprefix(LEASE_OF).partition(": ")[0]


def shown_present(entry: AuditEntry) -> str | None:
    """The moderator an audit entry shows present: the one a `present` entry names (its actor may be an admin who
    set their status), else the moderator acting on their own work; None for an entry of anyone else."""
    if entry.transition == PRESENT:
        return entry.note.removesuffix(_BACK)
    if entry.actor.startswith(_MODERATOR_ACTOR):
        return entry.actor.removeprefix(_MODERATOR_ACTOR)
    return None


def charge_taken_back(model: Model, entries: Iterable[AuditEntry]) -> None:
    """Charge each lease `entries` show taken back because its task turned severe (`Widening.widened`: a `released`
    note ending in `, severe`) to its holder's wellbeing budget, with their cool-down from then: a restart reads the
    same entries back from the audit (`recovery.recall_recent`), so this is the one place such an exposure is counted.
    Found by a probe: a moderator with a budget of one an hour, two minutes into a photo that a copy showed to be
    child-abuse material, was handed it straight back as severe, their budget untouched and no cool-down run."""
    for entry in entries:
        if entry.transition == "released" and entry.note.endswith(SEVERE_NOTE):
            holder = reviewer_of(entry)
            if holder is not None:
                model.recall_severe(holder, entry.at)
