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
from queueopt.errors import NotFound
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
