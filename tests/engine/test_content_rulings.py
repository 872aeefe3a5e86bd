"""A re-upload carries its content's current decision: an appeal or escalation decided since the copy it is compared
with was decided overrules that copy's decision for every later copy (the content's ruling); one upholding a violation
under no policy of its own reaches them as the violation it reaffirms, decided last before it; an appeal under review
changes nothing until decided. On every store, across restarts."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import pytest
from tests.engine.conftest import EngineFactory, profile, video

from queueopt.clock import VirtualClock
from queueopt.domain import Decision, Item, ItemStatus, TaskState, Verdict
from queueopt.engine import Engine
from queueopt.errors import NotFound
from queueopt.store.retention import DAY_S, purge_all

_REMOVED = Decision(verdict=Verdict.VIOLATING, policy="hate", action="remove")
_APPROVED = Decision(verdict=Verdict.NOT_VIOLATING)
_RESTORED = Decision(verdict=Verdict.NOT_VIOLATING, action="restore")
_REPORTED = Decision(verdict=Verdict.VIOLATING, policy="child_safety", action="report_ncmec")
_UPHELD = Decision(verdict=Verdict.VIOLATING, action="uphold")


def _text(item_id: str, **changes: Any) -> Item:
    """Hateful text of one content, reviewed in `text_high_en` (an appeal of it in `appeals`)."""
    fields: dict[str, Any] = {"modality": "text", "signals": {"hate": 0.8}, "content_hash": "h"}
    return video(item_id, **(fields | changes))


def _decide(engine: Engine, task_id: str, moderator_id: str, decision: Decision) -> None:
    lease = engine.assign_to(task_id, moderator_id)
    assert lease.lease_token is not None
    engine.decide(task_id, lease.lease_token, moderator_id, decision)


def _reviewed(engine: Engine, clock: VirtualClock, item: Item, moderator_id: str, decision: Decision) -> None:
    """One step of a content's history: the item submitted, decided by `moderator_id`, and a minute passing, so that
    each decision of the story is made after the one before it."""
    engine.submit([item])
    _decide(engine, item.id, moderator_id, decision)
    clock.advance(60.0)


def _reported(engine_factory: EngineFactory, clock: VirtualClock) -> Engine:
    """Content removed as hate by `first`, then an escalation finding child-abuse material, reported by `second`;
    four moderators cleared for both areas and harassment."""
    engine = engine_factory()
    for moderator_id in ("first", "second", "third", "fourth"):
        areas = ["hate", "child_safety", "harassment"]
        engine.upsert_moderator(profile(moderator_id, clearance=["csam"], policy_areas=areas))
    _reviewed(engine, clock, _text("original"), "first", _REMOVED)
    escalation = _text("escalation", source="escalation", signals={"hate": 0.8, "child_safety": 0.9})
    _reviewed(engine, clock, escalation, "second", _REPORTED)
    return engine


def _staffed(engine_factory: EngineFactory) -> Engine:
    engine = engine_factory()
    for moderator_id in ("first", "second", "third"):
        engine.upsert_moderator(profile(moderator_id))
    return engine


@pytest.mark.parametrize(
    ("source", "first", "ruling"), [("escalation", _APPROVED, _REMOVED), ("appeal", _REMOVED, _RESTORED)]
)
def test_a_copy_carries_the_decision_an_appeal_or_escalation_made_since_the_first(
    engine_factory: EngineFactory, clock: VirtualClock, source: str, first: Decision, ruling: Decision
) -> None:
    """Found by a probe: an escalation removed content a first review had approved, and the next re-upload was
    approved with the first review's verdict; likewise content restored on appeal was removed again when re-uploaded.
    The copy names the appeal or escalation whose decision it carries, and the earlier items keep their own."""
    engine = _staffed(engine_factory)
    _reviewed(engine, clock, _text("original"), "first", first)
    _reviewed(engine, clock, _text("questioned", source=source), "second", ruling)
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id)])
        assert (copy.status, copy.duplicate_of, copy.task_id) == (ItemStatus.DUPLICATE, "questioned", "questioned")
        view = now_serving.item(copy_id)
        assert (view.decision, view.decided_by) == (ruling, "second")
        assert "same content as item 'questioned' (an appeal or escalation of it), already decided" in (
            view.explanation or ""
        )
    assert engine.item("original").decision == first


def test_a_copy_carries_the_decision_in_force_while_an_appeal_waits_and_an_upheld_one_changes_nothing(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """Found by a review: a copy rode on the open appeal, so a re-upload of removed content stayed up for as long as
    the appeal waited (the appeals queue's SLA is a day), even one scored past auto-removal; and an appeal upholding
    the removal made later copies carry the appeal's `uphold`, not the removal's policy and action. A copy takes the
    decision in force at once, and after an appeal upholds the removal, the removal's own decision."""
    engine = _staffed(engine_factory)
    engine.submit([_text("original")])
    _decide(engine, "original", "first", _REMOVED)
    engine.submit([_text("appeal", source="appeal")])
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id, views_per_hour=1000.0)])
        assert (copy.status, copy.duplicate_of) == (ItemStatus.DUPLICATE, "original")
        assert now_serving.item(copy_id).decision == _REMOVED
    clock.advance(60.0)
    _decide(engine, "appeal", "second", _UPHELD)
    (upheld,) = engine_factory().submit([_text("after-uphold")])
    assert (upheld.duplicate_of, engine.item("after-uphold").decision) == ("original", _REMOVED)
    engine.submit([_text("second-appeal", source="appeal")])
    clock.advance(60.0)
    _decide(engine, "second-appeal", "third", _RESTORED)
    (restored,) = engine_factory().submit([_text("after-restore")])
    assert (restored.duplicate_of, engine.item("after-restore").decision) == ("second-appeal", _RESTORED)


def test_a_review_decided_after_the_ruling_is_what_later_copies_carry(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """The content's latest decision stands: a copy reviewed on its own after an escalation (it asked a
    certification the escalation's review did not) decides the content again, so later copies ride on it while it
    waits and carry its decision once made, not the escalation's."""
    engine = _staffed(engine_factory)
    _reviewed(engine, clock, _text("original"), "first", _APPROVED)
    _reviewed(engine, clock, _text("escalation", source="escalation"), "second", _REMOVED)
    harassment = {"signals": {"harassment": 0.9}}
    (own,) = engine.submit([_text("own", **harassment)])
    assert own.status is ItemStatus.QUEUED
    (waiting,) = engine.submit([_text("waiting", **harassment)])
    assert (waiting.duplicate_of, waiting.task_id) == ("own", "own")
    clock.advance(60.0)
    _decide(engine, "own", "third", _APPROVED)
    (copy,) = engine_factory().submit([_text("copy", **harassment)])
    assert (copy.duplicate_of, copy.task_id) == ("own", "own")
    assert (engine.item("copy").decision, engine.item("copy").decided_by) == (_APPROVED, "third")


def test_a_copy_reviewed_on_its_own_after_an_appeal_was_filed_is_what_later_copies_ride_on(
    engine_factory: EngineFactory,
) -> None:
    """An appeal is ridden on only while it is the content's latest handling: a copy reviewed on its own since (it
    asked a certification the appeal's review did not) is, and later copies like it ride on that review rather than
    each being found not covered by the appeal's and reviewed again."""
    engine = _staffed(engine_factory)
    engine.submit([_text("original")])
    _decide(engine, "original", "first", _REMOVED)
    engine.submit([_text("appeal", source="appeal")])
    harassment = {"signals": {"harassment": 0.9}}
    (own,) = engine.submit([_text("own", **harassment)])
    assert own.status is ItemStatus.QUEUED
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id, **harassment)])
        assert (copy.status, copy.duplicate_of, copy.task_id) == (ItemStatus.DUPLICATE, "own", "own")


def test_an_escalation_that_finds_another_violation_reaches_every_later_copy(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """Found by a review: a ruling reached copies only when it flipped the verdict, so an escalation that found
    child-abuse material in content removed as hate left every re-upload with the hate removal, not the report."""
    engine = _reported(engine_factory, clock)
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id)])
        assert (copy.duplicate_of, now_serving.item(copy_id).decision) == ("escalation", _REPORTED)


def test_an_upheld_appeal_leaves_copies_with_the_enforcement_in_force_and_reverses_an_approval_between(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """Found by two reviews: an appeal's `uphold` (a violation under no policy) reached later copies as it was made,
    so an escalation's child-abuse report was replaced by `uphold` on every re-upload. An uphold reaffirms the
    content's enforcement: copies carry the violation decided last before it, its policy and action with it."""
    engine = _reported(engine_factory, clock)
    _reviewed(engine, clock, _text("appeal", source="appeal"), "third", _UPHELD)
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id)])
        assert (copy.duplicate_of, now_serving.item(copy_id).decision) == ("escalation", _REPORTED)


def test_an_uphold_after_an_approval_between_reaches_later_copies_as_the_removal_it_upheld(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """Found by a review: after a copy reviewed on its own was approved while the appeal of the removal waited, the
    appeal's `uphold` reached later copies as a violation under no policy, without the removal's policy and action.
    The uphold overturns the approval between, and copies carry the removal it upheld, as made."""
    engine = _staffed(engine_factory)
    engine.submit([_text("original")])
    _decide(engine, "original", "first", _REMOVED)
    engine.submit([_text("appeal", source="appeal")])
    (own,) = engine.submit([_text("own", signals={"harassment": 0.9})])
    assert own.status is ItemStatus.QUEUED
    clock.advance(60.0)
    _decide(engine, "own", "third", _APPROVED)
    clock.advance(60.0)
    _decide(engine, "appeal", "second", _UPHELD)
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id)])
        assert (copy.duplicate_of, copy.task_id) == ("original", "original")
        view = now_serving.item(copy_id)
        assert (view.decision, view.decided_by) == (_REMOVED, "first")


def test_a_withdrawn_copys_review_decided_for_a_copy_riding_on_it_is_the_contents_latest_decision(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """Found by a review: a copy reviewed on its own was withdrawn while another rode on its review; the review found
    a violation, yet later re-uploads carried the approval made before it."""
    engine = _staffed(engine_factory)
    _reviewed(engine, clock, _text("original"), "first", _APPROVED)
    harassment = {"signals": {"harassment": 0.9}}
    engine.submit([_text("own", **harassment)])
    (riding,) = engine.submit([_text("riding", **harassment)])
    assert riding.task_id == "own"
    engine.cancel("own")
    clock.advance(60.0)
    removed = Decision(verdict=Verdict.VIOLATING, policy="harassment", action="remove")
    _decide(engine, "own", "second", removed)
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id, **harassment)])
        assert (copy.duplicate_of, now_serving.item(copy_id).decision) == ("riding", removed)


def test_an_uphold_while_a_copy_reviewed_on_its_own_waits_keeps_the_escalations_report(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """Found by a review: the uphold was judged against the pending copy (no verdict yet), so it became the ruling
    over the escalation's report, and once that copy was withdrawn every re-upload carried `uphold`."""
    engine = _reported(engine_factory, clock)
    (own,) = engine.submit([_text("own", signals={"harassment": 0.9})])
    assert own.status is ItemStatus.QUEUED
    engine.submit([_text("appeal", source="appeal")])
    clock.advance(60.0)
    _decide(engine, "appeal", "third", _UPHELD)
    engine.cancel("own")
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id)])
        assert (copy.duplicate_of, now_serving.item(copy_id).decision) == ("escalation", _REPORTED)


def test_a_purged_content_submitted_again_is_not_judged_by_what_was_read_of_it_before(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """Found by a review: the decision read through a withdrawn copy's review was kept across a purge, so the same
    ids submitted again carried the purged removal though their own review approved."""
    engine = _staffed(engine_factory)
    harassment = {"signals": {"harassment": 0.9}}
    removed = Decision(verdict=Verdict.VIOLATING, policy="harassment", action="remove")
    for decision in (removed, _APPROVED):
        _reviewed(engine, clock, _text("original"), "first", _APPROVED)
        engine.submit([_text("own", **harassment), _text("riding", **harassment)])
        engine.cancel("own")
        clock.advance(60.0)
        _decide(engine, "own", "second", decision)
        engine.submit([_text("copy", **harassment)])
        assert engine.item("copy").decision == decision
        for sampled in ("original~qa", "own~qa"):  # a QA review left open would keep the content from the purge
            with suppress(NotFound):
                if engine.task(sampled).state is TaskState.QUEUED:
                    _decide(engine, sampled, "third", _APPROVED)
        clock.advance(400 * DAY_S)
        assert purge_all(lambda after: engine.purge(clock.now() - DAY_S, after, 1000)).items == 4


def test_a_copy_carrying_a_withdrawn_copys_review_keeps_its_content_from_a_purge_until_it_too_is_old(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """Found by a hand-run mutation review: a copy carrying the decision a withdrawn copy's review made for the copy
    riding on it names that rider as its own, and a rider is in no content history, so a purge never weighed it.
    Submitted after the cutoff, it was left behind, its content half forgotten: it named a review and an item that
    were gone, and the review's id could be submitted again, whose decision a SQL store then listed it under."""
    engine = _staffed(engine_factory)
    harassment = {"signals": {"harassment": 0.9}}
    removed = Decision(verdict=Verdict.VIOLATING, policy="harassment", action="remove")
    engine.submit([_text("own", **harassment), _text("riding", **harassment)])
    engine.cancel("own")
    _decide(engine, "own", "first", removed)
    with suppress(NotFound):  # a QA review left open would keep the content from the purge whatever the copy
        if engine.task("own~qa").state is TaskState.QUEUED:
            _decide(engine, "own~qa", "second", _APPROVED)
    clock.advance(2 * DAY_S)
    cutoff = clock.now() - DAY_S
    (copy,) = engine.submit([_text("copy", **harassment)])
    assert (copy.duplicate_of, copy.task_id, engine.item("copy").decision) == ("riding", "own", removed)
    assert purge_all(lambda after: engine.purge(cutoff, after, 1000)).items == 0
    assert engine.item("own").status is ItemStatus.CANCELLED and engine.item("riding").decision == removed
    clock.advance(2 * DAY_S)
    assert purge_all(lambda after: engine.purge(clock.now() - DAY_S, after, 1000)).items == 3
    with pytest.raises(NotFound, match="purged after the retention period"):
        engine.item("copy")


@pytest.mark.parametrize(("first", "carried_by"), [(_REMOVED, "original"), (_APPROVED, "second-appeal")])
def test_an_uphold_after_a_restore_brings_back_the_removal_or_stands_as_made_without_one(
    engine_factory: EngineFactory, clock: VirtualClock, first: Decision, carried_by: str
) -> None:
    """An uphold reversing a restore reaffirms the removal restored: copies carry it, its policy and action. Content
    that never had a violation found before (an approval, then an appeal restoring nothing removed) has nothing to
    reaffirm: copies carry the uphold as it was made, a violation rather than the approval."""
    engine = _staffed(engine_factory)
    _reviewed(engine, clock, _text("original"), "first", first)
    _reviewed(engine, clock, _text("appeal", source="appeal"), "second", _RESTORED)
    _reviewed(engine, clock, _text("second-appeal", source="appeal"), "third", _UPHELD)
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id)])
        assert copy.duplicate_of == carried_by
        assert now_serving.item(copy_id).decision == (_REMOVED if first is _REMOVED else _UPHELD)


def test_an_uphold_reaffirms_a_removal_a_withdrawn_copys_review_made_for_the_copy_riding_on_it(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """The violation an uphold reaffirms is the content's latest, a withdrawn copy's review's included: that review
    decided it for the copy riding on it (`ContentHistory._decided_through`), which later copies name."""
    engine = _staffed(engine_factory)
    engine.upsert_moderator(profile("fourth"))
    _reviewed(engine, clock, _text("original"), "first", _REMOVED)
    harassment = {"signals": {"harassment": 0.9}}
    engine.submit([_text("own", **harassment), _text("riding", **harassment)])
    engine.cancel("own")
    removed = Decision(verdict=Verdict.VIOLATING, policy="harassment", action="remove")
    _decide(engine, "own", "second", removed)
    clock.advance(60.0)
    (later,) = engine.submit([_text("later", signals={"harassment": 0.9, "violence": 0.9})])
    assert later.status is ItemStatus.QUEUED
    _decide(engine, "later", "third", _APPROVED)
    clock.advance(60.0)
    engine.submit([_text("appeal", source="appeal")])
    _decide(engine, "appeal", "fourth", _UPHELD)
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id, **harassment)])
        assert (copy.duplicate_of, now_serving.item(copy_id).decision) == ("riding", removed)


@pytest.mark.parametrize(
    ("appeal_decision", "carried"),
    [(_RESTORED, ("appeal", _RESTORED)), (_UPHELD, ("original", _REMOVED))],
    ids=["restored", "upheld"],
)
def test_an_appeal_decided_in_the_same_instant_as_the_decision_it_questions_reaches_later_copies(
    engine_factory: EngineFactory, appeal_decision: Decision, carried: tuple[str, Decision]
) -> None:
    """Two moderators at work in one clock tick: the appeal's decision and the one it questions share an instant.
    A ruling stands over the decision it overturns when decided at or after it (found by a hand-run mutation review:
    one required to be strictly later left re-uploads of content restored on appeal removed again), and an uphold
    reaffirms the violation decided at or before it (read as strictly before it, the removal was missed, and copies
    carried `uphold`, a violation under no policy, with no removal)."""
    engine = _staffed(engine_factory)
    engine.submit([_text("original"), _text("appeal", source="appeal")])
    _decide(engine, "original", "first", _REMOVED)
    _decide(engine, "appeal", "second", appeal_decision)
    assert engine.item("appeal").decided_at == engine.item("original").decided_at
    (copy,) = engine.submit([_text("copy")])
    assert (copy.duplicate_of, engine.item("copy").decision) == carried


def test_a_copy_of_content_known_only_by_its_decided_appeal_carries_the_appeals_decision(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """Content whose history holds no copy handled on its own (its only copy withdrawn, or an appeal the first this
    store saw of it) is ruled by its appeal once decided: there is no copy for a ruling to be decided after (found by
    a hand-run mutation review: a ruling read as standing only over a copy left such a copy reviewed afresh)."""
    engine = _staffed(engine_factory)
    _reviewed(engine, clock, _text("appeal", source="appeal"), "first", _RESTORED)
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id)])
        assert (copy.status, copy.duplicate_of, copy.task_id) == (ItemStatus.DUPLICATE, "appeal", "appeal")
        assert now_serving.item(copy_id).decision == _RESTORED


def test_a_withdrawn_copys_review_read_while_open_is_read_again_once_decided(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """An uphold may read a withdrawn copy's review while a copy riding on it keeps it open: that review has decided
    nothing yet, and is not remembered as deciding nothing, so the removal it makes later is what a later uphold
    reaffirms (found by a hand-run mutation review: kept as undecided, the review's removal never reached a copy, and
    the next one was compared with the first review, of another policy)."""
    engine = _staffed(engine_factory)
    for moderator_id in ("fourth", "fifth"):
        engine.upsert_moderator(profile(moderator_id))
    _reviewed(engine, clock, _text("original"), "first", _REMOVED)
    harassment = {"signals": {"harassment": 0.9}}
    engine.submit([_text("own", **harassment), _text("riding", **harassment)])
    engine.cancel("own")
    (later,) = engine.submit([_text("later", signals={"harassment": 0.9, "violence": 0.9})])
    assert later.status is ItemStatus.QUEUED
    _decide(engine, "later", "third", _APPROVED)
    clock.advance(60.0)
    _reviewed(engine, clock, _text("appeal", source="appeal"), "second", _UPHELD)
    (during,) = engine.submit([_text("during")])  # reads the withdrawn copy's review, still open
    assert (during.duplicate_of, engine.item("during").decision) == ("original", _REMOVED)
    removed = Decision(verdict=Verdict.VIOLATING, policy="harassment", action="remove")
    _decide(engine, "own", "fourth", removed)
    clock.advance(60.0)
    _reviewed(engine, clock, _text("second-appeal", source="appeal"), "fifth", _UPHELD)
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id, **harassment)])
        assert (copy.duplicate_of, now_serving.item(copy_id).decision) == ("riding", removed)


def test_an_uphold_reaffirms_a_first_reviews_violation_that_named_no_policy(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """Only an appeal's or escalation's violation under no policy is an uphold, reaffirming the one before it: a first
    review finding a violation without naming a policy (which a queue allows) is the enforcement an uphold of it
    reaffirms, so copies carry its decision and name it (found by a hand-run mutation review: taken for an uphold
    itself, it was passed over, and copies carried the appeal's `uphold`)."""
    engine = _staffed(engine_factory)
    removed = Decision(verdict=Verdict.VIOLATING, action="remove")
    _reviewed(engine, clock, _text("original"), "first", removed)
    _reviewed(engine, clock, _text("appeal", source="appeal"), "second", _UPHELD)
    for now_serving, copy_id in ((engine, "copy"), (engine_factory(), "copy-after-restart")):
        (copy,) = now_serving.submit([_text(copy_id)])
        assert (copy.duplicate_of, now_serving.item(copy_id).decision) == ("original", removed)
