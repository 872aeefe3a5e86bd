"""The router's fast path (fields read once from the item's `__dict__`, each modality's rules compiled into one
generated function) against a straightforward reading of the config: same action, queue, rule, priority,
aging, policy, severity and explanation, on random rule sets that use every kind of condition."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import REPO
from tests.enqueue.test_router import _matches

from queueopt.config import OpsConfig, Predicate, RoutingRule, load_config
from queueopt.domain import Action, Item, Modality, Source, Verdict
from queueopt.enqueue import Router, Routing
from queueopt.enqueue.rules import CompiledRule, compile_chain

CONFIG = load_config(REPO / "examples" / "ops.toml")
AREAS = [area.name for area in CONFIG.policy_areas]
QUEUES = [queue.name for queue in CONFIG.queues]
LANGUAGES = ["en", "es", "pt"]
REGIONS = ["us", "eu", "br"]
ATTRIBUTES = {"tier": st.sampled_from(["gold", "free", 1, 1.0, True]), "age": st.integers(0, 3)}
THRESHOLDS = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])


def _subset(values: list[Any]) -> st.SearchStrategy[list[Any] | None]:
    return st.none() | st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


predicates = st.fixed_dictionaries(
    {},
    optional={
        "modality": _subset(list(Modality)),
        "language": _subset(LANGUAGES),
        "region": _subset(REGIONS),
        "source": _subset(list(Source)),
        "min_signal": _maybe(st.dictionaries(st.sampled_from(AREAS), THRESHOLDS, max_size=2)),
        "max_signal": _maybe(st.dictionaries(st.sampled_from(AREAS), THRESHOLDS, max_size=2)),
        "duration_s": _maybe(
            st.sampled_from([0.0, 60.0, 600.0, None]).flatmap(
                lambda low: st.fixed_dictionaries(
                    {"min": st.just(low), "max": st.sampled_from([None, 600.0, 3600.0])}
                ).filter(
                    lambda bounds: bounds["min"] is None or bounds["max"] is None or bounds["min"] <= bounds["max"]
                )
            )
        ),
        "min_reports": _maybe(st.integers(0, 3)),
        "attributes": _maybe(st.dictionaries(st.sampled_from(sorted(ATTRIBUTES)), st.sampled_from(["gold", 1, 2]))),
    },
).filter(lambda when: _satisfiable(when.get("min_signal"), when.get("max_signal")))


def _satisfiable(low: dict[str, float] | None, high: dict[str, float] | None) -> bool:
    """The config refuses a rule whose min_signal exceeds its max_signal for an area: no item could match it."""
    return not any(threshold > (high or {}).get(area, 1.0) for area, threshold in (low or {}).items())


@st.composite
def configs(draw: st.DrawFn) -> OpsConfig:
    data = CONFIG.model_dump(mode="json")
    rules = [
        {"name": f"r{index}", "queue": draw(st.sampled_from(QUEUES)), "when": draw(predicates)}
        for index in range(draw(st.integers(0, 8)))
    ]
    data["rules"] = [*rules, {"name": "rest", "queue": draw(st.sampled_from(QUEUES))}]
    if draw(st.booleans()):
        data["auto_actions"] = {"remove_at": {}, "approve_at": {}}
    return OpsConfig.model_validate(data)


items = st.builds(
    Item,
    id=st.just("i"),
    modality=st.sampled_from(Modality),
    duration_s=st.sampled_from([0.0, 59.9, 60.0, 600.0, 3600.0, 3601.0]) | st.floats(0, 7200),
    language=st.sampled_from([*LANGUAGES, "hi"]),
    region=st.sampled_from([*REGIONS, "in"]),
    signals=st.dictionaries(st.sampled_from(AREAS), THRESHOLDS | st.floats(0, 1)),
    source=st.sampled_from(Source),
    views_per_hour=st.floats(0, 1e7),
    reports=st.integers(0, 5),
    attributes=st.fixed_dictionaries({}, optional=ATTRIBUTES),
)


@settings(max_examples=400, deadline=None)
@given(configs(), items)
def test_the_fast_router_routes_as_the_config_reads(config: OpsConfig, item: Item) -> None:
    assert _fields(Router(config).route(item)) == _fields(_straightforward(config, item))


@settings(max_examples=1000, deadline=None)
@given(predicates, items)
def test_a_compiled_rule_matches_as_its_predicate_reads(when: dict[str, Any], item: Item) -> None:
    rule = CompiledRule.of(RoutingRule(name="r", queue="triage", when=Predicate.model_validate(when)))
    rest = CompiledRule.of(RoutingRule(name="rest", queue="triage"))
    # The router compiles one chain per modality, of the rules that accept it.
    first_match = compile_chain(
        [each for each in (rule, rest) if each.modality is None or item.modality in each.modality]
    )
    assert (first_match(item.__dict__) is rule) == _matches(Predicate.model_validate(when).model_dump(), item)


def _fields(routing: Routing) -> tuple[Any, ...]:
    return (
        routing.action,
        routing.queue,
        routing.rule,
        routing.priority,
        routing.aging_rate,
        routing.policy,
        routing.severe,
        routing.verdict,
        routing.explanation,
    )


def _straightforward(config: OpsConfig, item: Item) -> Routing:
    """Routing as docs/configuration.md describes it, read off the pydantic config and item attribute by attribute."""
    router = Router(config)
    terms = router.priority_model.terms(item)
    weights, actions = config.priority, config.auto_actions
    severities = {area.name: area.severity for area in config.policy_areas}
    harm = max(config.priority.base_harm, sum(severities[area] * score for area, score in item.signals.items()))
    exposure = weights.views * item.views_per_hour + weights.per_report * item.reports
    exposure += weights.source.get(item.source, 0.0)
    assert terms.harm == harm and terms.exposure == exposure
    common = {"priority": terms.priority, "severe": terms.severe, "rule": None, "terms": terms, "queue": None}
    if item.source not in (Source.APPEAL, Source.ESCALATION):
        for area, threshold in actions.remove_at.items():
            score = item.signals.get(area)
            if score is not None and score >= threshold:
                reason = f"auto_remove: {area} score {score:.6g} >= remove_at {threshold:.6g}"
                return Routing(
                    Action.AUTO_REMOVE, aging_rate=0.0, policy=area, reason=reason, verdict=Verdict.VIOLATING, **common
                )
        approves = (
            actions.approve_at
            and not item.reports
            and item.source is Source.PROACTIVE
            and set(item.signals) == set(actions.approve_at)
            and all(item.signals[area] <= threshold for area, threshold in actions.approve_at.items())
        )
        if approves:
            reason = "auto_approve: every approve_at area scored at or below its threshold, no reports"
            return Routing(
                Action.AUTO_APPROVE,
                aging_rate=0.0,
                policy=None,
                reason=reason,
                verdict=Verdict.NOT_VIOLATING,
                **{**common, "severe": False},
            )
    rule = next(rule for rule in config.rules if _matches(rule.when.model_dump(), item))
    queue = config.queues_by_name[rule.queue]
    aging = queue.aging_rate + weights.deadline / queue.sla_s
    parts = " + ".join(f"{area} {severities[area] * score:.3g}" for area, score in item.signals.items())
    base = "; base harm" if harm > sum(severities[area] * score for area, score in item.signals.items()) else ""
    floored = " (floor)" if terms.priority > harm * exposure else ""
    explanation = (
        f"rule {rule.name!r} -> queue {rule.queue!r}; priority harm {harm:.3g} ({parts or 'no signals'}{base}) x "
        f"exposure {exposure:.3g}/h = {terms.priority:.4g}{floored}; aging {aging:.3g}/s"
    )
    routing = Routing(
        Action.REVIEW,
        aging_rate=aging,
        policy=terms.policy,
        reason=f"rule {rule.name!r} -> queue {rule.queue!r}",
        **{**common, "queue": rule.queue, "rule": rule.name},
    )
    assert routing.explanation == explanation
    return routing
