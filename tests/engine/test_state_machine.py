"""A hypothesis state machine over the whole lifecycle, against a simple reference model, on every store.

Invariants: an acknowledged item is never lost; a task has at most one live lease, held by one moderator
within capacity; a duplicate id is a no-op; a stale lease token never takes effect. A "restart" rebuilds
the engine from the store mid-run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tests.conftest import PG_URL, REPO
from tests.engine.conftest import profile, video

from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig, load_config
from queueopt.domain import Decision, ItemStatus, ModeratorStatus, TaskState, Verdict
from queueopt.engine import Engine
from queueopt.errors import QueueoptError, StaleLease
from queueopt.store import MemoryStore, Store, open_store

CONFIG: OpsConfig = load_config(REPO / "examples" / "ops.toml")
IDS = [f"i{index}" for index in range(8)]
MODERATORS = ["m0", "m1", "m2"]


def fresh_backend(backend: str, folder: Path) -> tuple[Callable[[], Store], Callable[[], None]]:
    """A store nobody used before, and how to reopen it (a restart) and clean it up."""
    if backend == "memory":
        memory = MemoryStore()
        return (lambda: memory), (lambda: None)
    opened: list[Store] = []
    name = uuid.uuid4().hex[:12]
    if backend == "sqlite":
        url = f"sqlite:///{folder / name}.db"
    else:
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema=sm_{name}"

    def reopen() -> Store:
        opened.append(open_store(url))
        return opened[-1]

    def cleanup() -> None:
        for store in opened:
            store.close()
        if backend == "postgres":
            with psycopg.connect(PG_URL, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "sm_{name}" CASCADE')

    return reopen, cleanup


class Lifecycle(RuleBasedStateMachine):
    backend: str
    folder: Path

    @initialize()
    def start(self) -> None:
        self.clock = VirtualClock(0.0)
        self.factory, self.cleanup = fresh_backend(type(self).backend, type(self).folder)
        self.store = self.factory()
        self.engine = Engine(self.store, self.clock, CONFIG, qa_secret="lifecycle")
        for moderator in MODERATORS:
            self.engine.upsert_moderator(profile(moderator, capacity=2))
        self.submitted: set[str] = set()
        self.decided: set[str] = set()
        self.tokens: dict[str, tuple[str, str]] = {}  # task id -> (token, holder) as last handed out
        self.stale: list[tuple[str, str, str]] = []

    def _restart(self) -> None:
        self.engine = Engine(self.factory(), self.clock, CONFIG, qa_secret="lifecycle")

    def teardown(self) -> None:
        if hasattr(self, "cleanup"):
            self.cleanup()

    @rule(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=3))
    def submit(self, ids: list[str]) -> None:
        before = {item_id: self.engine.item(item_id) for item_id in ids if item_id in self.submitted}
        results = self.engine.submit([video(item_id) for item_id in ids])
        assert [result.id for result in results] == ids
        for item_id, seen in before.items():
            assert self.engine.item(item_id) == seen  # a duplicate id is a no-op
        self.submitted.update(ids)

    def _remember(self, moderator: str) -> None:
        for task_id in self.engine.moderator(moderator).leases:
            token = self.engine.task(task_id).lease_token
            assert token is not None
            previous = self.tokens.get(task_id)
            if previous is not None and previous[0] != token:
                self.stale.append((task_id, *previous))
            self.tokens[task_id] = (token, moderator)

    @rule()
    def assign_batch(self) -> None:
        self.engine.assign_batch()
        for moderator in MODERATORS:
            self._remember(moderator)

    @rule(moderator=st.sampled_from(MODERATORS))
    def next_for(self, moderator: str) -> None:
        self.engine.next_for(moderator)
        self._remember(moderator)

    def _live(self) -> list[tuple[str, str, str]]:
        return [
            (task_id, token, holder)
            for task_id, (token, holder) in self.tokens.items()
            if self.engine.task(task_id).lease_token == token
        ]

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data(), action=st.sampled_from(["decide", "release", "skip", "extend"]))
    def act(self, data: st.DataObject, action: str) -> None:
        task_id, token, holder = data.draw(st.sampled_from(self._live()))
        if action == "decide":
            self.engine.decide(task_id, token, holder, Decision(verdict=Verdict.VIOLATING))
            self.decided.add(task_id)
        elif action == "release":
            self.engine.release(task_id, token, holder)
        elif action == "skip":
            self.engine.skip(task_id, token, holder, "test")
        else:
            self.engine.extend(task_id, token, holder, 120.0)
        self.stale.append((task_id, token, holder))
        del self.tokens[task_id]

    @precondition(lambda self: bool(self.stale))
    @rule(data=st.data())
    def stale_token_never_takes_effect(self, data: st.DataObject) -> None:
        task_id, token, holder = data.draw(st.sampled_from(self.stale))
        before = self.engine.task(task_id)
        if before.lease_token == token:
            return  # the same lease handed out again (restart), not stale
        with pytest.raises(QueueoptError) as refused:
            self.engine.decide(task_id, token, holder, Decision(verdict=Verdict.NOT_VIOLATING))
        assert isinstance(refused.value, StaleLease) or refused.value.status == 403
        assert self.engine.task(task_id) == before

    @rule(seconds=st.sampled_from([10.0, 300.0, 700.0, 2000.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.engine.expire()

    @rule()
    def restart(self) -> None:
        self._restart()

    @rule(
        moderator=st.sampled_from(MODERATORS), status=st.sampled_from(ModeratorStatus), capacity=st.sampled_from([1, 2])
    )
    def change_profile(self, moderator: str, status: ModeratorStatus, capacity: int) -> None:
        """A status or capacity change; going offline hands the moderator's leases back."""
        self.engine.upsert_moderator(profile(moderator, capacity=capacity, status=status))

    @invariant()
    def nothing_lost_and_one_lease_per_task(self) -> None:
        if not hasattr(self, "engine"):
            return
        assert self.store.count_items() == len(self.submitted)
        holders: dict[str, int] = {}
        for task in self.store.open_tasks():
            if task.state is TaskState.LEASED:
                assert task.holder is not None and task.lease_token is not None
                holders[task.holder] = holders.get(task.holder, 0) + 1
        assert all(count <= 2 for count in holders.values())
        free = [
            (moderator, view.profile.capacity - len(view.leases))
            for moderator, view in ((moderator, self.engine.moderator(moderator)) for moderator in MODERATORS)
            if view.profile.status is ModeratorStatus.AVAILABLE
            and len(view.leases) < view.profile.capacity
            and not view.idle_after_expiry
        ]
        moderators, slots = self.engine._free_moderators()  # the batch's maintained index against a full scan
        assert list(zip(moderators, slots.tolist(), strict=True)) == free
        for item_id in self.decided:
            assert self.engine.item(item_id).status is ItemStatus.DECIDED
            assert self.engine.task(item_id).state is TaskState.DECIDED


@pytest.mark.parametrize("backend", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_lifecycle_state_machine(backend: str, tmp_path: Path) -> None:
    machine = type(f"Lifecycle_{backend}", (Lifecycle,), {"backend": backend, "folder": tmp_path})
    durable = backend != "memory"
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=15 if durable else 60,
            stateful_step_count=20 if durable else 30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
