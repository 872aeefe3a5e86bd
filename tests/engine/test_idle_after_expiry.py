"""A moderator whose lease expired is idle for pushed work until they show they are present, on every store.

Found by a reviewer probing the service: an absent moderator stayed free with a slot, so every batch leased them
another task, which waited out its lease in turn (24 leases in 4 hours where 1 was due).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from tests.conftest import StoreFactory
from tests.engine.conftest import EngineFactory, profile, video

from queueopt.clock import VirtualClock
from queueopt.domain import Decision, Item, ModeratorStatus, Verdict
from queueopt.engine import Engine
from queueopt.errors import StaleLease
from queueopt.store import AuditEntry, Changes

VIOLATING = Decision(verdict=Verdict.VIOLATING, policy="hate")


def hate(item_id: str) -> Item:
    """Not severe: a moderator may hold several at once."""
    return video(item_id, signals={"hate": 0.8})


def test_an_absent_moderator_is_pushed_one_lease_not_one_per_expiry(engine: Engine, clock: VirtualClock) -> None:
    """Work arrives every 10 s for 4 hours and a batch runs each time; the present moderator decides at once."""
    engine.upsert_moderator(profile("absent"))
    engine.upsert_moderator(profile("present"))
    leases: Counter[str] = Counter()
    for step in range(4 * 360):
        engine.submit([hate(f"i{step}")])
        leases.update(lease.moderator_id for lease in engine.assign_batch())
        for task_id in engine.moderator("present").leases:
            token = engine.task(task_id).lease_token
            assert token is not None
            engine.decide(task_id, token, "present", VIOLATING)
        clock.advance(10.0)
    assert leases["absent"] == 1
    assert engine.stats.expired == 1
    assert engine.moderator("absent").idle_after_expiry
    assert not engine.moderator("present").idle_after_expiry


def _idle_with_a_lease_left(engine: Engine, clock: VirtualClock) -> tuple[str, str, str]:
    """`m` holds two leases; the second is extended, the first expires: `m` is idle, with a free slot and work
    waiting, and still holds the second. Returns the expired lease's task and token, and the held task."""
    engine.upsert_moderator(profile("m", capacity=2))
    engine.submit([hate("a"), hate("b"), hate("c"), hate("d")])
    first, second = engine.assign_batch()
    clock.advance(engine.config.lease_s - 100)
    engine.extend(second.task_id, second.lease_token, "m", 3600.0)
    clock.advance(200)
    assert engine.expire() == 1
    assert engine.moderator("m").idle_after_expiry
    assert engine.moderator("m").leases == [second.task_id]
    assert engine.assign_batch() == []
    clock.advance(engine.config.lease_s)  # longer than a lease: still nothing pushed to them
    assert engine.assign_batch() == []
    return first.task_id, first.lease_token, second.task_id


def _token(engine: Engine, task_id: str) -> str:
    token = engine.task(task_id).lease_token
    assert token is not None
    return token


def _refused_decision(engine: Engine, expired: tuple[str, str], held: str) -> None:
    with pytest.raises(StaleLease):
        engine.decide(*expired, "m", VIOLATING)


ACTIONS: dict[str, Callable[[Engine, tuple[str, str], str], object]] = {
    "next": lambda engine, expired, held: engine.next_for("m"),
    "decide": lambda engine, expired, held: engine.decide(held, _token(engine, held), "m", VIOLATING),
    "release": lambda engine, expired, held: engine.release(held, _token(engine, held), "m"),
    "skip": lambda engine, expired, held: engine.skip(held, _token(engine, held), "m", "not mine"),
    "extend": lambda engine, expired, held: engine.extend(held, _token(engine, held), "m", 60.0),
    "a refused decision": _refused_decision,
    "status": lambda engine, expired, held: engine.set_status("m", ModeratorStatus.AVAILABLE, by_admin=False),
    "admin status": lambda engine, expired, held: engine.set_status("m", ModeratorStatus.AVAILABLE, "admin"),
}


@pytest.mark.parametrize("action", ACTIONS)
def test_any_action_of_the_moderator_brings_them_back(engine: Engine, clock: VirtualClock, action: str) -> None:
    expired_task, expired_token, held = _idle_with_a_lease_left(engine, clock)
    ACTIONS[action](engine, (expired_task, expired_token), held)
    assert not engine.moderator("m").idle_after_expiry
    assert engine.assign_batch() != []
    (present,) = [entry for entry in engine.audit() if entry.transition == "present"]
    assert present.note == "m: back after a lease of theirs expired"
    assert present.actor == ("admin" if action == "admin status" else "moderator:m")


def test_an_expiry_during_the_moderators_own_action_leaves_them_present(engine: Engine, clock: VirtualClock) -> None:
    """The late decision finds the lease expired and expires it: they are here, so not idle."""
    engine.upsert_moderator(profile("m"))
    engine.submit([hate("a"), hate("b")])
    (lease,) = engine.assign_batch()
    clock.advance(engine.config.lease_s + 1)
    with pytest.raises(StaleLease):
        engine.decide(lease.task_id, lease.lease_token, "m", VIOLATING)
    assert not engine.moderator("m").idle_after_expiry
    assert len(engine.assign_batch()) == 1


def test_an_admin_may_still_assign_to_an_idle_moderator(engine: Engine, clock: VirtualClock) -> None:
    """Only pushed batches skip them: an admin's assignment is a person's choice, and leaves them idle."""
    _idle_with_a_lease_left(engine, clock)
    engine.assign_to("c", "m")
    assert engine.moderator("m").idle_after_expiry


def test_idle_after_expiry_survives_a_restart(engine_factory: EngineFactory, clock: VirtualClock) -> None:
    first = engine_factory()
    first.upsert_moderator(profile("m"))
    first.upsert_moderator(profile("other"))
    first.submit([hate("a"), hate("b")])
    assert len(first.assign_batch()) == 2
    (held,) = first.moderator("other").leases
    first.decide(held, _token(first, held), "other", VIOLATING)
    clock.advance(first.config.lease_s + 1)
    assert first.expire() == 1
    restarted = engine_factory()
    assert restarted.moderator("m").idle_after_expiry
    assert not restarted.moderator("other").idle_after_expiry
    restarted.submit([hate("c"), hate("d")])
    assert [lease.moderator_id for lease in restarted.assign_batch()] == ["other"]
    assert restarted.next_for("m") is not None
    again = engine_factory()
    assert not again.moderator("m").idle_after_expiry


def test_a_lease_that_ran_out_while_the_engine_was_down_leaves_its_holder_idle(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    first = engine_factory()
    first.upsert_moderator(profile("m"))
    first.submit([hate("a"), hate("b")])
    assert len(first.assign_batch()) == 1
    clock.advance(first.config.lease_s + 1)
    restarted = engine_factory()
    assert restarted.moderator("m").idle_after_expiry
    assert restarted.assign_batch() == []


def test_a_restart_reads_an_own_action_after_an_expiry_as_presence(
    engine_factory: EngineFactory, store_factory: StoreFactory, clock: VirtualClock
) -> None:
    """An audit written before `present` entries were: the moderator's own entry after the expiry brings them back,
    as does a `present` entry an admin wrote; an expiry with neither after it leaves its holder idle."""
    engine = engine_factory()
    for moderator_id in ("m1", "m2", "m3"):
        engine.upsert_moderator(profile(moderator_id))
    now = clock.now()
    store_factory().apply(
        Changes(
            audit=[
                *(AuditEntry(now, "t", "t", "sweeper", "expired", f"lease of {m}") for m in ("m1", "m2", "m3")),
                AuditEntry(now, "t", "t", "moderator:m1", "decided", "{}"),
                AuditEntry(now, None, None, "admin", "present", "m2: back after a lease of theirs expired"),
            ]
        )
    )
    restarted = engine_factory()
    assert [restarted.moderator(m).idle_after_expiry for m in ("m1", "m2", "m3")] == [False, False, True]
