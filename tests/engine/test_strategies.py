"""What each strategy hands out first, through the engine's batch and pull: the order is the strategy's whole point."""

from __future__ import annotations

import pytest
from tests.engine.conftest import profile, video
from tests.engine.test_batch import narrow

from queueopt.clock import VirtualClock
from queueopt.config import OpsConfig
from queueopt.engine import Engine
from queueopt.store import MemoryStore


def _first_handed_out(engine: Engine, hand_out: str) -> str:
    """The task m1, the only moderator, is given first: by a batch, or by their own pull."""
    if hand_out == "batch":
        (lease,) = engine.assign_batch()
        return lease.task_id
    pulled = engine.next_for("m1")
    assert pulled is not None
    return pulled.id


def test_optimal_keeps_the_specialist_for_the_task_only_they_can_take(example_config: OpsConfig) -> None:
    """Greedy would give the bilingual moderator, first on the roster, the more valuable English task and leave the
    Spanish one unassigned; the exact matching gives English to the generalist and both tasks are reviewed."""
    engine = Engine(MemoryStore(), VirtualClock(1_000.0), example_config, strategy="optimal")
    engine.upsert_moderator(profile("bilingual", languages={"en": 1.0, "es": 1.0}))
    engine.upsert_moderator(profile("english", languages={"en": 1.0}))
    engine.submit([video("en", views_per_hour=10_000.0), video("es", language="es", views_per_hour=10.0)])
    leased = {lease.task_id: lease.moderator_id for lease in engine.assign_batch()}
    assert leased == {"en": "english", "es": "bilingual"}


@pytest.mark.parametrize("hand_out", ["batch", "pull"])
def test_fifo_hands_out_the_oldest_task_before_a_more_urgent_newer_one(
    example_config: OpsConfig, clock: VirtualClock, hand_out: str
) -> None:
    engine = Engine(MemoryStore(), clock, example_config, strategy="fifo")
    engine.upsert_moderator(profile("m1"))
    engine.submit([video("old", views_per_hour=10.0)])
    clock.advance(10.0)
    engine.submit([video("new", views_per_hour=10_000.0)])
    assert _first_handed_out(engine, hand_out) == "old"


@pytest.mark.parametrize("hand_out", ["batch", "pull"])
def test_priority_weighs_the_aging_a_task_has_earned_by_now(
    example_config: OpsConfig, clock: VirtualClock, hand_out: str
) -> None:
    """A livestream task ages at one unit a second: after ten minutes its harm rate of 48 has grown to 648 and
    outranks a fresh video task of 480 in a queue that does not age, whatever their static queue keys say."""
    engine = Engine(MemoryStore(), clock, example_config, strategy="priority")
    engine.upsert_moderator(profile("m1"))
    engine.submit([video("live", modality="livestream", views_per_hour=10.0)])
    clock.advance(600.0)
    engine.submit([video("fresh", views_per_hour=100.0)])
    assert (engine.task("live").queue, engine.task("fresh").queue) == ("livestream", "video_high_en")
    assert _first_handed_out(engine, hand_out) == "live"


@pytest.mark.parametrize("hand_out", ["batch", "pull"])
def test_an_aged_task_moves_ahead_of_a_newer_one_in_its_own_queue(
    example_config: OpsConfig, clock: VirtualClock, hand_out: str
) -> None:
    """The queue's own order must include the aging: with a window of one task, or a pull taking a queue's first
    eligible task, a livestream task of 48 that has waited ten minutes (648 by now) goes before a new one of 480."""
    engine = Engine(MemoryStore(), clock, narrow(example_config, 1), strategy="priority")
    engine.upsert_moderator(profile("m1"))
    engine.submit([video("old", modality="livestream", views_per_hour=10.0)])
    clock.advance(600.0)
    engine.submit([video("new", modality="livestream", views_per_hour=100.0)])
    assert engine.task("old").queue == engine.task("new").queue == "livestream"
    assert _first_handed_out(engine, hand_out) == "old"
