"""A small ops config that exercises every eligibility dimension: queue languages, policy areas, both clearance
sources (a queue's and a policy area's), severe areas and escalation steps relaxing each requirement in turn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from queueopt.capability import ModeratorProfile
from queueopt.config import OpsConfig, parse_config
from queueopt.domain import Modality, Task, TaskKind, TaskState

CAPABILITY_CONFIG = {
    "policy_areas": [
        {"name": "abuse", "severity": 10.0, "severe": True, "clearance": "tier1"},
        {"name": "gore", "severity": 6.0, "severe": True},
        {"name": "hate", "severity": 5.0},
        {"name": "spam", "severity": 0.5},
    ],
    "queues": [
        {"name": "plain", "sla_s": 3600},
        {
            "name": "english",
            "sla_s": 600,
            "requires": {"languages": ["en"]},
            "escalation": [{"after_s": 60, "relax": ["language"]}, {"after_s": 120, "relax": ["region", "clearance"]}],
        },
        {
            "name": "special",
            "sla_s": 600,
            "requires": {"policy_areas": ["hate"], "clearance": ["tier2"]},
            "escalation": [{"after_s": 30, "relax": ["policy_areas"]}, {"after_s": 90, "relax": ["modality"]}],
        },
    ],
    "rules": [{"name": "all", "queue": "plain"}],
}


@pytest.fixture(scope="session")
def config() -> OpsConfig:
    return parse_config(CAPABILITY_CONFIG)


def profile(moderator_id: str, **fields: object) -> ModeratorProfile:
    """A moderator who can take anything in the config unless `fields` say otherwise."""
    defaults: dict[str, object] = {
        "regions": ["r1", "r2"],
        "languages": {"en": 1.0, "fr": 0.5},
        "modalities": list(Modality),
        "policy_areas": ["abuse", "gore", "hate", "spam"],
        "clearance": ["tier1", "tier2"],
    }
    return ModeratorProfile.model_validate({"id": moderator_id, **defaults, **fields})


def task(task_id: str, **fields: object) -> Task:
    values: dict[str, Any] = {
        "queue": "plain",
        "priority": 1.0,
        "aging_rate": 0.0,
        "enqueued_at": 0.0,
        "modality": Modality.TEXT,
        "language": "en",
        "region": "r1",
    }
    values.update(fields)
    return Task(id=task_id, item_id=task_id, kind=TaskKind.REVIEW, state=TaskState.QUEUED, **values)


@pytest.fixture(scope="session")
def make_profile() -> Callable[..., ModeratorProfile]:
    return profile


@pytest.fixture(scope="session")
def make_task() -> Callable[..., Task]:
    return task
