"""The store contract: what the engine relies on from every backend."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import StoreFactory

from queueopt.domain import Action, ItemStatus, Modality, Task, TaskKind, TaskState, Verdict
from queueopt.errors import Deposed
from queueopt.store import SCHEMA_VERSION, AuditEntry, Changes, ItemRecord, StaleWrite, Store, TaskWrite, open_store


def task(task_id: str, state: TaskState = TaskState.QUEUED, attempt: int = 0, holder: str | None = None) -> Task:
    return Task(
        id=task_id,
        item_id=task_id,
        queue="q",
        kind=TaskKind.REVIEW,
        state=state,
        priority=2.5,
        aging_rate=0.1,
        enqueued_at=10.0,
        modality=Modality.VIDEO,
        language="en",
        region="us",
        duration_s=30.0,
        severe=True,
        policy="violence",
        attempt=attempt,
        holder=holder,
        leased_at=None if holder is None else 11.0,
        lease_expires_at=None if holder is None else 20.0,
        skipped_by=frozenset({"m9", "m2"}),
        clearance=("csam", "terrorism"),
        areas=("hate", "self_harm"),
    )


def item(item_id: str, content_hash: str | None = None, status: ItemStatus = ItemStatus.QUEUED) -> ItemRecord:
    return ItemRecord(
        id=item_id,
        payload=json.dumps({"id": item_id}),
        status=status,
        task_id=item_id,
        queue="q",
        priority=2.5,
        action=Action.REVIEW,
        explanation="rule 'r'",
        content_hash=content_hash,
        submitted_at=10.0,
    )


def submit(store: Store, *ids: str) -> None:
    store.apply(
        Changes(
            items=[item(i, content_hash=f"h-{i}") for i in ids],
            tasks=[TaskWrite(task(i)) for i in ids],
            audit=[AuditEntry(10.0, i, i, "ingest", "queued") for i in ids],
            owners=[(f"h-{i}", i) for i in ids],
        )
    )


def test_round_trip_of_items_tasks_and_hashes(store: Store) -> None:
    submit(store, "a", "b")
    assert set(store.items(["a", "b", "zzz"])) == {"a", "b"}
    assert store.items(["a"])["a"] == item("a", content_hash="h-a")
    assert store.task("a") == task("a")
    assert store.task("nope") is None
    assert [t.id for t in store.open_tasks()] == ["a", "b"]
    assert [r.id for r in store.items_of_task("a")] == ["a"]
    assert store.content_history(["h-a", "h-x"]) == {"h-a": [("a", True)]}
    store.apply(Changes(owners=[("h-a", "b"), ("h-x", "a"), ("h-x", "b")], appeals=[("h-a", "p")]))
    assert store.content_history(["h-a", "h-x"]) == {
        "h-a": [("a", True), ("b", True), ("p", False)],
        "h-x": [("a", True), ("b", True)],
    }
    assert store.count_items() == 2
    assert store.schema_version() == SCHEMA_VERSION
    assert store.ping()


def test_conditional_update_applies_only_from_the_expected_state(store: Store) -> None:
    submit(store, "a")
    leased = task("a", TaskState.LEASED, attempt=1, holder="m1")
    store.apply(Changes(tasks=[TaskWrite(leased, (TaskState.QUEUED, 0))]))
    assert store.task("a") == leased
    second = task("a", TaskState.LEASED, attempt=1, holder="m2")
    with pytest.raises(StaleWrite):
        store.apply(Changes(tasks=[TaskWrite(second, (TaskState.QUEUED, 0))]))
    assert store.task("a") == leased


def test_a_write_expecting_an_earlier_lease_of_the_same_state_is_refused(store: Store) -> None:
    """Fenced by the lease attempt, not only the state: a write from the view of an earlier lease (a deposed
    engine's, or one racing a re-lease) must not land on the lease that replaced it (found by a hand-run mutation
    review: an update conditioned on the state alone passed every contract test, which only expected other states)."""
    submit(store, "a")
    first = task("a", TaskState.LEASED, attempt=1, holder="m1")
    store.apply(Changes(tasks=[TaskWrite(first, (TaskState.QUEUED, 0))]))
    store.apply(Changes(tasks=[TaskWrite(task("a", attempt=1), (TaskState.LEASED, 1))]))  # expired: queued again
    second = task("a", TaskState.LEASED, attempt=2, holder="m2")
    store.apply(Changes(tasks=[TaskWrite(second, (TaskState.QUEUED, 1))]))
    # m1's decision, from the view of the first lease: leased, attempt 1
    with pytest.raises(StaleWrite):
        store.apply(Changes(tasks=[TaskWrite(task("a", TaskState.DECIDED, attempt=1), (TaskState.LEASED, 1))]))
    assert store.task("a") == second
    with pytest.raises(StaleWrite):  # nor a re-lease from the view before the second lease
        store.apply(
            Changes(tasks=[TaskWrite(task("a", TaskState.LEASED, attempt=2, holder="m3"), (TaskState.QUEUED, 0))])
        )
    assert store.task("a") == second


def test_a_write_expecting_the_right_attempt_in_another_state_is_refused(store: Store) -> None:
    """Fenced by the state, not only the attempt: an expiry re-queues a task under the attempt of the lease it
    ended, and a decision keeps it, so the late decision of an expired lease, or a release of a task decided since,
    names the current attempt and only the state tells it is stale (found by a hand-run mutation review: a write
    conditioned on the attempt alone passed every contract test, whose stale writes all expected another attempt)."""
    submit(store, "a")
    leased = task("a", TaskState.LEASED, attempt=1, holder="m1")
    store.apply(Changes(tasks=[TaskWrite(leased, (TaskState.QUEUED, 0))]))
    expired = task("a", attempt=1)
    store.apply(Changes(tasks=[TaskWrite(expired, (TaskState.LEASED, 1))]))
    with pytest.raises(StaleWrite):  # m1's decision, arriving after the expiry
        store.apply(Changes(tasks=[TaskWrite(task("a", TaskState.DECIDED, attempt=1), (TaskState.LEASED, 1))]))
    assert store.task("a") == expired
    again = task("a", TaskState.LEASED, attempt=2, holder="m2")
    store.apply(Changes(tasks=[TaskWrite(again, (TaskState.QUEUED, 1))]))
    decided = task("a", TaskState.DECIDED, attempt=2)
    store.apply(Changes(tasks=[TaskWrite(decided, (TaskState.LEASED, 2))]))
    with pytest.raises(StaleWrite):  # m2's release, racing their own decision
        store.apply(Changes(tasks=[TaskWrite(task("a", attempt=2), (TaskState.LEASED, 2))]))
    assert store.task("a") == decided and store.open_tasks() == []


def test_a_batch_writing_one_task_twice_checks_the_second_write_against_the_first(store: Store) -> None:
    """A batch's writes apply in turn, as SQL's do: a second write of a task expecting the state before the first
    is stale, and the batch fails whole. Found by a hand-run mutation review: a solve naming one task for two
    moderators leased it to both on the memory store, which compared every write with the state before the batch,
    while SQLite and PostgreSQL refused the batch."""
    submit(store, "a", "b")
    to_m1 = task("a", TaskState.LEASED, attempt=1, holder="m1")
    to_m2 = task("a", TaskState.LEASED, attempt=1, holder="m2")
    b_leased = task("b", TaskState.LEASED, attempt=1, holder="m3")
    with pytest.raises(StaleWrite):
        store.apply(
            Changes(
                tasks=[
                    TaskWrite(b_leased, (TaskState.QUEUED, 0)),
                    TaskWrite(to_m1, (TaskState.QUEUED, 0)),
                    TaskWrite(to_m2, (TaskState.QUEUED, 0)),
                ]
            )
        )
    assert store.task("a") == task("a") and store.task("b") == task("b")
    with pytest.raises(StaleWrite):
        store.apply(Changes(tasks=[TaskWrite(task("c")), TaskWrite(task("c", attempt=3))]))
    assert store.task("c") is None
    # in turn: a second write expecting what the first wrote applies
    back = task("a", TaskState.QUEUED, attempt=1)
    store.apply(Changes(tasks=[TaskWrite(to_m1, (TaskState.QUEUED, 0)), TaskWrite(back, (TaskState.LEASED, 1))]))
    assert store.task("a") == back


def test_a_failed_batch_writes_nothing(store: Store) -> None:
    submit(store, "a", "b")
    decided = task("a", TaskState.DECIDED, attempt=0)
    stale = task("b", TaskState.LEASED, attempt=5, holder="m1")
    decided_item = item("a")
    decided_item.status, decided_item.verdict = ItemStatus.DECIDED, Verdict.VIOLATING
    with pytest.raises(StaleWrite):
        store.apply(
            Changes(
                items=[decided_item],
                tasks=[TaskWrite(decided, (TaskState.QUEUED, 0)), TaskWrite(stale, (TaskState.LEASED, 4))],
                audit=[AuditEntry(12.0, "a", "a", "m1", "decided")],
            )
        )
    assert store.task("a") == task("a")
    assert store.items(["a"])["a"].status is ItemStatus.QUEUED
    assert [entry.transition for entry in store.audit(0.0, 100)] == ["queued", "queued"]


def test_a_decided_task_keeps_its_decision(store_factory: StoreFactory) -> None:
    """What a retry of the decision is compared with, after a restart too."""
    store = store_factory()
    submit(store, "a")
    leased = replace(task("a", TaskState.LEASED, attempt=1, holder="m1"), leased_at=1764790000.123457)
    store.apply(Changes(tasks=[TaskWrite(leased, (TaskState.QUEUED, 0))]))
    decided = replace(
        leased, state=TaskState.DECIDED, holder=None, decision='{"verdict":"violating","moderator_id":"m1"}'
    )
    store.apply(Changes(tasks=[TaskWrite(decided, (TaskState.LEASED, 1))]))
    assert store.task("a") == decided
    assert store_factory().tasks(["a"]) == {"a": decided}
    submit(store, "b")
    # the token of the lease it was decided under, to the microsecond of the lease's time as the store keeps it
    assert store.decided("a") == (leased.lease_token, '{"verdict":"violating","moderator_id":"m1"}')
    assert leased.lease_token == "a.1.64511310f7e41"
    assert store.decided("b") is None and store.decided("nope") is None
    # written decided with no decision (as before version 10): there is none to compare a retry with (a read by
    # the state passed until this line, found by a hand-run mutation review)
    store.apply(Changes(tasks=[TaskWrite(task("c", TaskState.DECIDED))]))
    assert store.decided("c") is None


def test_a_lease_handed_back_by_its_holder_is_kept_per_lease(store_factory: StoreFactory) -> None:
    """What a retry of a release or skip is compared with, after a restart too, found only by its holder;
    a later lease's hand-back is kept beside it, and a hand-back is written with its task or not at all."""
    store = store_factory()
    submit(store, "a")
    leased = task("a", TaskState.LEASED, attempt=1, holder="m1")
    store.apply(Changes(tasks=[TaskWrite(leased, (TaskState.QUEUED, 0))]))
    first = ("a", "a.1", "m_1%", '{"transition":"released","moderator_id":"m_1%"}', '{"priority":2.5}')
    store.apply(Changes(tasks=[TaskWrite(task("a", attempt=1), (TaskState.LEASED, 1))], handed_back=[first]))
    second = ("a", "a.2", "m2", '{"transition":"skipped","reason":"x","moderator_id":"m2"}', "{}")
    with pytest.raises(StaleWrite):
        store.apply(Changes(tasks=[TaskWrite(task("a", attempt=2), (TaskState.LEASED, 2))], handed_back=[second]))
    assert store.handed_back("a", "a.2", "m2") is None
    store.apply(Changes(tasks=[TaskWrite(task("a", TaskState.LEASED, attempt=2, holder="m2"), (TaskState.QUEUED, 1))]))
    store.apply(Changes(tasks=[TaskWrite(task("a", attempt=2), (TaskState.LEASED, 2))], handed_back=[second]))
    reopened = store_factory()
    assert reopened.handed_back("a", "a.1", "m_1%") == first[3:]
    assert reopened.handed_back("a", "a.2", "m2") == second[3:]
    for task_id, token, holder in (
        ("a", "a.1", "m2"),
        ("a", "a.1", "mx1%"),
        ("a", "a.1", "m_1"),
        ("a", "a.3", "m2"),
        ("b", "a.1", "m_1%"),
    ):
        assert reopened.handed_back(task_id, token, holder) is None


def test_inserting_an_existing_task_is_refused(store: Store) -> None:
    submit(store, "a")
    with pytest.raises(StaleWrite):
        store.apply(Changes(items=[item("x")], tasks=[TaskWrite(task("a"))]))
    assert store.items(["x"]) == {}


def test_a_content_s_ruling_is_its_appeal_decided_last(store: Store) -> None:
    """`Changes.rulings` keeps one appeal or escalation per content, the one decided last, which a later copy of the
    content carries when newer than its owner's decision (`Engine.submit`)."""
    assert store.rulings(["h-a"]) == {}
    store.apply(Changes(rulings=[("h-a", "p1"), ("h-b", "q1")]))
    store.apply(Changes(rulings=[("h-a", "p2")]))
    assert store.rulings(["h-a", "h-b", "h-x"]) == {"h-a": "p2", "h-b": "q1"}


def test_items_are_upserted_and_a_copy_joins_no_content_history(store: Store) -> None:
    submit(store, "a")
    copy = item("c", content_hash="h-a", status=ItemStatus.DUPLICATE)
    store.apply(Changes(items=[copy]))
    assert store.content_history(["h-a"]) == {"h-a": [("a", True)]}
    later = item("a", content_hash="h-a")
    later.status, later.verdict, later.decided_at = ItemStatus.DECIDED, Verdict.NOT_VIOLATING, 15.0
    later.decision = '{"verdict":"not_violating","moderator_id":"m1"}'  # every column is written again
    store.apply(Changes(items=[later]))
    assert store.items(["a"])["a"] == later
    assert store.count_items() == 2


def test_the_copies_inheriting_an_automatic_action_are_read_by_the_item_they_inherited_from(store: Store) -> None:
    """A copy inheriting an automatic action joins no content history; an appeal reads it through its owner. A copy
    riding on a review (it names a task) is no such copy, and a record written again is listed once."""
    removed = item("removed", content_hash="h")
    removed.task_id, removed.status, removed.action = None, ItemStatus.AUTO_ACTIONED, Action.AUTO_REMOVE
    copies = [item(copy_id, content_hash="h", status=ItemStatus.DUPLICATE) for copy_id in ("c1", "c2", "riding")]
    for copy in copies:
        copy.task_id, copy.duplicate_of = (None, "removed") if copy.id != "riding" else ("t", "t")
    store.apply(Changes(items=[removed, *copies], owners=[("h", "removed")]))
    store.apply(Changes(items=[copies[0]]))
    assert sorted(copy.id for copy in store.inherited(["removed", "nobody"])) == ["c1", "c2"]
    assert store.inherited([]) == []


def test_audit_is_ordered_and_filtered(store: Store) -> None:
    entries = [AuditEntry(float(at), f"t{at}", None, "x", "queued") for at in range(5)]
    store.apply(Changes(audit=entries[:3]))
    store.apply(Changes(audit=entries[3:]))
    log = store.audit(0.0, 100)
    assert [entry.seq for entry in log] == sorted(entry.seq for entry in log)
    assert len({entry.seq for entry in log}) == 5
    assert [entry.task_id for entry in store.audit(2.0, 100)] == ["t2", "t3", "t4"]
    assert [entry.task_id for entry in store.audit(0.0, 2)] == ["t0", "t1"]
    assert [entry.task_id for entry in store.audit(0.0, 100, after_seq=log[3].seq)] == ["t4"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(st.lists(st.sampled_from([1.0, 2.0, 3.0, 5.0]), max_size=4), max_size=6),
    since=st.sampled_from([0.0, 2.0, 3.0, 4.0]),
    limit=st.integers(1, 4),
)
def test_paging_the_audit_reads_every_entry_since_a_time_once_in_write_order(
    store: Store, batches: list[list[float]], since: float, limit: int
) -> None:
    """A reader pages the audit by `seq`: each page after the last one's last entry. Entries are in the order they
    were written whatever their times (a batch's entries share one, and another replica's clock may stamp an entry
    earlier than one before it), those before `since` are left out, and no entry is read twice or skipped (found by
    a hand-run mutation review: entries ordered by time, or a page starting at its `after_seq`, passed the contract
    test of the audit, whose times grew with `seq`). One store serves every example: this one reads after the last."""
    earlier = store.audit(0.0, 10_000)
    last = earlier[-1].seq if earlier else 0
    notes: list[tuple[float, str]] = []
    for batch in batches:
        entries = [
            AuditEntry(at, None, None, "x", "noted", f"n{len(notes) + number}") for number, at in enumerate(batch)
        ]
        notes += [(entry.at, entry.note) for entry in entries]
        store.apply(Changes(audit=entries))
    read: list[AuditEntry] = []
    while True:
        page = store.audit(since, limit, after_seq=last)
        assert len(page) <= limit
        read += page
        if len(page) < limit:
            break
        last = page[-1].seq
    assert [entry.note for entry in read] == [note for at, note in notes if at >= since]
    assert [entry.seq for entry in read] == sorted({entry.seq for entry in read})


def test_moderators_are_saved_and_replaced(store: Store) -> None:
    store.apply(Changes(moderators=[("m1", '{"v": 1}')]))
    store.apply(Changes(moderators=[("m1", '{"v": 2}'), ("m0", "{}")]))
    assert store.moderators() == {"m0": "{}", "m1": '{"v": 2}'}


def test_the_learned_state_kept_last_is_read_back_after_a_reopen(store_factory: StoreFactory) -> None:
    first = store_factory()
    assert first.learning() is None
    first.save_learning('{"v": 1}', 10.0)
    first.save_learning('{"v": 2}', 20.0)
    assert store_factory().learning() == '{"v": 2}'


def test_a_secret_is_random_made_once_and_the_same_for_every_opener(store_factory: StoreFactory) -> None:
    first = store_factory()
    made = first.secret("qa_sampling")
    assert len(made) == 64 and made != first.secret("other")
    assert [store_factory().secret("qa_sampling") for _ in range(3)] == [made] * 3  # a restart, or a replica


def test_a_setting_is_kept_replaced_and_read_by_every_opener_apart_from_the_secrets(
    store_factory: StoreFactory,
) -> None:
    first = store_factory()
    assert first.setting("checked") is None
    first.keep_setting("checked", "a")
    first.keep_setting("checked", "b")
    assert [store_factory().setting("checked") for _ in range(2)] == ["b", "b"]  # a restart, or a replica
    assert first.setting("qa_sampling") is None and first.secret("checked") not in ("a", "b")


def test_reopening_keeps_everything_and_does_not_migrate_again(store_factory: StoreFactory) -> None:
    first = store_factory()
    submit(first, "a")
    first.apply(Changes(moderators=[("m1", "{}")]))
    second = store_factory()
    assert second.schema_version() == SCHEMA_VERSION
    assert second.task("a") == task("a")
    assert second.moderators() == {"m1": "{}"}


def test_the_serving_address_is_the_last_one_announced_and_outlives_a_reopen(store_factory: StoreFactory) -> None:
    first = store_factory()
    assert first.serving_address() is None
    first.claim_serving(None, 5.0)
    assert first.serving_address() is None, "claimed before the port is bound: no address yet"
    first.announce_serving("http://10.0.0.1:8000", 5.0)
    first.announce_serving("http://10.0.0.2:8000", 6.0)
    assert store_factory().serving_address() == "http://10.0.0.2:8000"


def test_once_another_claims_the_store_a_deposed_engine_writes_nothing(store_factory: StoreFactory) -> None:
    """The engine that lost its lock may not have noticed yet: every write it tries after the new engine's claim
    is refused whole, so nothing it acknowledges is missing from what the new engine rebuilt from."""
    old = store_factory()
    old.claim_serving("http://old:8000", 1.0)
    submit(old, "a")
    new = store_factory()
    if new is old:
        return  # a memory store lives in one process: there is no other engine to fence out
    new.claim_serving("http://new:8000", 2.0)
    with pytest.raises(Deposed):
        submit(old, "b")
    with pytest.raises(Deposed):
        old.apply(Changes(moderators=[("m1", "{}")]))
    with pytest.raises(Deposed):
        old.announce_serving("http://old:8001", 3.0)
    with pytest.raises(Deposed):
        old.beat_serving()
    new.beat_serving()
    assert [task.id for task in new.open_tasks()] == ["a"]
    assert new.moderators() == {} and new.serving_address() == "http://new:8000"
    submit(new, "c")
    assert [task.id for task in new.open_tasks()] == ["a", "c"]


def test_a_deposed_engine_keeps_no_learned_state_nor_setting(store_factory: StoreFactory) -> None:
    """The learned state and the settings are fenced writes too: a deposed engine saving what it learned would
    replace what the serving engine learned since, and its setting of the config its open tasks were checked against
    would make the serving engine skip a check (found by a hand-run mutation review: the fence of either write could
    go, the deposed-engine test tried neither)."""
    old = store_factory()
    old.claim_serving(None, 1.0)
    old.save_learning('{"v": "old"}', 1.0)
    old.keep_setting("checked", "old")
    new = store_factory()
    if new is old:
        return  # a memory store lives in one process: there is no other engine to fence out
    new.claim_serving(None, 2.0)
    new.save_learning('{"v": "new"}', 2.0)
    new.keep_setting("checked", "new")
    with pytest.raises(Deposed):
        old.save_learning('{"v": "stale"}', 3.0)
    with pytest.raises(Deposed):
        old.keep_setting("checked", "stale")
    assert (new.learning(), new.setting("checked")) == ('{"v": "new"}', "new")


def test_processes_opening_one_new_database_at_once_migrate_it_once(store_factory: StoreFactory) -> None:
    """A standby starts beside the serving engine: both open (and may migrate) the store in the same moment."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        opened = list(pool.map(lambda _: store_factory(), range(4)))
    assert [store.schema_version() for store in opened] == [SCHEMA_VERSION] * 4


def test_open_tasks_read_in_pages_are_every_open_task_once_in_id_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recovering engine reads open tasks a page at a time, each page after the id the last one ended at (a page
    of 2 here): a decided task between pages, ids that prefix one another and a page that ends the tasks exactly
    must neither drop nor repeat a task."""
    from queueopt.store import sql

    monkeypatch.setattr(sql, "RECOVERY_PAGE", 2)
    ids = ["b", "a", "a1", "c", "ab", "d"]
    submit(store, *ids)
    store.apply(Changes(tasks=[TaskWrite(task("c", TaskState.DECIDED, attempt=1), expect=(TaskState.QUEUED, 0))]))
    assert [t.id for t in store.open_tasks()] == ["a", "a1", "ab", "b", "d"]


def test_items_of_task_are_its_own_item_and_every_item_attached_to_it(store: Store) -> None:
    submit(store, "a", "b")
    copy = item("c", status=ItemStatus.DUPLICATE)
    copy.task_id, copy.submitted_at = "a", 11.0
    elsewhere = item("d")
    elsewhere.task_id = "b"
    store.apply(Changes(items=[copy, elsewhere]))
    assert [record.id for record in store.items_of_task("a")] == ["a", "c"]
    assert [record.id for record in store.items_of_task("b")] == ["b", "d"]
    assert store.items_of_task("c") == []
    moved = item("c", status=ItemStatus.DUPLICATE)
    moved.task_id, moved.submitted_at = "b", 11.0
    store.apply(Changes(items=[moved]))
    assert [record.id for record in store.items_of_task("a")] == ["a"]
    assert [record.id for record in store.items_of_task("b")] == ["b", "d", "c"]
    moved.task_id = "a"
    store.apply(Changes(items=[moved]))
    assert [record.id for record in store.items_of_task("a")] == ["a", "c"]
    assert [record.id for record in store.items_of_task("b")] == ["b", "d"]


def test_an_item_attached_to_a_task_again_is_listed_once(store: Store) -> None:
    """A duplicate moved to another task and back is one item of the first task again, listed once. Each move is
    a record of its own, as the engine writes it (the items test above moves one record object, which the memory
    store keeps: its second move changed the stored record before the write, so the return was never seen as one)."""
    submit(store, "a", "b")
    for owner in ("a", "b", "a", "b", "a"):
        copy = item("c", status=ItemStatus.DUPLICATE)
        copy.task_id, copy.submitted_at = owner, 11.0
        store.apply(Changes(items=[copy]))
    assert [record.id for record in store.items_of_task("a")] == ["a", "c"]
    assert [record.id for record in store.items_of_task("b")] == ["b"]


def test_what_a_read_returns_is_the_caller_s_to_change(store: Store) -> None:
    """A read hands back containers of its own: an engine that adds to what it read (a moderator's profile, a
    content's history as it routes) changes nothing stored (found by a hand-run mutation review: a memory store
    that handed back its own dict or list passed every contract test, and only SQL stores copy by nature)."""
    submit(store, "a")
    store.apply(Changes(moderators=[("m1", "{}")], appeals=[("h-a", "p")]))
    store.moderators()["m2"] = "{}"
    store.content_history(["h-a"])["h-a"].append(("x", True))
    store.items(["a"]).clear()
    store.tasks(["a"]).clear()
    store.open_tasks().clear()
    store.items_of_task("a").clear()
    audit = store.audit(0.0, 100)
    assert isinstance(audit, list)
    audit.clear()
    assert store.moderators() == {"m1": "{}"}
    assert store.content_history(["h-a"]) == {"h-a": [("a", True), ("p", False)]}
    assert list(store.items(["a"])) == ["a"] and list(store.tasks(["a"])) == ["a"]
    assert [t.id for t in store.open_tasks()] == ["a"] and [r.id for r in store.items_of_task("a")] == ["a"]
    assert len(store.audit(0.0, 100)) == 1


def test_a_read_of_more_ids_than_one_statement_takes_finds_every_one(store: Store) -> None:
    """SQL stores read a long list of ids in chunks of 500 (a restart reads an hour's decided tasks): none may fall
    between two chunks (found by a hand-run mutation review: every contract read named a handful of ids)."""
    ids = [f"t{number:04}" for number in range(1203)]
    submit(store, *ids)
    assert set(store.items(ids)) == set(ids)
    assert set(store.tasks(ids)) == set(ids)
    assert set(store.content_history([f"h-{i}" for i in ids])) == {f"h-{i}" for i in ids}


def test_a_version_1_sqlite_database_is_migrated_and_its_tasks_need_no_extra_clearance(tmp_path: Path) -> None:
    import sqlite3
    from importlib import resources

    from queueopt.store.sqlite import SQLITE

    path = tmp_path / "v1.db"
    first = (resources.files("queueopt.store") / "sql" / "001_initial.sql").read_text()
    with sqlite3.connect(path) as connection:
        connection.executescript(first.format(**SQLITE.column_types))
        connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        connection.execute("INSERT INTO schema_version (version) VALUES (1)")
        old = task("old")
        connection.execute(
            "INSERT INTO tasks (id, item_id, queue, kind, state, priority, aging_rate, enqueued_at, modality, "
            "language, region, duration_s, severe, policy, attempt, skipped_by) "
            "VALUES ('old', 'old', 'q', 'review', 'queued', 2.5, 0.1, 10.0, 'video', 'en', 'us', 30.0, 1, "
            "'violence', 0, '[]')"
        )
    store = open_store(f"sqlite:///{path}")
    try:
        assert store.schema_version() == SCHEMA_VERSION == 15
        migrated = store.task("old")
        assert migrated is not None and migrated.clearance == () and migrated.areas == ()
        assert migrated.policy == old.policy
    finally:
        store.close()


def _schema_scripts(up_to: int, column_types: dict[str, str]) -> list[str]:
    """The statements of every migration file up to version `up_to`: a database as an older release left it."""
    from importlib import resources

    folder = resources.files("queueopt.store") / "sql"
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    statements = []
    for name in names:
        if int(name.split("_", 1)[0]) <= up_to:
            text = (folder / name).read_text().format(**column_types)
            for part in text.split(";"):
                body = "\n".join(line for line in part.splitlines() if not line.startswith("--")).strip()
                if body:
                    statements.append(body)
    return statements


@contextmanager
def _store_at_version(backend: str, tmp_path: Path, version: int, rows: Sequence[str]) -> Iterator[Store]:
    """A store made at an old schema `version` with `rows` inserted (SQL with a `{false}` placeholder), then opened
    by this code, which migrates it: what an upgrade finds on disk."""
    with _database_at_version(backend, tmp_path, version, rows) as url:
        store = open_store(url)
        try:
            yield store
        finally:
            store.close()


@contextmanager
def _database_at_version(backend: str, tmp_path: Path, version: int, rows: Sequence[str]) -> Iterator[str]:
    """The URL of a database a release at schema `version` left, with `rows` inserted (SQL with a `{false}`
    placeholder). A PostgreSQL one lives in a schema of its own, dropped afterwards."""
    import sqlite3
    import uuid

    import psycopg
    from tests.conftest import PG_URL

    from queueopt.store.postgres import POSTGRES
    from queueopt.store.sqlite import SQLITE

    schema = f"v{version}_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        path = tmp_path / f"v{version}.db"
        url = f"sqlite:///{path}"
        with sqlite3.connect(path) as connection:
            for statement in _schema_scripts(version, SQLITE.column_types):
                connection.execute(statement)
            connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            connection.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            for row in rows:
                connection.execute(row.format(false=0))
    else:
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"'.encode())
            connection.execute(f'SET search_path TO "{schema}"'.encode())
            for statement in _schema_scripts(version, POSTGRES.column_types):
                connection.execute(statement.encode())
            connection.execute(b"CREATE TABLE schema_version (version INTEGER NOT NULL)")
            connection.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
            for row in rows:
                connection.execute(row.format(false="FALSE").encode())
    try:
        yield url
    finally:
        if backend == "postgres":
            with psycopg.connect(PG_URL, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


_VERSION_3_COPIES = (
    "INSERT INTO tasks (id, item_id, queue, kind, state, priority, aging_rate, enqueued_at, modality, language, "
    "region, duration_s, severe, policy, attempt, skipped_by) VALUES ('reviewed', 'reviewed', 'q', 'review', "
    "'queued', 2.5, 0.1, 10.0, 'video', 'en', 'us', 30.0, {false}, NULL, 0, '[]')",
    "INSERT INTO items (id, payload, status, task_id, queue, priority, action, explanation, content_hash, "
    "submitted_at) VALUES "
    "('reviewed', '{{}}', 'queued', 'reviewed', 'q', 2.5, 'review', 'r', 'h1', 10.0), "
    "('copy-of-reviewed', '{{}}', 'duplicate', 'reviewed', NULL, 2.5, 'duplicate', 'r', 'h1', 11.0), "
    "('removed', '{{}}', 'auto_actioned', NULL, NULL, 9.0, 'auto_remove', 'r', 'h2', 12.0), "
    "('copy-of-removed', '{{}}', 'duplicate', 'removed', NULL, 9.0, 'duplicate', 'r', 'h2', 13.0), "
    "('appeal', '{{\"source\": \"appeal\"}}', 'queued', NULL, 'appeals', 1.0, 'review', 'r', 'h1', 14.0)",
)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_version_3_copy_of_an_automatically_actioned_item_names_no_task_once_migrated(
    backend: str, tmp_path: Path
) -> None:
    """Before version 4 a copy named the item it rode on as its `task_id`, a task that did not exist when that
    item had been actioned automatically. The migration moves the name to `duplicate_of` and keeps real tasks."""
    with _store_at_version(backend, tmp_path, 3, _VERSION_3_COPIES) as store:
        assert store.schema_version() == SCHEMA_VERSION == 15
        records = store.items(["reviewed", "copy-of-reviewed", "removed", "copy-of-removed"])
        named = {key: (record.task_id, record.duplicate_of) for key, record in records.items()}
        assert named == {
            "reviewed": ("reviewed", None),
            "copy-of-reviewed": ("reviewed", "reviewed"),
            "removed": (None, None),
            "copy-of-removed": (None, "removed"),
        }
        assert [record.id for record in store.items_of_task("reviewed")] == ["reviewed", "copy-of-reviewed"]
        # Version 7 rebuilds each content's history from the items: the copies handled on their own, and appeals.
        assert store.content_history(["h1", "h2"]) == {
            "h1": [("reviewed", True), ("appeal", False)],
            "h2": [("removed", True)],
        }


@pytest.mark.parametrize("version", [12, 13])
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_each_content_s_appeal_decided_last_is_its_ruling_once_migrated(
    backend: str, tmp_path: Path, version: int
) -> None:
    """Version 13 keeps each content's ruling; an upgraded store finds it among the items: the appeal or escalation
    of the content whose own decision was made last (not one still open, not one withdrawn, not the original), an
    `uphold` finding a violation under no policy of its own too (the engine carries the violation it reaffirms).
    Version 13's own migration, and engines before version 14, skipped upholds, so version 14 finds every ruling
    again: from a version 13 store, the uphold replaces the escalation it decided after (found by a review: after
    an approval in between, copies carried the approval)."""
    uphold = '\'violating\', \'{{"verdict": "violating", "action": "uphold"}}\''
    items = [  # id, source, status, content hash, submitted, decided, verdict and decision
        ("first", None, "decided", "h1", 10.0, 11.0, "NULL, NULL"),
        ("upheld", "appeal", "decided", "h1", 12.0, 13.0, "NULL, NULL"),
        ("reversed", "escalation", "decided", "h1", 12.5, 14.0, "NULL, NULL"),
        ("open", "appeal", "queued", "h1", 15.0, "NULL", "NULL, NULL"),
        ("withdrawn", "appeal", "cancelled", "h1", 16.0, "NULL", "NULL, NULL"),
        ("uphold", "appeal", "decided", "h1", 17.0, 18.0, uphold),
        ("second", None, "decided", "h2", 10.0, 20.0, "NULL, NULL"),
    ]
    values = ", ".join(
        f"('{item_id}', '{_payload_of(source)}', '{status}', '{item_id}', 'q', 1.0, 'review', 'r', '{content_hash}', "
        f"{submitted}, {decided}, {decision})"
        for item_id, source, status, content_hash, submitted, decided, decision in items
    )
    columns = "id, payload, status, task_id, queue, priority, action, explanation, content_hash, submitted_at"
    columns += ", decided_at, verdict, decision"
    rows = (f"INSERT INTO items ({columns}) VALUES {values}",)
    if version == 13:  # as version 13's migration filled it, or an engine before version 14 wrote it
        rows += ("INSERT INTO content_rulings (hash, item_id) VALUES ('h1', 'reversed')",)
    with _store_at_version(backend, tmp_path, version, rows) as store:
        assert store.schema_version() == SCHEMA_VERSION == 15
        assert store.rulings(["h1", "h2"]) == {"h1": "uphold"}


def _payload_of(source: str | None) -> str:
    """A stored item's JSON with that source (none: the default), its braces doubled for `_store_at_version`."""
    return json.dumps({"source": source} if source else {}).replace("{", "{{").replace("}", "}}")


def _old_task(state: str) -> str:
    """A task 'old' under its first lease's attempt, in `state`, as a store before version 10 wrote it."""
    return (
        "INSERT INTO tasks (id, item_id, queue, kind, state, priority, aging_rate, enqueued_at, modality, language, "
        f"region, duration_s, severe, policy, attempt, skipped_by) VALUES ('old', 'old', 'q', 'review', '{state}', "
        "2.5, 0.1, 10.0, 'video', 'en', 'us', 30.0, {false}, NULL, 1, '[]')"
    )


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_work_stored_before_version_11_is_purged_a_content_at_a_time_once_migrated(
    backend: str, tmp_path: Path
) -> None:
    """Version 11 indexes what a purge looks up (copies by the item they ride on, the audit by item): an upgraded
    store purges its settled content whole, the copy of an automatically removed item with it, and keeps content
    whose review is still open."""
    rows = (
        "INSERT INTO items (id, payload, status, task_id, queue, priority, action, explanation, content_hash, "
        "submitted_at, decided_at, duplicate_of) VALUES "
        "('removed', '{{}}', 'auto_actioned', NULL, NULL, 9.0, 'auto_remove', 'r', 'h2', 12.0, 12.0, NULL), "
        "('copy-of-removed', '{{}}', 'duplicate', NULL, NULL, 9.0, 'duplicate', 'r', 'h2', 13.0, 13.0, 'removed'), "
        "('reviewed', '{{}}', 'queued', 'reviewed', 'q', 2.5, 'review', 'r', 'h1', 10.0, NULL, NULL)",
        "INSERT INTO tasks (id, item_id, queue, kind, state, priority, aging_rate, enqueued_at, modality, language, "
        "region, duration_s, severe, policy, attempt, skipped_by) VALUES ('reviewed', 'reviewed', 'q', 'review', "
        "'queued', 2.5, 0.1, 10.0, 'video', 'en', 'us', 30.0, {false}, NULL, 0, '[]')",
        "INSERT INTO content_history (hash, item_id, owner) VALUES ('h2', 'removed', {false}), "
        "('h1', 'reviewed', {false})",
        "INSERT INTO audit (at, task_id, item_id, actor, transition, note) VALUES "
        "(12.0, NULL, 'removed', 'ingest', 'auto_remove', ''), (13.0, NULL, 'copy-of-removed', 'ingest', "
        "'duplicate', ''), (10.0, 'reviewed', 'reviewed', 'ingest', 'queued', '')",
    )
    with _store_at_version(backend, tmp_path, 10, rows) as store:
        assert store.schema_version() == SCHEMA_VERSION == 15
        purged = store.purge(1000.0, 0, 100)
        assert (purged.items, purged.tasks, purged.audit, purged.content) == (2, 0, 2, 1)
        assert set(store.items(["removed", "copy-of-removed", "reviewed"])) == {"reviewed"}
        assert store.content_history(["h2"]) == {}


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_task_decided_before_version_10_has_no_decision_once_migrated(backend: str, tmp_path: Path) -> None:
    """Version 10 keeps a decided task's decision; one decided before it has none (a retry of that decision is then
    refused like any stale lease)."""
    with _store_at_version(backend, tmp_path, 9, (_old_task("decided"),)) as store:
        assert store.schema_version() == SCHEMA_VERSION == 15
        old = store.task("old")
        assert old is not None and old.state is TaskState.DECIDED and old.attempt == 1 and old.decision is None


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_lease_handed_back_before_version_11_has_no_record_once_migrated(backend: str, tmp_path: Path) -> None:
    """Version 11 keeps each lease its holder handed back; one handed back before it has none (a retry of that
    release or skip is then refused like any stale lease), and the task itself is as it was."""
    with _store_at_version(backend, tmp_path, 10, (_old_task("queued"),)) as store:
        assert store.schema_version() == SCHEMA_VERSION == 15
        assert store.handed_back("old", "old.1", "m1") is None
        old = store.task("old")
        assert old is not None and old.state is TaskState.QUEUED and old.attempt == 1
        kept = ("old", "old.1", "m1", '{"transition":"released","moderator_id":"m1"}', "{}")
        store.apply(Changes(handed_back=[kept]))
        assert store.handed_back("old", "old.1", "m1") == kept[3:]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_store_a_newer_release_migrated_is_refused_and_left_as_it_was(backend: str, tmp_path: Path) -> None:
    """A rollback of the code onto a database a newer release migrated: the old code would write rows without what
    the newer columns keep and read their absence as "none", so it refuses to open the store and writes nothing."""
    import sqlite3

    import psycopg
    from tests.conftest import PG_URL

    from queueopt.errors import Conflict

    newer = SCHEMA_VERSION + 1
    with _database_at_version(backend, tmp_path, newer, (_old_task("queued"),)) as url:
        with pytest.raises(Conflict, match=f"version {newer}, newer than this queueopt's {SCHEMA_VERSION}"):
            open_store(url)
        query = (
            "SELECT (SELECT COUNT(*) FROM schema_version), (SELECT MAX(version) FROM schema_version), state FROM tasks"
        )
        if backend == "sqlite":
            with sqlite3.connect(tmp_path / f"v{newer}.db") as connection:
                found = connection.execute(query).fetchall()
        else:
            with psycopg.connect(PG_URL, autocommit=True) as connection:
                connection.execute(f'SET search_path TO "{url.rsplit("schema=", 1)[1]}"'.encode())
                found = connection.execute(query.encode()).fetchall()
    assert found == [(1, newer, "queued")]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_standby_s_open_leaves_an_older_schema_as_it_is_and_refuses_a_newer_one(backend: str, tmp_path: Path) -> None:
    """A standby opens a store an engine of another release may serve: migrating under that engine could break its
    reads and writes (found by a docs review: a newer standby migrated the store as it started), so it leaves the
    schema alone until it takes over, when opening as the serving engine migrates it."""
    from queueopt.errors import Conflict

    older = SCHEMA_VERSION - 1
    with _database_at_version(backend, tmp_path, older, (_old_task("queued"),)) as url:
        for _ in range(2):  # and a second standby, or a restart, finds it as it was
            standby = open_store(url, migrate=False)
            assert standby.schema_version() == older and standby.serving_address() is None
            standby.close()
        serving = open_store(url)
        assert serving.schema_version() == SCHEMA_VERSION
        serving.close()
    with _database_at_version(backend, tmp_path, SCHEMA_VERSION + 1, ()) as url:
        with pytest.raises(Conflict, match="newer than this queueopt's"):
            open_store(url, migrate=False)


def test_a_standby_s_open_of_a_database_nothing_migrated_yet_creates_no_table(tmp_path: Path) -> None:
    """Version 0: the standby waits for an engine to take the store and make it."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'new.db'}"
    store = open_store(url, migrate=False)
    assert store.schema_version() == 0
    store.close()
    with sqlite3.connect(tmp_path / "new.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchall() == [(0,)]


def test_a_sqlite_store_whose_write_lock_another_process_holds_too_long_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the busy timeout the write is refused whole with a 503-class error (retry), never an internal error."""
    import sqlite3

    from queueopt.errors import StoreUnavailable
    from queueopt.store import sqlite as sqlite_store

    url = f"sqlite:///{tmp_path / 'busy.db'}"
    open_store(url).close()
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_S", 0.2)
    store = open_store(url)
    holder = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="busy"):
            submit(store, "a")
        holder.execute("ROLLBACK")
        submit(store, "a")
        assert store.task("a") == task("a")
    finally:
        holder.close()
        store.close()


@pytest.mark.postgres
def test_a_postgres_store_whose_session_ends_is_unavailable_and_applies_nothing() -> None:
    """A server restart or an operator's `pg_terminate_backend` ends the store's session: every read and write is
    then a 503-class error (retry), never an internal error, and the write it broke in is not applied."""
    import uuid

    import psycopg
    from tests.conftest import PG_URL

    from queueopt.errors import StoreUnavailable

    schema, name = f"t_{uuid.uuid4().hex[:16]}", f"queueopt-test-{uuid.uuid4().hex[:12]}"
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}&application_name={name}"
    store = open_store(url)
    try:
        submit(store, "kept")
        with psycopg.connect(PG_URL, autocommit=True) as operator:
            ended = operator.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = %s", (name,)
            ).fetchall()
        assert ended == [(True,)]
        with pytest.raises(StoreUnavailable, match="PostgreSQL: terminating connection"):
            submit(store, "lost")
        with pytest.raises(StoreUnavailable, match="PostgreSQL: the connection is closed"):
            store.items(["kept"])
        assert not store.ping()
    finally:
        store.close()
    again = open_store(url)
    try:
        assert list(again.items(["kept", "lost"])) == ["kept"]
    finally:
        again.close()
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_a_sqlite_store_on_a_full_disk_refuses_a_write_whole_as_unavailable(tmp_path: Path) -> None:
    """A full disk (here the connection's page limit), like a failing or read-only one, refuses the write whole with
    a 503-class error (retry), never an internal error. SQLite ends the transaction itself on a full disk, and the
    store writes again once there is room."""
    from queueopt.errors import StoreUnavailable
    from queueopt.store.sql import SqlStore

    store = open_store(f"sqlite:///{tmp_path / 'full.db'}")
    assert isinstance(store, SqlStore)
    connection = store._connection  # the page limit is the connection's own
    try:
        submit(store, "kept")
        pages = connection.execute("PRAGMA page_count").fetchall()[0][0]
        connection.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreUnavailable, match="SQLite: database or disk is full"):
            submit(store, *[f"lost-{n}" for n in range(200)])
        connection.execute("PRAGMA max_page_count = 1073741823")
        submit(store, "after")
        assert sorted(store.items(["kept", "lost-0", "after"])) == ["after", "kept"]
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_wrong_query_or_a_broken_constraint_is_a_bug_not_an_unavailable_store(backend: str) -> None:
    """Only the database's state (a lost session, a busy or failing disk) is answered 503; an error that signals a
    bug stays one, for the last-resort handler to log and answer 500."""
    queries = [
        "SELEC 1",
        "SELECT * FROM no_such_table",
        "CREATE TEMPORARY TABLE once (id INTEGER PRIMARY KEY)",
        "INSERT INTO once (id) VALUES (1)",
        "INSERT INTO once (id) VALUES (1)",
    ]
    if backend == "sqlite":
        import sqlite3

        from queueopt.store.sqlite import SQLITE as dialect

        connection: Any = sqlite3.connect(":memory:", isolation_level=None)
    else:
        import psycopg
        from tests.conftest import PG_URL

        from queueopt.store.postgres import POSTGRES as dialect

        connection = psycopg.connect(PG_URL, autocommit=True)
        queries.append("SELECT 'a\x00b'::text")
    errors = []
    try:
        for query in queries:
            try:
                connection.execute(query)
            except dialect.driver_error as error:
                errors.append(error)
    finally:
        connection.close()
    assert len(errors) == len(queries) - 2
    assert [dialect.unavailable(error) for error in errors] == [None] * len(errors)
