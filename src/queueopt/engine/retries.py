"""How a moderator's retry of a decision, release or skip is told from anyone else's.

A review tool retries a request whose answer it lost. The engine keeps, with the ended task, what its moderator
recorded (the decision or hand-back as JSON) signed with their id, and compares a retry with it: the same record is
answered as the first time, another is refused naming the record (theirs), and anyone else's gets the one refusal of
any task not theirs, in the same steps, so it tells them nothing of anyone else's work.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from json.encoder import encode_basestring_ascii
from typing import Any

import orjson

from queueopt.errors import StaleLease


@lru_cache(maxsize=8192)
def signed_record(note: str, moderator_id: str) -> str:
    """A decision's JSON (`note`, already serialised for the audit; or a release's or skip's, `_give_back`) with the
    moderator's id as one more member, spliced in before the closing brace rather than dumping a second time (the
    id encoded by the very function `json.dumps` applies to a string, without its encoder's setup). Every decided
    item keeps one: a moderator sends the same few decisions all day, so the cache hands their items one shared
    string each instead of a new one per item (a simulated day's million decided items), and bounds what distinct
    ones (free-text notes) hold."""
    return f"{note[:-1]}{_signature(moderator_id)}"


def own_record(lease_token: str, moderator_id: str, token: str, signed: str, refused: StaleLease) -> dict[str, Any]:
    """What `moderator_id` recorded when they ended the lease of `lease_token` (a decision, a release, a skip), for
    their retry to be compared with: `signed` (by its maker: `signed_record`) as kept under `token` ("" and "" when
    nothing is kept). `refused`, the one answer of any task not theirs, for anyone else, another token, or nothing
    kept. The same steps whatever is found: the token and the signature are checked even for no record at all, so
    the time a refusal takes does not tell whether the task exists."""
    mine = (token == lease_token) & signed.endswith(_signature(moderator_id))
    if not mine:
        raise refused
    recorded: dict[str, Any] = orjson.loads(signed)
    del recorded["moderator_id"]
    return recorded


def ended_otherwise(task_id: str, ended: str, what: str, recorded: dict[str, Any]) -> StaleLease:
    """The refusal of a retry that is not what its sender recorded under that lease, naming the record: theirs, so it
    tells them nothing of anyone else's work."""
    return StaleLease(
        f"you already {ended} task {task_id!r} under this lease, otherwise: the {what} recorded is "
        f"{orjson.dumps(recorded).decode()}",
        field="lease_token",
    )


def signers(signed: Iterable[str]) -> set[str]:
    """The moderators who signed these records (`signed_record`); an automatic decision, signed by nobody, adds none."""
    return {moderator for record in signed if (moderator := orjson.loads(record).get("moderator_id"))}


def _signature(moderator_id: str) -> str:
    """How a signed record ends (`signed_record`): a refused decision, release or skip tells its maker's retry from
    anyone else's by it, without parsing the record, so the refusal takes as long for a task ended so as for any
    other."""
    return f',"moderator_id":{encode_basestring_ascii(moderator_id)}}}'
