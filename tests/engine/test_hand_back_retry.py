"""A release or skip sent again (a review tool retrying after a timeout) is answered as the first time, on every
store and after a restart, as a retried decision is (tests/engine/test_decision_retry.py).

Before schema version 12 the retry got a 409 (the lease token was dead), so a tool whose first answer was lost could
not tell whether its release or skip had happened.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.engine.conftest import EngineFactory, assert_never_leased_twice, profile, video

from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.engine import Engine
from queueopt.errors import StaleLease
from queueopt.store import MemoryStore


def _leased(engine: Engine, moderator_id: str = "m1") -> str:
    """`m1` and `m2` on the roster, `a` submitted and leased to `moderator_id`; returns the lease token."""
    engine.upsert_moderator(profile("m1"))
    engine.upsert_moderator(profile("m2"))
    engine.submit([video("a")])
    lease = engine.next_for(moderator_id)
    assert lease is not None and lease.id == "a" and lease.lease_token is not None
    return lease.lease_token


def _skips(engine: Engine) -> Counter[str]:
    return Counter(entry.transition for entry in engine.audit())


@pytest.mark.parametrize("action", ["release", "skip"])
def test_the_same_hand_back_again_is_answered_as_the_first_time_and_changes_nothing(
    engine: Engine, action: str
) -> None:
    token = _leased(engine)

    def hand_back() -> object:
        if action == "release":
            return engine.release("a", token, "m1")
        return engine.skip("a", token, "m1", "wrong language")

    first = hand_back()
    audit, stats, stored = engine.audit(), replace(engine.stats), engine._store.task("a")
    again = hand_back()
    assert again == first
    assert engine.audit() == audit and engine.stats == stats and engine._store.task("a") == stored


def test_a_retry_after_someone_else_took_the_task_shows_it_as_handed_back_never_their_lease(engine: Engine) -> None:
    token = _leased(engine)
    first = engine.skip("a", token, "m1", "wrong language")
    assert first.holder is None and first.lease_token is None
    taken = engine.next_for("m2")
    assert taken is not None and taken.id == "a" and taken.holder == "m2"
    again = engine.skip("a", token, "m1", "wrong language")
    assert again == first and again.holder is None and again.lease_token is None and again.lease_expires_at is None
    # m2's own hand-back is kept beside m1's: each lease keeps its own.
    assert taken.lease_token is not None
    released = engine.release("a", taken.lease_token, "m2")
    assert engine.skip("a", token, "m1", "wrong language") == first
    assert engine.release("a", taken.lease_token, "m2") == released
    assert _skips(engine)["skipped"] == 1 and _skips(engine)["released"] == 1


def test_another_hand_back_under_the_same_lease_is_refused_naming_the_one_recorded(engine: Engine) -> None:
    token = _leased(engine)
    engine.skip("a", token, "m1", "wrong language")
    recorded = (
        "you already skipped task 'a' under this lease, otherwise: the hand-back recorded is "
        '{"transition":"skipped","reason":"wrong language"}'
    )
    for other in (lambda: engine.release("a", token, "m1"), lambda: engine.skip("a", token, "m1", "graphic")):
        with pytest.raises(StaleLease) as refused:
            other()
        assert (refused.value.field, refused.value.message) == ("lease_token", recorded)
    assert _skips(engine)["skipped"] == 1 and "released" not in _skips(engine)


def test_a_release_retried_as_a_skip_is_refused_naming_the_release(engine: Engine) -> None:
    token = _leased(engine)
    engine.release("a", token, "m1")
    with pytest.raises(StaleLease) as refused:
        engine.skip("a", token, "m1", "graphic")
    assert refused.value.message == (
        "you already released task 'a' under this lease, otherwise: the hand-back recorded is "
        '{"transition":"released"}'
    )
    stored = engine._store.task("a")
    assert stored is not None and stored.skipped_by == frozenset() and _skips(engine)["skipped"] == 0


def test_anyone_else_gets_the_answer_any_task_not_theirs_gets_and_the_store_is_read_each_time(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another moderator with the very token, the holder with another token, a lease that expired (handed back by
    no one), a waiting task and one that does not exist: one answer, and one read of what was handed back each."""
    token = _leased(engine)
    engine.release("a", token, "m1")
    engine.submit([video("b")])
    store = engine._store
    reads: list[tuple[str, str]] = []
    read = store.handed_back

    def counted(task_id: str, lease_token: str, holder: str) -> object:
        reads.append((task_id, lease_token))
        return read(task_id, lease_token, holder)

    monkeypatch.setattr(store, "handed_back", counted)
    asked = (("a", token, "m2"), ("a", "a.2", "m1"), ("b", "b.1", "m1"), ("zzz", "zzz.1", "m1"))
    answers = set()
    for task_id, lease_token, moderator_id in asked:
        for reason in (None, "x"):
            with pytest.raises(StaleLease) as refused:
                if reason is None:
                    engine.release(task_id, lease_token, moderator_id)
                else:
                    engine.skip(task_id, lease_token, moderator_id, reason)
            answers.add((refused.value.field, refused.value.message.replace(f"'{task_id}'", "?")))
    assert len(answers) == 1
    assert reads == [(task_id, lease_token) for task_id, lease_token, _ in asked for _ in range(2)]


def test_a_lease_handed_back_by_anyone_but_its_holder_is_not_theirs_to_retry(
    engine: Engine, clock: VirtualClock
) -> None:
    """An expiry, or going offline, hands the lease back for the holder: their release afterwards did not happen, and
    is refused as before."""
    token = _leased(engine)
    clock.advance(10_000.0)
    engine.expire()
    with pytest.raises(StaleLease):
        engine.release("a", token, "m1")


def test_a_retry_is_answered_after_a_restart(engine_factory: EngineFactory) -> None:
    first = engine_factory()
    token = _leased(first)
    answered = first.skip("a", token, "m1", "wrong language")
    restarted = engine_factory()
    assert restarted.skip("a", token, "m1", "wrong language") == answered
    assert [entry.transition for entry in restarted.audit()].count("skipped") == 1


def test_an_extension_sent_again_keeps_the_lease_until_seconds_from_the_retry(
    engine: Engine, clock: VirtualClock
) -> None:
    """`/extend` needs no record to be retried: it asks for the lease to last `seconds` from now, under the same token,
    so its retry asks for no more than a few seconds on top of what the first one gave."""
    token = _leased(engine)
    first = engine.extend("a", token, "m1", 600.0)
    clock.advance(5.0)
    again = engine.extend("a", token, "m1", 600.0)
    assert again.lease_token == first.lease_token == token and again.holder == "m1"
    assert again.lease_expires_at == clock.now() + 600.0
    assert first.lease_expires_at is not None and again.lease_expires_at - first.lease_expires_at == 5.0


_STEP = st.tuples(
    st.sampled_from(["m1", "m2"]),
    st.sampled_from(["next", "release", "skip a", "skip b", "retry"]),
    st.integers(min_value=0, max_value=5),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_STEP, max_size=25))
def test_no_interleaving_of_retries_applies_a_hand_back_twice(
    steps: list[tuple[str, str, int]], example_config: OpsConfig
) -> None:
    """Pulls, releases, skips and retries of any earlier hand-back, by either moderator, in any order: every hand-back
    is audited once, a retry of one is answered as it was whatever happened since, and the task is never leased
    twice at once."""
    engine = Engine(MemoryStore(), VirtualClock(1000.0), example_config)
    for moderator_id in ("m1", "m2", "m3"):
        engine.upsert_moderator(profile(moderator_id))
    engine.submit([video("a")])
    answered: list[tuple[str, str, str, object]] = []  # (moderator, token, what, first answer)
    held: dict[str, str] = {}
    for moderator_id, action, pick in steps:
        if action == "next":
            lease = engine.next_for(moderator_id)
            if lease is not None and lease.lease_token is not None:
                held[moderator_id] = lease.lease_token
        elif action == "retry" and answered:
            who, token, what, first = answered[pick % len(answered)]
            again = engine.release("a", token, who) if what == "release" else engine.skip("a", token, who, what)
            assert again == first
        elif action != "retry" and moderator_id in held:
            token = held.pop(moderator_id)
            what = "release" if action == "release" else action.removeprefix("skip ")
            view = (
                engine.release("a", token, moderator_id)
                if what == "release"
                else engine.skip("a", token, moderator_id, what)
            )
            answered.append((moderator_id, token, what, view))
    assert_never_leased_twice(engine.audit())
    transitions = _skips(engine)
    assert transitions["released"] + transitions["skipped"] == len(answered)
    assert transitions["leased"] - len(answered) in (0, 1)
