from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import REPO

from queueopt.config import EscalationStep, OpsConfig, load_config
from queueopt.domain import Action, Item, Modality, Source, Verdict
from queueopt.enqueue import Asked, DuplicateOf, Router
from queueopt.enqueue.rules import same_attribute

CONFIG = load_config(REPO / "examples" / "ops.toml")
AREAS = [area.name for area in CONFIG.policy_areas]


def items(signals: st.SearchStrategy[dict[str, float]] | None = None) -> st.SearchStrategy[Item]:
    return st.builds(
        Item,
        id=st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
        modality=st.sampled_from(Modality),
        duration_s=st.floats(0, 7200),
        language=st.sampled_from(["en", "es", "pt", "hi", "ar"]),
        region=st.sampled_from(["us", "eu", "br", "in"]),
        signals=signals if signals is not None else st.dictionaries(st.sampled_from(AREAS), st.floats(0, 1)),
        source=st.sampled_from(Source),
        views_per_hour=st.floats(0, 1e7),
        reports=st.integers(0, 1000),
    )


@settings(max_examples=300, deadline=None)
@given(items())
def test_every_item_gets_exactly_one_deterministic_routing(item: Item) -> None:
    router = Router(CONFIG)
    first, second = router.route(item), Router(CONFIG).route(item)
    assert first == second
    if first.action is Action.REVIEW:
        assert first.queue in CONFIG.queues_by_name
        assert first.rule is not None and first.rule in first.explanation
        matching = [rule.name for rule in CONFIG.rules if _matches(rule.when.model_dump(), item)]
        assert first.rule == matching[0]
    else:
        assert first.queue is None and first.verdict is not None


def _matches(when: dict[str, Any], item: Item) -> bool:
    """A slow, obvious reading of the predicate semantics, to check the compiled rules against."""
    for name in ("modality", "language", "region", "source"):
        if when[name] is not None and getattr(item, name) not in when[name]:
            return False
    if any(item.signals.get(a, 0.0) < t for a, t in (when["min_signal"] or {}).items()):
        return False
    if any(item.signals.get(a, 0.0) > t for a, t in (when["max_signal"] or {}).items()):
        return False
    duration = when["duration_s"] or {"min": None, "max": None}
    if duration["min"] is not None and item.duration_s < duration["min"]:
        return False
    if duration["max"] is not None and item.duration_s > duration["max"]:
        return False
    if when["min_reports"] is not None and item.reports < when["min_reports"]:
        return False
    return all(
        k in item.attributes and same_attribute(item.attributes[k], v) for k, v in (when["attributes"] or {}).items()
    )


def _review_priority(config: OpsConfig, item: Item) -> float:
    return Router(config).priority_model.terms(item).priority


@settings(max_examples=300, deadline=None)
@given(
    items(),
    st.floats(0, 1e6),
    st.sampled_from(AREAS),
    st.floats(0, 1),
    st.integers(0, 100),
    st.floats(0, 20),
)
def test_priority_never_decreases_when_harm_inputs_grow(
    item: Item, more_views: float, area: str, more_signal: float, more_reports: int, more_severity: float
) -> None:
    base = _review_priority(CONFIG, item)
    grown_signal = min(1.0, item.signals.get(area, 0.0) + more_signal)
    assert (
        _review_priority(CONFIG, item.model_copy(update={"views_per_hour": item.views_per_hour + more_views})) >= base
    )
    assert _review_priority(CONFIG, item.model_copy(update={"signals": {**item.signals, area: grown_signal}})) >= base
    assert _review_priority(CONFIG, item.model_copy(update={"reports": item.reports + more_reports})) >= base
    data = CONFIG.model_dump()
    for entry in data["policy_areas"]:
        if entry["name"] == area:
            entry["severity"] += more_severity
    assert _review_priority(OpsConfig.model_validate(data), item) >= base


def test_explanation_names_rule_and_priority_terms() -> None:
    item = Item(id="v1", modality="video", language="en", region="us", signals={"violence": 0.8}, views_per_hour=1000)
    routing = Router(CONFIG).route(item)
    assert routing.queue == "video_high_en"
    assert routing.rule == "video_violence_en"
    assert routing.policy == "violence" and routing.severe
    # harm 6 * 0.8 = 4.8; exposure 1000 views/h (proactive source adds nothing)
    assert routing.priority == pytest.approx(4800.0)
    assert "rule 'video_violence_en'" in routing.explanation
    assert "violence 4.8" in routing.explanation and "exposure 1e+03/h" in routing.explanation
    assert routing.aging_rate == 50.0 / 1800


def test_auto_remove_and_auto_approve() -> None:
    router = Router(CONFIG)
    spam = Item(id="s", modality="text", language="en", region="us", signals={"spam": 0.995})
    removed = router.route(spam)
    assert removed.action is Action.AUTO_REMOVE and removed.verdict is Verdict.VIOLATING
    assert removed.policy == "spam" and "remove_at" in removed.explanation
    low = {"spam": 0.01, "nudity": 0.01, "violence": 0.01, "hate": 0.01, "harassment": 0.01}
    benign = Item(id="b", modality="photo", language="en", region="us", signals=low)
    assert router.route(benign).action is Action.AUTO_APPROVE
    # a missing score is not evidence of safety
    partial = benign.model_copy(update={"signals": {"spam": 0.01, "nudity": 0.01}})
    assert router.route(partial).action is Action.REVIEW
    # a report, an appeal or an unlisted policy area always reaches a human
    assert router.route(benign.model_copy(update={"reports": 1})).action is Action.REVIEW
    assert router.route(benign.model_copy(update={"source": Source.APPEAL})).queue == "appeals"
    risky = benign.model_copy(update={"signals": {**low, "self_harm": 0.01}})
    assert router.route(risky).action is Action.REVIEW
    appeal_of_spam = spam.model_copy(update={"source": Source.APPEAL})
    assert router.route(appeal_of_spam).queue == "appeals"


def test_a_score_exactly_at_its_threshold_removes_or_approves() -> None:
    """`remove_at` removes at or above it and `approve_at` approves at or below it, as the config reference says:
    a classifier's calibrated cut-offs are themselves scores that decide (found by a hand-run mutation review: a
    strict comparison at either end passed every test)."""
    router = Router(CONFIG)
    remove_at = CONFIG.auto_actions.remove_at["spam"]
    at_removal = Item(id="s", modality="text", language="en", region="us", signals={"spam": remove_at})
    assert router.route(at_removal).action is Action.AUTO_REMOVE
    assert router.route(at_removal.model_copy(update={"signals": {"spam": 0.98}})).action is Action.REVIEW
    approve_at = dict(CONFIG.auto_actions.approve_at)
    at_approval = Item(id="b", modality="photo", language="en", region="us", signals=approve_at)
    assert router.route(at_approval).action is Action.AUTO_APPROVE
    above = {**approve_at, "hate": approve_at["hate"] + 0.01}
    assert router.route(at_approval.model_copy(update={"signals": above})).action is Action.REVIEW


def test_duplicates_attach_or_inherit_the_decision() -> None:
    router = Router(CONFIG)
    item = Item(id="d2", modality="photo", language="en", region="us", content_hash="h1")
    pending = router.route(item, DuplicateOf(task_id="t1", item_id="d1", verdict=None))
    assert pending.action is Action.DUPLICATE and pending.verdict is None
    assert pending.duplicate_of is not None and pending.duplicate_of.task_id == "t1"
    assert "one review decides both" in pending.explanation
    decided = router.route(item, DuplicateOf(task_id="t1", item_id="d1", verdict=Verdict.VIOLATING, policy="nudity"))
    assert decided.verdict is Verdict.VIOLATING and decided.policy == "nudity"
    assert "already decided violating" in decided.explanation
    # A copy scored for another area carries the decision's policy, not its own scores' (found by a hand-run
    # mutation review: the routing named the copy's own area beside the verdict it carried).
    scored = item.model_copy(update={"signals": {"hate": 0.3}})
    assert router.route(scored).policy == "hate"
    asked = router.review_asks(scored)
    earlier = DuplicateOf(task_id="t1", item_id="d1", verdict=Verdict.VIOLATING, policy="nudity", asked=asked)
    carried = router.route(scored, earlier)
    assert (carried.action, carried.verdict, carried.policy) == (Action.DUPLICATE, Verdict.VIOLATING, "nudity")


def test_a_copy_rides_on_earlier_handling_only_when_it_asked_as_much_of_its_reviewer() -> None:
    """Found over HTTP: a copy scoring child safety 0.99 attached to a hate review any uncleared moderator could
    decide, and later copies inherited that decision."""
    router = Router(CONFIG)
    hate = Item(id="a", modality="text", language="en", region="us", content_hash="h", signals={"hate": 0.8})
    hate_review = router.route(hate)
    assert hate_review.queue == "text_high_en" and not hate_review.severe
    asked_by_hate = router.asked("text_high_en", "hate", False, ())
    child = hate.model_copy(update={"id": "b", "signals": {"child_safety": 0.99}})
    for verdict in (None, Verdict.NOT_VIOLATING):
        owner = DuplicateOf("a", "a", verdict, asked=asked_by_hate)
        # Reviewed on its own, in the cleared queue; its certifications are its own question's.
        copy, own = router.route(child, owner), router.route(child)
        assert copy.action is Action.REVIEW and copy.queue == own.queue == "child_safety" and copy.severe
        assert copy.terms == own.terms and copy.duplicate_of == owner
        assert copy.priority == own.priority and "as severe and cleared as its review" in copy.explanation
        assert router.route(hate.model_copy(update={"id": "c"}), owner).action is Action.DUPLICATE
    asked_by_child = router.asked("child_safety", "child_safety", True, ())
    assert asked_by_child.clearance == {"csam"} and asked_by_child.severe
    # The other way round, a copy asking a certification a child-safety review did not is as severe and cleared.
    milder = router.route(hate.model_copy(update={"id": "m"}), DuplicateOf("b", "b", None, asked=asked_by_child))
    assert milder.action is Action.REVIEW and milder.queue == "text_high_en" and milder.policy == "hate"
    assert milder.severe and milder.terms.clearance == ("csam",) and milder.terms.areas == ()
    assert router.route(child, DuplicateOf("z", "z", None, asked=asked_by_child)).action is Action.DUPLICATE
    severe_only = router.asked("child_safety", "child_safety", False, ())
    assert router.route(child, DuplicateOf("z", "z", None, asked=severe_only)).action is Action.REVIEW

    # A copy that would be removed on its own still needs a review that could have been shown it.
    removable = child.model_copy(update={"id": "r", "signals": {"child_safety": 0.99, "spam": 0.999}})
    assert router.route(removable).action is Action.AUTO_REMOVE
    assert router.route(removable, DuplicateOf("a", "a", Verdict.NOT_VIOLATING, asked=asked_by_hate)).action is (
        Action.AUTO_REMOVE
    )
    # Nor may it ride on a review that lacks a policy area's certification, or whose queue relaxes clearance.
    self_harm = hate.model_copy(update={"id": "s", "signals": {"self_harm": 0.9}})
    asked_by_violence = router.asked("video_high_en", "violence", True, ())
    assert router.route(self_harm, DuplicateOf("v", "v", None, asked=asked_by_violence)).action is Action.REVIEW
    relaxing = Router(
        CONFIG.model_copy(
            update={
                "queues": [
                    queue.model_copy(update={"escalation": [EscalationStep(after_s=60, relax=["clearance"])]})
                    if queue.name == "child_safety"
                    else queue
                    for queue in CONFIG.queues
                ]
            }
        )
    )
    # Relaxing clearance drops the queue's own tiers, never a cleared policy area's (found by a probe: the child
    # safety queue relaxing clearance would have shown child-sexual-abuse material to anyone), nor another cleared
    # area's tier (found by a third probe).
    assert relaxing.asked("child_safety", "child_safety", True, ()).clearance == {"csam"}
    assert relaxing.asked("child_safety", "violence", True, ("csam",)).clearance == {"csam"}
    assert relaxing.asked("child_safety", "violence", True, ()).clearance == frozenset()
    # A copy a score would remove is compared by the review its rules would give it (found by a third probe).
    scored = hate.model_copy(update={"id": "x", "signals": {"hate": 0.9, "child_safety": 0.35, "spam": 0.995}})
    assert router.route(scored).action is Action.AUTO_REMOVE
    assert router.route(scored.model_copy(update={"signals": {"hate": 0.9, "child_safety": 0.35}})).queue == (
        "child_safety"
    )
    assert router.route(scored, DuplicateOf("a", "a", None, asked=asked_by_hate)).action is Action.AUTO_REMOVE

    # An automatic approval stands only for a copy that would be approved too; a removal for any copy.
    low = {"spam": 0.01, "nudity": 0.01, "violence": 0.01, "hate": 0.01, "harassment": 0.01}
    quiet = Item(id="q", modality="text", language="en", region="us", content_hash="h", signals=low)
    assert router.route(quiet).action is Action.AUTO_APPROVE
    approved = DuplicateOf("q", "q", Verdict.NOT_VIOLATING, action=Action.AUTO_APPROVE)
    assert router.route(quiet.model_copy(update={"id": "q2"}), approved).action is Action.DUPLICATE
    reported = quiet.model_copy(update={"id": "q3", "reports": 4})
    assert router.route(reported, approved).action is Action.REVIEW
    # Reviewed as new content: no review was asked of anyone, so it is explained as its own routing, naming no item
    # whose review it is as cleared as (found by a hand-run mutation review).
    assert router.route(reported, approved) == router.route(reported)
    removed = DuplicateOf("r", "r", Verdict.VIOLATING, action=Action.AUTO_REMOVE)
    assert router.route(child, removed).verdict is Verdict.VIOLATING


def test_unknown_policy_area_in_an_item_is_refused_with_its_field() -> None:
    from queueopt.errors import InvalidInput

    item = Item(id="x", modality="text", language="en", region="us", signals={"gore": 0.5})
    try:
        Router(CONFIG).route(item)
    except InvalidInput as error:
        assert error.field == "signals.gore"
        assert error.message == "unknown policy area 'gore'"
    else:
        raise AssertionError("an unknown policy area was routed")


def test_a_faint_signal_of_a_severe_area_is_not_severe_content() -> None:
    router = Router(CONFIG)
    faint = Item(id="f", modality="video", language="en", region="us", signals={"violence": 0.03}, views_per_hour=9)
    assert router.route(faint).policy == "violence" and not router.route(faint).severe
    strong = faint.model_copy(update={"signals": {"violence": 0.5}})
    assert router.route(strong).severe


def test_an_appeal_is_reviewed_even_when_its_content_was_decided() -> None:
    """Found over HTTP: the appeal of an auto-removed item shared its content hash and inherited the removal."""
    appeal = Item(id="a2", modality="photo", language="en", region="us", content_hash="h1", source=Source.APPEAL)
    routing = Router(CONFIG).route(appeal, DuplicateOf(task_id="a1", item_id="a1", verdict=Verdict.VIOLATING))
    assert routing.action is Action.REVIEW and routing.queue == "appeals" and routing.verdict is None


def test_a_severe_or_cleared_area_past_its_threshold_is_the_primary_policy_whatever_scores_higher() -> None:
    """Found over HTTP: violence 0.6 under hate 0.8 was not severe; likewise child safety under a higher-weighted
    area would not have needed the csam clearance."""
    router = Router(CONFIG)
    mixed = Item(id="m", modality="text", language="en", region="us", signals={"violence": 0.6, "hate": 0.8})
    routing = router.route(mixed)
    assert routing.severe and routing.policy == "violence"
    hidden = mixed.model_copy(update={"signals": {"hate": 1.0, "child_safety": 0.5}})
    assert router.route(hidden).policy == "child_safety" and router.route(hidden).severe
    faint = mixed.model_copy(update={"signals": {"hate": 0.8, "violence": 0.1}})
    assert router.route(faint).policy == "hate" and not router.route(faint).severe


def test_an_item_past_two_cleared_thresholds_needs_both_clearances() -> None:
    router = Router(CONFIG)
    both = Item(
        id="b", modality="text", language="en", region="us", signals={"child_safety": 0.9, "violent_extremism": 0.6}
    )
    routing = router.route(both)
    assert routing.policy == "child_safety" and routing.terms.clearance == ("terrorism",)
    one = both.model_copy(update={"signals": {"child_safety": 0.9, "violent_extremism": 0.4}})
    assert router.route(one).terms.clearance == ()
    # A severe area without clearance may outrank the cleared one as the primary policy; the clearance still holds.
    under = both.model_copy(update={"signals": {"violence": 0.9, "child_safety": 0.5}})
    assert router.route(under).policy == "violence" and router.route(under).terms.clearance == ("csam",)


@settings(max_examples=200, deadline=None)
@given(items(st.dictionaries(st.sampled_from(AREAS), st.floats(0, 1), min_size=2)))
def test_an_item_is_severe_exactly_when_a_severe_area_reaches_its_threshold(item: Item) -> None:
    reached = any(area.severe and item.signals.get(area.name, -1.0) >= area.severe_at for area in CONFIG.policy_areas)
    assert Router(CONFIG).route(item).severe is reached or Router(CONFIG).route(item).action is Action.AUTO_APPROVE


def test_a_boolean_attribute_condition_matches_only_a_boolean() -> None:
    """Found by a probe: `verified = true` routed items sending `"verified": 1` or `1.0` to the verified queue."""
    from queueopt.config import parse_config

    config = parse_config(
        {
            "policy_areas": [{"name": "spam", "severity": 1.0}],
            "queues": [{"name": "verified", "sla_s": 60}, {"name": "rest", "sla_s": 60}, {"name": "one", "sla_s": 60}],
            "rules": [
                {"name": "verified", "queue": "verified", "when": {"attributes": {"verified": True}}},
                {"name": "one", "queue": "one", "when": {"attributes": {"verified": 1}}},
                {"name": "rest", "queue": "rest"},
            ],
        }
    )
    router = Router(config)

    def queue_of(value: Any) -> str | None:
        item = Item(id="i", modality="text", language="en", region="us", attributes={"verified": value})
        return router.route(item).queue

    assert [queue_of(value) for value in (True, 1, 1.0, "true", False)] == ["verified", "one", "one", "rest", "rest"]


def test_a_copy_never_rides_on_a_review_less_cleared_than_its_own_would_be() -> None:
    """Severity and certifications alike, a review without the clearance tier the copy asks does not cover it (found
    by a hand-run mutation review: `covers` without its clearance check passed every test, as each case above also
    differed in severity or certification)."""
    router = Router(CONFIG)
    child = Item(id="c", modality="text", language="en", region="us", content_hash="h", signals={"child_safety": 0.99})
    needs = router.review_asks(child)
    assert needs.severe and needs.clearance == {"csam"} and needs.areas == {"child_safety"}
    uncleared = Asked(True, frozenset(), frozenset({"child_safety"}))
    assert router.route(child, DuplicateOf("z", "z", None, asked=uncleared)).action is Action.REVIEW
    assert router.route(child, DuplicateOf("z", "z", Verdict.NOT_VIOLATING, asked=uncleared)).action is Action.REVIEW
    assert router.route(child, DuplicateOf("z", "z", None, asked=needs)).action is Action.DUPLICATE


def test_a_queues_own_tier_is_asked_until_its_escalation_relaxes_clearance() -> None:
    """A queue's own clearance tier (not its policy area's) is part of what its review asks, so a copy that would be
    reviewed there does not ride on a review in a queue without it (found by a hand-run mutation review: in the
    example config every queue's tier is also its area's, so `asked` dropping the queue's tiers passed every test)."""

    def with_tier(relax: list[str]) -> Router:
        queues = [
            queue.model_copy(
                update={
                    "requires": queue.requires.model_copy(update={"clearance": ["terrorism"]}),
                    "escalation": [EscalationStep(after_s=60, relax=relax)] if relax else [],
                }
            )
            if queue.name == "text_high_en"
            else queue
            for queue in CONFIG.queues
        ]
        return Router(CONFIG.model_copy(update={"queues": queues}))

    router = with_tier([])
    assert router.asked("text_high_en", "hate", False, ()).clearance == {"terrorism"}
    assert with_tier(["clearance"]).asked("text_high_en", "hate", False, ()).clearance == frozenset()
    assert with_tier(["language"]).asked("text_high_en", "hate", False, ()).clearance == {"terrorism"}
    hate = Item(id="a", modality="text", language="en", region="us", content_hash="h", signals={"hate": 0.8})
    assert router.route(hate).queue == "text_high_en"
    elsewhere = Asked(False, frozenset(), frozenset({"hate"}))
    assert router.route(hate, DuplicateOf("z", "z", None, asked=elsewhere)).action is Action.REVIEW
    assert router.route(hate, DuplicateOf("z", "z", None, asked=router.review_asks(hate))).action is Action.DUPLICATE
