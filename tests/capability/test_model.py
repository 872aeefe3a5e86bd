"""The roster side of the model: validation against the config, removal, and a state that survives JSON."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from pydantic import ValidationError

from queueopt.capability import Model, ModeratorProfile
from queueopt.config import OpsConfig
from queueopt.domain import Modality, ModeratorStatus, Task
from queueopt.errors import InvalidInput, NotFound


def test_profile_needs_a_region(make_profile: Callable[..., ModeratorProfile]) -> None:
    with pytest.raises(ValidationError):
        make_profile("m", regions=[])
    with pytest.raises(ValidationError):
        make_profile("m", languages={"en": 0.0})
    with pytest.raises(ValidationError):
        make_profile("m", capacity=51)


@pytest.mark.parametrize(("field", "value"), [("policy_areas", ["nope"]), ("clearance", ["nope"])])
def test_upsert_refuses_what_the_config_does_not_know(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], field: str, value: list[str]
) -> None:
    model = Model(config)
    with pytest.raises(InvalidInput) as error:
        model.upsert(make_profile("m", **{field: value}))
    assert error.value.field == f"{field}.0"
    assert model.moderator_ids() == []


def test_upsert_replace_and_remove(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], make_task: Callable[..., Task]
) -> None:
    model = Model(config)
    model.upsert(make_profile("a"))
    model.upsert(make_profile("b"))
    model.observe_accuracy("a", "hate", False)
    model.upsert(make_profile("a", status=ModeratorStatus.AWAY))
    assert model.profile("a").status is ModeratorStatus.AWAY
    assert model.accuracy("a", "hate") < model.accuracy("b", "hate")
    assert not model.eligible(make_task("t"), "a", 0.0)
    model.remove("a")
    assert model.moderator_ids() == ["b"]
    for call in (lambda: model.profile("a"), lambda: model.remove("a"), lambda: model.value([], ["a"], 0.0)):
        with pytest.raises(NotFound):
            call()
    model.upsert(make_profile("c"))
    assert model.accuracy("c", "hate") == pytest.approx(model.accuracy("b", "hate"))


def test_value_shapes_and_duplicate_columns(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], make_task: Callable[..., Task]
) -> None:
    model = Model(config)
    model.upsert(make_profile("a"))
    assert model.value([], ["a"], 0.0).shape == (0, 1)
    assert model.value([make_task("t")], [], 0.0).shape == (1, 0)
    with pytest.raises(InvalidInput):
        model.value([make_task("t")], ["a", "a"], 0.0)


def test_new_skills_make_old_demands_eligible(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], make_task: Callable[..., Task]
) -> None:
    """A language first held after a batch was scored must not stay 'never held' in any cache."""
    model = Model(config)
    model.upsert(make_profile("a"))
    basque = make_task("t", language="eu")
    assert not model.eligible(basque, "a", 0.0)
    model.upsert(make_profile("b", languages={"eu": 0.7}))
    assert model.eligible(basque, "b", 0.0)
    assert not model.eligible(basque, "a", 0.0)


def test_state_survives_json(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], make_task: Callable[..., Task]
) -> None:
    model = Model(config)
    for index, vendor in enumerate(["x", "x", "y"]):
        model.upsert(make_profile(f"m{index}", vendor=vendor, cooldown_s=30.0))
        model.observe_accuracy(f"m{index}", "hate", index % 2 == 0)
        model.observe_accuracy(f"m{index}", None, True)
        model.observe_handling(f"m{index}", Modality.VIDEO, 100.0 + index, 120.0)
        model.record_severe(f"m{index}", 50.0 * index)
    model.severe_review_started("m2")  # found by a probe: a severe item still in review was forgotten
    backlog = [make_task("a", policy="hate"), make_task("b", policy="gore", severe=True, modality=Modality.VIDEO)]
    ids = model.moderator_ids()
    restored = Model(config)
    restored.load_state_dict(json.loads(json.dumps(model.state_dict())))
    assert restored.moderator_ids() == ids
    assert restored.state_dict() == model.state_dict()
    for now in (60.0, 200.0, 4000.0):
        assert np.array_equal(restored.value(backlog, ids, now).toarray(), model.value(backlog, ids, now).toarray())
        assert [restored.severe_budget_left(m, now) for m in ids] == [model.severe_budget_left(m, now) for m in ids]
        assert restored.severe_caps(ids, now).tolist() == model.severe_caps(ids, now).tolist()
    assert model.severe_caps(["m2"], 4000.0).tolist() == [0]  # still in review, long after its cool-down


def test_corrupt_state_leaves_the_model_as_it_was(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile]
) -> None:
    model = Model(config)
    model.upsert(make_profile("m"))
    state = model.state_dict()
    bad = json.loads(json.dumps(state))
    bad["moderators"][0]["accuracy"] = {"hate": [5, 2]}
    with pytest.raises(InvalidInput):
        model.load_state_dict(bad)
    with pytest.raises(ValidationError):
        model.load_state_dict({"moderators": [{"profile": {"id": "x"}}]})
    assert model.state_dict() == state


def test_handling_times_under_a_second_cannot_make_values_infinite(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], make_task: Callable[..., Task]
) -> None:
    """Found by a probe: 200 observed handling times of 1e-310 s made every value of the group infinite (the one
    moderator without observations too, through the group's shrinkage), and the solver refused the batch."""
    from queueopt.assign import solve

    model = Model(config)
    for moderator_id in ("a", "b"):
        model.upsert(make_profile(moderator_id))
    for _ in range(200):
        model.observe_handling("a", Modality.TEXT, 1e-310, 0.0)
    tasks = [make_task("t1", priority=5.0), make_task("t2", priority=5.0)]
    value = model.value(tasks, ["a", "b"], 0.0).toarray()
    assert np.isfinite(value).all() and (value > 0).all()
    assert len(solve(value, np.ones(2, dtype=np.int64))) == 2


def test_a_language_dropped_from_a_profile_is_valued_as_unspoken(
    config: OpsConfig, make_profile: Callable[..., ModeratorProfile], make_task: Callable[..., Task]
) -> None:
    """A moderator who no longer reads French must not keep their old French proficiency: once the queue relaxes
    its language rule they may take a French task, valued as any moderator who never read it."""
    model = Model(config)
    model.upsert(make_profile("a", languages={"en": 1.0, "fr": 0.9}))
    model.upsert(make_profile("a", languages={"en": 1.0}))
    model.upsert(make_profile("b", languages={"en": 1.0}))
    french = make_task("t", queue="english", language="fr")
    pair = model.value([french], ["a", "b"], 100.0).toarray()
    assert pair[0, 0] > 0
    assert pair[0, 0] == pair[0, 1]
    assert model.value([french], ["a"], 100.0).toarray()[0, 0] == pair[0, 1]
