"""The engine's lanes of queued work: what decides which tasks share one."""

from __future__ import annotations

import dataclasses

from tests.engine.conftest import video

from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.engine import Engine
from queueopt.engine.waiting import _lane
from queueopt.store import MemoryStore


def test_severe_and_other_work_never_share_a_lane(example_config: OpsConfig) -> None:
    """Whether anyone free may take a lane is read off one sample task and, for work that is not severe, kept per
    set of skill groups; a severe copy of otherwise identical work (a duplicate of severe content asks as much) must
    sit in a lane of its own, or a spent severe budget is never asked about it, or the kept answer of a severe sample
    shuts the mild work behind it."""
    engine = Engine(MemoryStore(), VirtualClock(1_000.0), example_config)
    engine.submit([video("mild", signals={"nudity": 0.7})])
    (mild,) = engine._tasks.values()
    assert not mild.severe, "the premise: work of an area that is not severe"
    severe = dataclasses.replace(mild, severe=True)
    for step in range(2):
        assert _lane(mild, step) != _lane(severe, step)
    assert _lane(mild, 0) != _lane(mild, 1)
