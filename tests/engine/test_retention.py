"""The engine after a purge, on every store: settled work is gone (a clear 404), open work untouched, and content
purged is new content again."""

from __future__ import annotations

import pytest
from tests.conftest import StoreFactory
from tests.engine.conftest import EngineFactory, profile, video

from queueopt.clock import VirtualClock
from queueopt.domain import Decision, ItemStatus, TaskState, Verdict
from queueopt.engine import Engine, qa_draw
from queueopt.engine.records import evolved
from queueopt.errors import NotFound, StaleLease
from queueopt.store import Changes
from queueopt.store.retention import DAY_S, purge_all


def test_a_purge_forgets_settled_content_whole_and_keeps_open_work(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    engine = engine_factory()
    engine.upsert_moderator(profile("m"))
    # An id QA does not sample (at most 10% of a queue's decisions): a QA review left open would keep the item.
    first = next(f"a{n}" for n in range(1000) if qa_draw(engine.qa_secret, f"a{n}") >= 0.10)
    engine.submit([video(first, signals={"hate": 0.8}, content_hash="h")])
    view = engine.next_for("m")
    assert view is not None and view.lease_token is not None
    engine.decide(first, view.lease_token, "m", Decision(verdict=Verdict.VIOLATING, policy="hate"))
    (copy,) = engine.submit([video("b", signals={"hate": 0.8}, content_hash="h")])
    assert copy.status is ItemStatus.DUPLICATE and copy.duplicate_of == first
    engine.submit([video("waiting", language="fr")])  # nobody reads French: it waits
    clock.advance(2 * DAY_S)
    purged = purge_all(lambda after: engine.purge(clock.now() - DAY_S, after, 200))
    assert (purged.items, purged.tasks, purged.content) == (2, 1, 1)
    for item_id in (first, "b"):
        with pytest.raises(NotFound, match="purged after the retention period"):
            engine.item(item_id)
    with pytest.raises(NotFound, match="purged after the retention period"):
        engine.task(first)
    assert engine.item("waiting").status is ItemStatus.QUEUED
    (again,) = engine.submit([video("c", signals={"hate": 0.8}, content_hash="h")])
    assert again.status is ItemStatus.QUEUED and again.duplicate_of is None  # reviewed afresh
    restarted = engine_factory()
    assert restarted.item("waiting").status is ItemStatus.QUEUED and restarted.task("c").state == "queued"


def test_a_late_retry_of_a_decision_on_purged_content_never_decides_new_content_under_its_id(
    engine_factory: EngineFactory, clock: VirtualClock
) -> None:
    """A purged id starts its attempts anew when submitted again, so the first lease of the new content is numbered
    as the old content's was. A review tool retrying, days late, the decision whose answer it lost must be refused
    even when its moderator holds that new lease (found by the retention probe: the retry decided the new content).
    """
    engine = engine_factory()
    engine.upsert_moderator(profile("m"))
    item_id = next(f"a{n}" for n in range(1000) if qa_draw(engine.qa_secret, f"a{n}") >= 0.10)
    engine.submit([video(item_id, signals={"hate": 0.8})])
    old = engine.assign_to(item_id, "m")
    assert old.lease_token is not None
    engine.decide(item_id, old.lease_token, "m", _REMOVED)
    clock.advance(2 * DAY_S)
    assert purge_all(lambda after: engine.purge(clock.now() - DAY_S, after, 200)).items == 1
    engine.submit([video(item_id, signals={"spam": 0.6})])
    new = engine.assign_to(item_id, "m")
    assert new.lease_token is not None and new.lease_token != old.lease_token
    with pytest.raises(StaleLease, match="not your current lease"):
        engine.decide(item_id, old.lease_token, "m", _REMOVED)
    restarted = engine_factory()  # the token survives the store's round trip of the lease's time
    assert restarted.task(item_id).state == TaskState.LEASED and restarted.item(item_id).decision is None
    decided = restarted.decide(item_id, new.lease_token, "m", Decision(verdict=Verdict.NOT_VIOLATING))
    assert decided.state == TaskState.DECIDED
    assert restarted.decide(item_id, new.lease_token, "m", Decision(verdict=Verdict.NOT_VIOLATING)) == decided


_REMOVED = Decision(verdict=Verdict.VIOLATING, policy="hate", action="remove")


def _left_behind(store_factory: StoreFactory, engine_factory: EngineFactory) -> Engine:
    """An engine over a store an earlier purge left a copy in, carrying a removal and naming a review that is gone.

    A purge that looked up copies only for a content's history (before `retention._units` followed copies of copies)
    left behind a copy carrying what a withdrawn copy's review decided for the copy riding on it, submitted after the
    cutoff: it named that purged review, whose id could then be submitted again as other content, and a SQL store
    lists it among that new task's items (`Store.items_of_task` reads them by task id). Stores purged then hold such
    copies still, so one is written here as that purge left it: "copy", naming the review "gone"."""
    engine = engine_factory()
    engine.upsert_moderator(profile("m"))
    engine.submit([video("first", signals={"hate": 0.8}, content_hash="h")])
    lease = engine.assign_to("first", "m")
    assert lease.lease_token is not None
    engine.decide("first", lease.lease_token, "m", _REMOVED)
    (copy,) = engine.submit([video("copy", signals={"hate": 0.8}, content_hash="h")])
    assert copy.status is ItemStatus.DUPLICATE and engine.item("copy").decision == _REMOVED
    store = store_factory()
    store.apply(Changes(items=[evolved(store.items(["copy"])["copy"], task_id="gone", duplicate_of="gone-rider")]))
    restarted = engine_factory()
    assert restarted.submit([video("gone", signals={"spam": 0.3})])[0].task_id == "gone"
    return restarted


def test_a_copy_an_earlier_purge_left_behind_keeps_its_decision_when_its_reviews_id_comes_back(
    store_factory: StoreFactory, engine_factory: EngineFactory
) -> None:
    """A copy keeps the decision it carried when submitted, as it was reported: a later decision of a review it names
    is not its own (found by a hand-run mutation review: a decision reaching every listed copy of status `duplicate`,
    whether it had a decision already or not, passed every test)."""
    engine = _left_behind(store_factory, engine_factory)
    lease = engine.assign_to("gone", "m")
    assert lease.lease_token is not None
    engine.decide("gone", lease.lease_token, "m", Decision(verdict=Verdict.NOT_VIOLATING))
    left = engine.item("copy")
    assert (left.status, left.decision) == (ItemStatus.DUPLICATE, _REMOVED)


def test_an_item_withdrawn_under_the_id_a_copy_left_behind_names_takes_its_review_with_it(
    store_factory: StoreFactory, engine_factory: EngineFactory
) -> None:
    """A copy carrying a decision rides on no review, so it keeps none open: withdrawing the only item waiting for a
    review cancels the review, whatever copy left by an earlier purge names it (found by the same review: the copy
    was counted as pending, so a withdrawn item's review stayed open to be reviewed, at that copy's harm rate)."""
    engine = _left_behind(store_factory, engine_factory)
    engine.cancel("gone")
    assert engine.task("gone").state is TaskState.CANCELLED
