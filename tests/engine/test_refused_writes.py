"""What a refused store write leaves behind: nothing. Every engine operation writes first and changes its memory only
once the write is done (or puts it back), so a 503 (the store busy, or another engine serving it) is safe to retry
and is applied exactly once."""

from __future__ import annotations

import pytest
from tests.engine.conftest import profile, video
from tests.engine.test_lifecycle import VIOLATING, decided_for_qa

from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.domain import Decision, ModeratorStatus, TaskState, Verdict
from queueopt.engine import Engine
from queueopt.errors import NotFound, StoreUnavailable
from queueopt.store import Changes, MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def engine(store: MemoryStore, clock: VirtualClock, example_config: OpsConfig) -> Engine:
    return Engine(store, clock, example_config)


def refuse_writes(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write from now until `monkeypatch.undo()` is refused, as a busy or deposed store refuses it."""

    def busy(changes: Changes) -> None:
        raise StoreUnavailable("the store is busy; retry")

    monkeypatch.setattr(store, "apply", busy)


def test_a_profile_change_the_store_refuses_changes_nothing(
    engine: Engine, store: MemoryStore, clock: VirtualClock, example_config: OpsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a probe: a suspension answered 503 (the store busy) stayed in memory while the moderator kept their
    lease, and could not be undone by them; a new moderator refused the same way would have been kept too, ahead of
    everyone added after them in the order that breaks ties between free moderators."""
    engine.submit([video("v")])
    engine.upsert_moderator(profile("m1"))
    lease = engine.next_for("m1")
    assert lease is not None and lease.lease_token is not None
    refuse_writes(store, monkeypatch)
    with pytest.raises(StoreUnavailable):
        engine.set_status("m1", ModeratorStatus.SUSPENDED, "admin")
    with pytest.raises(StoreUnavailable):
        engine.upsert_moderator(profile("m1", policy_areas=["hate"]))
    with pytest.raises(StoreUnavailable):
        engine.upsert_moderator(profile("new"))
    monkeypatch.undo()
    kept = engine.moderator("m1")
    assert kept.profile.status is ModeratorStatus.AVAILABLE and kept.leases == ["v"]
    assert "violence" in kept.profile.policy_areas
    with pytest.raises(NotFound):
        engine.moderator("new")
    assert engine.decide("v", lease.lease_token, "m1", VIOLATING).state is TaskState.DECIDED
    assert Engine(store, clock, example_config).moderator("m1").profile.status is ModeratorStatus.AVAILABLE
    engine.set_status("m1", ModeratorStatus.OFFLINE)
    engine.upsert_moderator(profile("later"))
    engine.upsert_moderator(profile("new"))
    engine.submit([video("w")])
    assert [lease.moderator_id for lease in engine.assign_batch()] == ["later"]  # a tie goes to the first added


def test_a_qa_review_the_store_refuses_moves_no_estimate_and_counts_once_when_retried(
    engine: Engine, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a probe: a disagreeing QA review answered 503 still moved the first reviewer's accuracy, and the
    retry it was told to make moved it again; QA reviews were also counted among the verdicts decided."""
    decided_for_qa(engine)
    qa = engine.next_for("m2")
    assert qa is not None and qa.kind == "qa" and qa.lease_token is not None
    refuse_writes(store, monkeypatch)
    disagreeing = Decision(verdict=Verdict.NOT_VIOLATING)
    with pytest.raises(StoreUnavailable):
        engine.decide(qa.id, qa.lease_token, "m2", disagreeing)
    assert engine.moderator("m1").accuracy["child_safety"][1] == 0
    monkeypatch.undo()
    engine.decide(qa.id, qa.lease_token, "m2", disagreeing)
    assert engine.moderator("m1").accuracy["child_safety"][1] == 1
    assert dict(engine.stats.decided) == {"violating": 1}


def test_an_expiry_the_store_refuses_runs_at_the_next_call(
    engine: Engine, store: MemoryStore, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a probe: the expiries due were taken off the heap before the write, so a refused one left the lease
    held for good (offered back to its holder by `next_for`, refused when decided, nobody else given the task)
    until the engine restarted."""
    engine.submit([video("a")])
    engine.upsert_moderator(profile("m1"))
    engine.upsert_moderator(profile("m2"))
    lease = engine.next_for("m1")
    assert lease is not None and lease.lease_expires_at is not None
    clock.advance(lease.lease_expires_at - clock.now() + 1)
    refuse_writes(store, monkeypatch)
    with pytest.raises(StoreUnavailable):
        engine.expire()
    monkeypatch.undo()
    assert engine.expire() == 1 and engine.task("a").state is TaskState.QUEUED
    again = engine.next_for("m2")
    assert again is not None and again.id == "a"


def test_a_batch_the_store_refuses_counts_no_solve(
    engine: Engine, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a probe: a refused batch left its solver timing behind, so the histogram of solves no longer
    matched the batches counted."""
    engine.submit([video("a")])
    engine.upsert_moderator(profile("m1"))
    refuse_writes(store, monkeypatch)
    with pytest.raises(StoreUnavailable):
        engine.assign_batch()
    assert (engine.stats.batches, len(engine.stats.solver_seconds)) == (0, 0)
    monkeypatch.undo()
    assert len(engine.assign_batch()) == 1
    assert (engine.stats.batches, len(engine.stats.solver_seconds)) == (1, 1)
