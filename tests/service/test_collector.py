"""The service's garbage-collector policy: survivors of a full collection are frozen, and a periodic sweep
unfreezes them so a reference cycle among them is still reclaimed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from queueopt.service.collector import CollectorPolicy


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Iterator[_FakeClock]:
    yield _FakeClock()


@pytest.fixture
def policy(clock: _FakeClock) -> Iterator[CollectorPolicy]:
    policy = CollectorPolicy(sweep_every_s=60.0, clock=clock)
    policy.install()
    try:
        yield policy
    finally:
        policy.uninstall()


def _cycle() -> weakref.ref[_Node]:
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    return weakref.ref(first)


def test_install_freezes_what_exists(policy: CollectorPolicy) -> None:
    assert gc.get_freeze_count() > 0


def test_survivors_of_a_full_collection_are_frozen(policy: CollectorPolicy) -> None:
    kept = [_Node() for _ in range(100)]
    gc.unfreeze()
    gc.collect()
    assert gc.get_freeze_count() >= len(kept)
    assert all(gc.is_tracked(node) for node in kept)


def test_young_collections_freeze_nothing(policy: CollectorPolicy) -> None:
    gc.unfreeze()
    gc.collect(1)
    assert gc.get_freeze_count() == 0


def test_a_cycle_that_forms_among_frozen_objects_is_reclaimed_after_the_sweep(
    policy: CollectorPolicy, clock: _FakeClock
) -> None:
    first, second = _Node(), _Node()
    gc.collect()  # both survive and are frozen
    first.other, second.other = second, first
    dead = weakref.ref(first)
    del first, second
    gc.collect()
    assert dead() is not None, "frozen objects are not collected before a sweep"
    clock.now += 61.0
    gc.collect()  # the sweep: unfreezes everything instead of freezing
    assert policy.sweeps == 1
    gc.collect()  # walks everything once
    assert dead() is None


def test_a_young_cycle_is_collected_as_usual(policy: CollectorPolicy) -> None:
    dead = _cycle()
    gc.collect()
    assert dead() is None


def test_uninstall_stops_freezing(clock: _FakeClock) -> None:
    policy = CollectorPolicy(clock=clock)
    policy.install()
    policy.uninstall()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gc.get_freeze_count() == 0
