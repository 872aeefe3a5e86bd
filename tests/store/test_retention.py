"""The purge of settled work (`Store.purge`), on every store: what goes, what stays, in batches, atomically."""

from __future__ import annotations

import tempfile
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import StoreFactory
from tests.store.test_contract import item, task

from queueopt.domain import QA_SUFFIX, Action, ItemStatus, TaskKind, TaskState
from queueopt.errors import Deposed
from queueopt.store import AuditEntry, Changes, Store, TaskWrite, open_store, retention
from queueopt.store.retention import Purged

CUTOFF = 1000.0
_SETTLED = {TaskState.DECIDED: ItemStatus.DECIDED, TaskState.CANCELLED: ItemStatus.CANCELLED}


def reviewed(
    store: Store,
    item_id: str,
    at: float,
    state: TaskState = TaskState.DECIDED,
    content_hash: str | None = None,
    appeal: bool = False,
) -> None:
    """An item reviewed under its own task, settled (or last touched, if `state` is open) at `at`."""
    record = item(item_id, content_hash=content_hash, status=_SETTLED.get(state, ItemStatus.QUEUED))
    record.submitted_at = at
    holder = "m1" if state is TaskState.LEASED else None
    store.apply(
        Changes(
            items=[record],
            tasks=[TaskWrite(replace(task(item_id, state=state, holder=holder), enqueued_at=at))],
            audit=[AuditEntry(at, item_id, item_id, "ingest", "queued"), AuditEntry(at, item_id, item_id, "m", "x")],
            owners=[] if content_hash is None or appeal else [(content_hash, item_id)],
            appeals=[(content_hash, item_id)] if content_hash is not None and appeal else [],
        )
    )


def qa_of(store: Store, item_id: str, at: float, state: TaskState) -> None:
    holder = "m2" if state is TaskState.LEASED else None
    qa = replace(task(item_id, state=state, holder=holder), id=item_id + QA_SUFFIX, kind=TaskKind.QA, enqueued_at=at)
    store.apply(Changes(tasks=[TaskWrite(qa)], audit=[AuditEntry(at, qa.id, item_id, "sampler", "queued")]))


def copy_of(store: Store, item_id: str, owner: str, content_hash: str, at: float, status: ItemStatus) -> None:
    record = item(item_id, content_hash=content_hash, status=status)
    record.action, record.duplicate_of, record.task_id, record.submitted_at = Action.DUPLICATE, owner, owner, at
    store.apply(Changes(items=[record], audit=[AuditEntry(at, owner, item_id, "ingest", "duplicate")]))


def purge_all(store: Store, before: float = CUTOFF, limit: int = 3, dry_run: bool = False) -> Purged:
    return retention.purge_all(lambda after: store.purge(before, after, limit, dry_run))


def test_settled_work_older_than_the_cutoff_goes_with_its_tasks_audit_and_history(store: Store) -> None:
    reviewed(store, "old", 10.0, content_hash="h-old")
    qa_of(store, "old", 20.0, TaskState.DECIDED)
    reviewed(store, "gone", 30.0, state=TaskState.CANCELLED)
    store.apply(
        Changes(audit=[AuditEntry(40.0, None, None, "m1", "present"), AuditEntry(2000.0, None, None, "m1", "p")])
    )
    reviewed(store, "recent", 1500.0, content_hash="h-recent")
    reviewed(store, "waiting", 5.0, state=TaskState.QUEUED)
    reviewed(store, "held", 6.0, state=TaskState.LEASED)
    purged = purge_all(store)
    assert (purged.items, purged.tasks, purged.audit, purged.content) == (2, 3, 6, 1)
    assert set(store.items(["old", "gone", "recent", "waiting", "held"])) == {"recent", "waiting", "held"}
    assert store.tasks(["old", "old" + QA_SUFFIX, "gone"]) == {}
    assert store.content_history(["h-old", "h-recent"]) == {"h-recent": [("recent", True)]}
    assert {entry.item_id for entry in store.audit(0.0, 100)} == {"recent", "waiting", "held", None}
    assert [entry.transition for entry in store.audit(0.0, 100) if entry.item_id is None] == ["p"]
    assert [task.id for task in store.open_tasks()] == ["held", "waiting"]
    assert purge_all(store) == Purged()


def test_a_purged_task_s_hand_backs_go_with_it(store: Store) -> None:
    """What a retried release or skip is compared with goes with its task, and only with it."""
    reviewed(store, "old", 10.0)
    reviewed(store, "waiting", 20.0, state=TaskState.QUEUED)
    for task_id in ("old", "waiting"):
        store.apply(Changes(handed_back=[(task_id, task_id + ".1", "m1", '{"transition":"released"}', "{}")]))
    assert purge_all(store).items == 1
    assert store.handed_back("old", "old.1", "m1") is None
    assert store.handed_back("waiting", "waiting.1", "m1") == ('{"transition":"released"}', "{}")


def test_an_open_qa_review_or_appeal_keeps_the_settled_item_it_depends_on(store: Store) -> None:
    reviewed(store, "checked", 10.0)
    qa_of(store, "checked", 20.0, TaskState.QUEUED)
    reviewed(store, "appealed", 10.0, content_hash="h")
    reviewed(store, "appeal", 30.0, state=TaskState.QUEUED, content_hash="h", appeal=True)
    reviewed(store, "seen", 10.0, content_hash="v")
    copy_of(store, "copy", "seen", "v", 20.0, ItemStatus.DUPLICATE)
    assert purge_all(store).items == 0
    assert set(store.items(["checked", "appealed", "appeal", "seen", "copy"])) == {
        "checked",
        "appealed",
        "appeal",
        "seen",
        "copy",
    }
    assert store.content_history(["h"]) == {"h": [("appealed", True), ("appeal", False)]}


def test_an_item_whose_qa_review_settled_after_the_cutoff_stays(store: Store) -> None:
    """A unit goes only when nothing of it happened at or after the cutoff: a review decided long ago whose QA review
    settled yesterday is recent work, kept with the audit that explains it (found by a hand-run mutation review: a
    purge that weighed only the item's submission and decision passed every test, whose QA reviews settle when their
    item does)."""
    reviewed(store, "checked", 10.0)
    qa_of(store, "checked", CUTOFF + 500.0, TaskState.DECIDED)
    assert purge_all(store) == Purged()
    assert set(store.items(["checked"])) == {"checked"}
    assert set(store.tasks(["checked", "checked" + QA_SUFFIX])) == {"checked", "checked" + QA_SUFFIX}


@pytest.mark.parametrize("late", ["qa", "copy", "copy of a copy"])
def test_a_content_with_late_work_stays_whichever_of_its_items_a_batch_names(store: Store, late: str) -> None:
    """A batch naming one item of a content must weigh every item of it, past this batch's entries: the appeal's QA
    review settled after the cutoff, or a copy of the original (no history item of its own) submitted after it,
    keeps the whole content (found by a hand-run mutation review: latest entries read, or copies looked up, only for
    the items a batch named passed every test, whose contents never spread over batches with late work). So does a
    copy naming a copy as its own, as one carrying what a withdrawn copy's review decided for the copy riding on it
    names that rider (found by a second such review: copies were looked up only for the content's history)."""
    reviewed(store, "first", 10.0, content_hash="h")
    reviewed(store, "appeal", 20.0, content_hash="h", appeal=True)
    if late == "qa":
        qa_of(store, "appeal", CUTOFF + 500.0, TaskState.DECIDED)
    elif late == "copy":
        copy_of(store, "copy", "first", "h", CUTOFF + 500.0, ItemStatus.DECIDED)
    else:
        copy_of(store, "riding", "first", "h", 30.0, ItemStatus.DECIDED)
        copy_of(store, "copy", "riding", "h", CUTOFF + 500.0, ItemStatus.DECIDED)
    assert purge_all(store, limit=1) == Purged()
    assert set(store.items(["first", "appeal"])) == {"first", "appeal"}


def test_a_content_goes_whole_once_its_every_copy_and_appeal_settled_before_the_cutoff(store: Store) -> None:
    reviewed(store, "first", 10.0, content_hash="h")
    copy_of(store, "copy", "first", "h", 20.0, ItemStatus.DECIDED)
    reviewed(store, "appeal", 30.0, content_hash="h", appeal=True)
    reviewed(store, "again", 1200.0, content_hash="g")
    copy_of(store, "late", "again", "g", 900.0, ItemStatus.DECIDED)
    purged = purge_all(store, limit=1)
    assert (purged.items, purged.content) == (3, 2)
    assert set(store.items(["first", "copy", "appeal", "again", "late"])) == {"again", "late"}
    assert store.content_history(["h"]) == {}


def test_a_content_s_ruling_goes_with_its_history(store: Store) -> None:
    reviewed(store, "first", 10.0, content_hash="h")
    reviewed(store, "appeal", 30.0, content_hash="h", appeal=True)
    store.apply(Changes(rulings=[("h", "appeal")]))
    assert purge_all(store).items == 2
    assert store.rulings(["h"]) == {}


def test_a_dry_run_says_what_would_go_and_deletes_nothing(store: Store) -> None:
    reviewed(store, "old", 10.0, content_hash="h")
    reviewed(store, "open", 10.0, state=TaskState.QUEUED)
    before = store.audit(0.0, 100)
    assert purge_all(store, dry_run=True) == Purged(items=1, tasks=1, audit=2, content=1)
    assert store.audit(0.0, 100) == before
    assert set(store.items(["old", "open"])) == {"old", "open"}
    assert purge_all(store) == Purged(items=1, tasks=1, audit=2, content=1)


def test_open_work_at_the_head_of_the_audit_does_not_stall_later_batches(store: Store) -> None:
    for number in range(5):
        reviewed(store, f"open{number}", float(number), state=TaskState.QUEUED)
    for number in range(5):
        reviewed(store, f"done{number}", 100.0 + number)
    first = store.purge(CUTOFF, 0, 4)
    assert first.items == 0 and first.scanned_to is not None
    assert purge_all(store, limit=4).items == 5
    assert len(store.open_tasks()) == 5


def test_an_entry_naming_nothing_made_at_the_cutoff_stays(store: Store) -> None:
    """The cutoff is exclusive for entries that name no item or task too, which no settling check guards: they go on
    the scan's word alone. Here one is stamped at the cutoff before another replica's clock stamps the next one
    earlier, inside the SQL scan's bound (found by a hand-run mutation review: a scan taking entries made at the
    cutoff purged such an entry, and every test's entries stood well clear of it)."""
    store.apply(
        Changes(
            audit=[
                AuditEntry(CUTOFF - 1.0, None, None, "m1", "before"),
                AuditEntry(CUTOFF, None, None, "m1", "at"),
                AuditEntry(CUTOFF - 0.5, None, None, "m2", "late clock"),  # may wait for the next run (`scan`)
                AuditEntry(CUTOFF + 0.5, None, None, "m1", "after"),
            ]
        )
    )
    purge_all(store)
    kept = [entry.transition for entry in store.audit(0.0, 100)]
    assert "before" not in kept and {"at", "after"} <= set(kept)


@pytest.mark.parametrize(
    "store_factory", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)  # a memory store lives in one process: there is no other engine to fence out
def test_a_deposed_engine_purges_nothing(store_factory: StoreFactory) -> None:
    """A batch is one fenced transaction: all of it or none."""
    old = store_factory()
    old.claim_serving(None, 1.0)
    reviewed(old, "a", 10.0)
    new = store_factory()
    new.claim_serving(None, 2.0)
    with pytest.raises(Deposed):
        old.purge(CUTOFF, 0, 100)
    assert set(new.items(["a"])) == {"a"} and len(new.audit(0.0, 100)) == 2


_TASK_STATES = st.sampled_from(list(TaskState))
_UNITS = st.lists(
    st.tuples(
        st.sampled_from(["h1", "h2", "h3", None]),  # content hash
        _TASK_STATES,  # the review's state
        st.one_of(st.none(), _TASK_STATES),  # its QA's state, if sampled
        st.sampled_from([10.0, 500.0, 999.0, 1000.0, 1500.0]),  # when last touched
    ),
    max_size=12,
)


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(units=_UNITS, limit=st.integers(1, 7))
def test_a_purge_never_deletes_open_work_nor_what_open_work_references(
    backend: str, units: list[tuple[str | None, TaskState, TaskState | None, float]], limit: int
) -> None:
    """On memory and SQLite: the selection is shared, the reads and deletions each store's own."""
    with tempfile.TemporaryDirectory() as folder:
        store = open_store("memory://" if backend == "memory" else f"sqlite:///{folder}/queueopt.db")
        try:
            _check_a_purge(store, units, limit)
        finally:
            store.close()


def _check_a_purge(
    store: Store, units: list[tuple[str | None, TaskState, TaskState | None, float]], limit: int
) -> None:
    # Written in the order of their times, as one engine writes its audit (a SQL store's scan relies on it).
    for number, (content_hash, state, qa, at) in sorted(enumerate(units), key=lambda unit: unit[1][3]):
        reviewed(store, f"i{number}", at, state=state, content_hash=content_hash, appeal=number % 2 == 1)
        if qa is not None:
            qa_of(store, f"i{number}", at, qa)
    ids = [f"i{number}" for number in range(len(units))]
    open_before = {task.id for task in store.open_tasks()}
    live_hashes = {
        content_hash
        for number, (content_hash, state, qa, at) in enumerate(units)
        if state in (TaskState.QUEUED, TaskState.LEASED) or qa in (TaskState.QUEUED, TaskState.LEASED) or at >= CUTOFF
    }
    purge_all(store, limit=limit)
    kept = store.items(ids)
    assert {task.id for task in store.open_tasks()} == open_before
    for number, (content_hash, _, _, at) in enumerate(units):
        item_id = f"i{number}"
        must_stay = item_id in {task.item_id for task in store.open_tasks()} or at >= CUTOFF
        must_stay |= content_hash is not None and content_hash in live_hashes
        if must_stay:
            assert item_id in kept and item_id in store.tasks([item_id])
        else:
            assert item_id not in kept and store.tasks([item_id, item_id + QA_SUFFIX]) == {}
