from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from tests.conftest import StoreFactory

from queueopt.capability import ModeratorProfile
from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.domain import Item
from queueopt.engine import Engine
from queueopt.store.records import AuditEntry

EngineFactory = Callable[[], Engine]

ENDS_A_LEASE = {"released", "skipped", "expired", "decided", "cancelled"}


def assert_never_leased_twice(audit: Iterable[AuditEntry]) -> None:
    """Replays the audit log: no task is leased again before its lease ended (released, skipped, expired, decided
    or cancelled)."""
    holder: dict[str, str | None] = defaultdict(lambda: None)
    for entry in audit:
        if entry.task_id is None:
            continue
        if entry.transition == "leased":
            assert holder[entry.task_id] is None, f"task {entry.task_id} leased twice at seq {entry.seq}"
            holder[entry.task_id] = entry.note
        elif entry.transition in ENDS_A_LEASE:
            holder[entry.task_id] = None


def profile(moderator_id: str, **overrides: Any) -> ModeratorProfile:
    fields: dict[str, Any] = {
        "id": moderator_id,
        "regions": ["us", "eu"],
        "languages": {"en": 1.0, "es": 0.8},
        "modalities": ["video", "photo", "text", "audio", "livestream"],
        "policy_areas": ["violence", "hate", "nudity", "harassment", "spam", "self_harm"],
    }
    fields.update(overrides)
    return ModeratorProfile(**fields)


def video(item_id: str, **overrides: Any) -> Item:
    fields: dict[str, Any] = {
        "id": item_id,
        "modality": "video",
        "language": "en",
        "region": "us",
        "signals": {"violence": 0.8},
        "views_per_hour": 100.0,
    }
    fields.update(overrides)
    return Item(**fields)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(1_000.0)


@pytest.fixture
def engine_factory(store_factory: StoreFactory, clock: VirtualClock, example_config: OpsConfig) -> EngineFactory:
    """A new engine on the same store each call: the second call is a restart."""

    def factory() -> Engine:
        return Engine(store_factory(), clock, example_config)

    return factory


@pytest.fixture
def engine(engine_factory: EngineFactory) -> Engine:
    return engine_factory()
