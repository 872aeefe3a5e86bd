"""A decision sent again (a review tool retrying after a timeout) is answered as the first time, on every store.

Found by a reviewer probing the service: the retry of a decision that had been recorded got a 409, so a tool whose
first answer was lost could not tell a recorded decision from a refused one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from tests.conftest import StoreFactory
from tests.engine.conftest import EngineFactory, profile, video

from queueopt.domain import Decision, ItemStatus, TaskState, Verdict
from queueopt.engine import Engine
from queueopt.errors import StaleLease
from queueopt.store import Changes, TaskWrite

VIOLATING = Decision(verdict=Verdict.VIOLATING, policy="violence", action="remove", notes="gore")


def _decided(engine: Engine) -> str:
    """`m1` decides `a` under its first lease, `b` waits, `m2` is on the roster; returns the lease token used."""
    engine.upsert_moderator(profile("m1"))
    engine.upsert_moderator(profile("m2"))
    engine.submit([video("a"), video("b")])
    lease = engine.next_for("m1")
    assert lease is not None and lease.id == "a" and lease.lease_token is not None
    engine.decide("a", lease.lease_token, "m1", VIOLATING)
    return lease.lease_token


def test_the_same_decision_again_is_answered_as_the_first_time_and_changes_nothing(engine: Engine) -> None:
    engine.upsert_moderator(profile("m1"))
    engine.submit([video("a")])
    lease = engine.next_for("m1")
    assert lease is not None and lease.lease_token is not None
    first = engine.decide("a", lease.lease_token, "m1", VIOLATING)
    audit, item, stats = engine.audit(), engine.item("a"), replace(engine.stats, decided=Counter(engine.stats.decided))
    again = engine.decide("a", lease.lease_token, "m1", VIOLATING)
    assert again == first and again.record == first.record and again.state is TaskState.DECIDED
    assert engine.audit() == audit and engine.item("a") == item and engine.stats == stats


def test_another_decision_under_the_same_lease_is_refused_naming_the_one_recorded(engine: Engine) -> None:
    token = _decided(engine)
    with pytest.raises(StaleLease) as refused:
        engine.decide("a", token, "m1", Decision(verdict=Verdict.NOT_VIOLATING))
    assert refused.value.field == "lease_token"
    assert refused.value.message == (
        "you already decided task 'a' under this lease, otherwise: the decision recorded is "
        '{"verdict":"violating","policy":"violence","action":"remove","notes":"gore"}'
    )
    assert engine.item("a").decision == VIOLATING


def test_anyone_else_gets_the_answer_any_task_not_theirs_gets_and_the_store_is_read_each_time(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another moderator with the very token, the decider with another token, a waiting task and one that does not
    exist: one answer, and one read of the stored task's decision each, so the time taken tells nothing either."""
    token = _decided(engine)
    store = engine._store
    reads: list[str] = []
    read = store.decided

    def counted(task_id: str) -> object:
        reads.append(task_id)
        return read(task_id)

    monkeypatch.setattr(store, "decided", counted)
    answers = set()
    for task_id, lease_token, moderator_id in (
        ("a", token, "m2"),
        ("a", "a.2", "m1"),
        ("b", "b.1", "m1"),
        ("zzz", "zzz.1", "m1"),
    ):
        with pytest.raises(StaleLease) as refused:
            engine.decide(task_id, lease_token, moderator_id, VIOLATING)
        answers.add((refused.value.field, refused.value.message.replace(f"'{task_id}'", "?")))
    assert len(answers) == 1
    assert reads == ["a", "a", "b", "zzz"]


def test_a_retry_is_answered_after_a_restart(engine_factory: EngineFactory) -> None:
    first = engine_factory()
    token = _decided(first)
    answered = first.decide("a", token, "m1", VIOLATING)
    assert engine_factory().decide("a", token, "m1", VIOLATING) == answered


def test_a_task_decided_before_its_decision_was_kept_cannot_be_retried(
    engine_factory: EngineFactory, store_factory: StoreFactory
) -> None:
    """Schema version 10 keeps the decision on the task; one decided earlier has none, so a retry is refused like
    any stale lease."""
    engine = engine_factory()
    token = _decided(engine)
    store = store_factory()
    decided = store.task("a")
    assert decided is not None and decided.decision is not None
    store.apply(Changes(tasks=[TaskWrite(replace(decided, decision=None), (TaskState.DECIDED, decided.attempt))]))
    with pytest.raises(StaleLease) as refused:
        engine_factory().decide("a", token, "m1", VIOLATING)
    assert refused.value.message.startswith("you hold no lease on task 'a'")
    assert engine.item("a").status is ItemStatus.DECIDED
