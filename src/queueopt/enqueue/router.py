"""Where an item goes and how urgent it is: duplicates, auto-actions, then the first matching rule.

The router is pure: the same item, config and duplicate lookup always give the same routing, so a routing
can be replayed and explained. Looking up duplicates needs the store, so the engine does it and hands the
result in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from queueopt.config import OpsConfig
from queueopt.domain import Action, Item, Modality, Source, Verdict
from queueopt.enqueue.priority import PriorityModel, PriorityTerms
from queueopt.enqueue.rules import CompiledRule, Fields, compile_chain


class Asked(NamedTuple):
    """The least a review asks of its reviewer, beyond the skills to read it, once its queue's escalation steps
    have relaxed all they will: to be shown severe content (a wellbeing budget, never relaxed), the clearance tiers
    and the policy-area certifications it needs."""

    severe: bool
    clearance: frozenset[str]
    areas: frozenset[str] = frozenset()


# An automatic action's: nobody was shown the content.
ASKED_NOTHING = Asked(severe=False, clearance=frozenset())


@dataclass(frozen=True, slots=True)
class DuplicateOf:
    """An earlier item with the same content hash: its task, its verdict once decided, how it was handled (a review,
    or an automatic action) and, for a review, what that review asked of its reviewer."""

    task_id: str | None  # None when the earlier copy was actioned automatically, with no review
    item_id: str
    verdict: Verdict | None
    policy: str | None = None
    action: Action = Action.REVIEW
    asked: Asked = ASKED_NOTHING
    decision: str | None = None  # the decision's JSON as stored, the reviewer and any enforcement action with it
    reviewers: frozenset[str] = frozenset()  # for an appeal: who decided the content before, kept off its review
    appeal: bool = False  # an appeal or escalation of the content, whose decision overturned the one before


class Routing(NamedTuple):
    """What to do with one item. `reason` is why, in one line made without formatting per item: the rule and
    queue for a review, the whole explanation for any other action. A review's full explanation adds the
    priority terms and is formatted only when asked for.
    A named tuple because the router makes one per item and a frozen dataclass costs several times more."""

    action: Action
    queue: str | None
    priority: float
    aging_rate: float
    severe: bool
    policy: str | None
    rule: str | None
    terms: PriorityTerms
    reason: str = ""
    duplicate_of: DuplicateOf | None = None
    verdict: Verdict | None = None

    @property
    def explanation(self) -> str:
        if self.action is not Action.REVIEW:
            return self.reason
        return "%s; priority %s; aging %.3g/s" % (self.reason, self.terms.describe(), self.aging_rate)  # noqa: UP031


# Sources that always reach a human: an appeal or an escalation is a person asking for a person.
HUMAN_ONLY = frozenset({Source.APPEAL, Source.ESCALATION})
UNLINKED = (
    "an appeal or escalation must carry the content_hash of the content it is about: it is its only link to the "
    "earlier decisions, whose makers are kept off its review and whose reviews' severity and clearance it asks"
)
# Read for every item routed; module names, not members read through their enum class's `__getattr__` hook.
_REVIEW, _DUPLICATE, _AUTO_REMOVE, _AUTO_APPROVE = (
    Action.REVIEW,
    Action.DUPLICATE,
    Action.AUTO_REMOVE,
    Action.AUTO_APPROVE,
)
_VIOLATING, _NOT_VIOLATING, _PROACTIVE = Verdict.VIOLATING, Verdict.NOT_VIOLATING, Source.PROACTIVE


class Router:
    """Routes items with one ops config; build one per config and reuse it."""

    __slots__ = (
        "_aging",
        "_approve_at",
        "_area_clearance",
        "_areas",
        "_content_tier_names",
        "_first_match",
        "_priority",
        "_queue_areas",
        "_queue_clearance",
        "_relaxed",
        "_remove_at",
    )

    def __init__(self, config: OpsConfig) -> None:
        self._priority = PriorityModel(config)
        rules = [CompiledRule.of(rule) for rule in config.rules]
        self._first_match = {
            modality: compile_chain([rule for rule in rules if rule.modality is None or modality in rule.modality])
            for modality in Modality
        }
        self._aging = {queue.name: self._priority.aging_rate(queue) for queue in config.queues}
        self._queue_clearance = {queue.name: tuple(queue.requires.clearance) for queue in config.queues}
        self._queue_areas = {queue.name: tuple(queue.requires.policy_areas) for queue in config.queues}
        self._relaxed = config.relaxed_by_queue()
        self._area_clearance = {area.name: area.clearance for area in config.policy_areas if area.clearance}
        self._areas = frozenset(area.name for area in config.policy_areas)
        self._content_tier_names = frozenset(self._area_clearance.values())
        self._remove_at = tuple(config.auto_actions.remove_at.items())
        self._approve_at = dict(config.auto_actions.approve_at)

    @property
    def priority_model(self) -> PriorityModel:
        return self._priority

    def explain(self, item: Item) -> str:
        """The explanation of the item's routing without a duplicate, made again: routing is pure, so this is the
        explanation submit would have stored for a review, made only when someone reads it."""
        return self.route(item).explanation

    def route(self, item: Item, duplicate: DuplicateOf | None = None) -> Routing:
        """The item's routing: a copy of earlier content rides on that content's handling only when it `covers`
        what this copy needs; an appeal or escalation repeats the content it is about, and inheriting that decision
        would decide it unreviewed, so those always reach a human, asking at least what the earlier copy's review
        asked (`_about`)."""
        # A pydantic model keeps its field values in `__dict__`: each read below is a dict subscript, not an
        # attribute lookup several times its cost.
        fields = item.__dict__
        terms = self._priority.terms_of(fields)
        if fields["source"] in HUMAN_ONLY:
            review = self._review(fields, terms)
            return review if duplicate is None else self._about(review, duplicate)
        own = self._auto_action(fields, terms)
        review = self._review(fields, terms) if own is None or duplicate is not None else own
        if own is None:
            own = review
        if duplicate is None:
            return own
        if self.covers(duplicate, own, review):
            return self._duplicate(terms, duplicate)
        if own.action is _REVIEW and duplicate.action is _REVIEW:
            # Reviewed on its own, as it asks more than the earlier review did; yet it is the same content, so it
            # is as severe and as restricted as that review was: a copy scored for nudity alone of content under
            # child-safety review went to moderators without the clearance (found by a probe). What a reviewer
            # must be certified in follows this review's own question; an appeal, which questions every earlier
            # decision, asks every earlier certification too.
            reason = f"{own.reason}; same content as item {duplicate.item_id!r}, as severe and cleared as its review"
            content = duplicate.asked._replace(areas=frozenset())
            return self._asking(own, content, None, reason)._replace(duplicate_of=duplicate)
        return own

    def review(self, item: Item) -> Routing:
        """The review the rules give `item`, however routing would handle it (an automatic action included): what a
        person reviewing it is asked, in which queue and at what priority."""
        fields = item.__dict__
        return self._review(fields, self._priority.terms_of(fields))

    def review_asks(self, item: Item) -> Asked:
        """What the review the rules give `item` asks of its reviewer, however routing handled it: an automatic
        action showed the content to nobody, but an appeal of it shows it to someone."""
        review = self.review(item)
        terms = review.terms
        return self.asked(review.queue, review.policy, review.severe, terms.clearance, terms.areas)

    def content_asks(self, item: Item) -> Asked:
        """What any review of `item` asks of its reviewer under this config, whatever its queue: to be shown severe
        content when a severe area scored past its `severe_at`, and the clearance tiers of its primary area and of
        every other cleared area past its `severe_at`; tiers never relaxed. A queue's own tiers and certifications
        are its queue's question, read from the config when asked."""
        terms = self._priority.terms_of(item.__dict__)
        return Asked(terms.severe, self._content_tiers(terms.policy, terms.clearance))

    def asked(
        self,
        queue: str | None,
        policy: str | None,
        severe: bool,
        clearance: tuple[str, ...],
        areas: tuple[str, ...] = (),
    ) -> Asked:
        """The least a review in `queue` (None: no queue's requirements) of content whose primary area is `policy`
        asks of its reviewer, `clearance` being the tiers its other cleared areas add (`PriorityTerms.clearance`,
        `Task.clearance`) and `areas` the certifications an appeal adds (`Task.areas`). A queue whose escalation
        relaxes clearance or policy areas lets moderators without the queue's own tiers or certifications see its
        tasks in the end, so its tasks ask none of those; a cleared policy area's tier is never relaxed."""
        relaxed = self._relaxed.get(queue or "", frozenset())
        tiers = self._content_tiers(policy, clearance)
        if "clearance" not in relaxed:
            tiers = tiers.union(self._queue_clearance.get(queue or "", ()))
        certified: set[str] = set()
        if "policy_areas" not in relaxed:
            certified.update(self._queue_areas.get(queue or "", ()))
            certified.update(areas)
            if policy is not None:
                certified.add(policy)
        return Asked(severe, tiers, frozenset(certified))

    def widened_clearance(
        self, policy: str | None, clearance: tuple[str, ...], tiers: frozenset[str]
    ) -> tuple[str, ...]:
        """The tiers a task whose primary area is `policy` and which stores `clearance` (`Task.clearance`) stores to
        ask every tier of `tiers` as well, never fewer (`widened`). Its primary area's own tier is not stored, as
        routing does not store it (`PriorityTerms.clearance`): it is read from the config when asked, so a config
        dropping it relaxes every task of that area alike. Stored by the widening only, it made two tasks of the
        same content differ, and a rollback of the tier refused to start (found by a review). Only policy areas'
        tiers are stored, the content's: a queue's own tiers are its queue's question, and stored on a task of
        another queue (what an earlier review in that queue asked) they kept that queue's moderators from it and
        made a config dropping the queue's tier refuse to start (found by a review)."""
        own = self._area_clearance.get(policy or "")
        return widened(clearance, tiers.intersection(self._content_tier_names).difference((own,)))

    def _content_tiers(self, policy: str | None, clearance: tuple[str, ...]) -> frozenset[str]:
        """The clearance tiers of content whose primary area is `policy` and whose other cleared areas add
        `clearance`: a cleared area's tier is never relaxed (as the capability model holds it)."""
        tier = self._area_clearance.get(policy or "")
        return frozenset(clearance) if tier is None else frozenset((*clearance, tier))

    def covers(self, duplicate: DuplicateOf, own: Routing, review: Routing) -> bool:
        """Whether the earlier copy's handling may stand for this copy, whose own routing is `own` and whose review,
        were it reviewed, would be `review` (the rules' queue, even for a copy a score would remove). A removal
        always may; an automatic approval only of a copy that would be approved too (a reported copy is a reason to
        look); a review, unless this copy asks more of a reviewer than that review did, however it would itself be
        handled: one that was not severe (no wellbeing budget spent, no cool-down), lacked a clearance tier or a
        policy area's certification would let a moderator decide content they may not be shown, and its decision
        would stand for it."""
        if duplicate.action is _AUTO_REMOVE:
            return True
        if duplicate.action is _AUTO_APPROVE:
            return own.action is _AUTO_APPROVE
        asked = duplicate.asked
        needs = self.asked(review.queue, review.policy, review.severe, review.terms.clearance, review.terms.areas)
        return (asked.severe or not needs.severe) and needs.clearance <= asked.clearance and needs.areas <= asked.areas

    def _review(self, fields: Fields, terms: PriorityTerms) -> Routing:
        rule = self._first_match[fields["modality"]](fields)
        # Every routing is made positionally, in field order: matching eleven keywords costs as much again.
        return Routing(
            _REVIEW,
            rule.queue,
            terms.priority,
            self._aging[rule.queue],
            terms.severe,
            terms.policy,
            rule.name,
            terms,
            rule.reason,
        )

    def _about(self, review: Routing, earlier: DuplicateOf) -> Routing:
        """An appeal's or escalation's review of content handled before: it asks at least what that content's review
        asks (`earlier.asked`, for an automatic action the review it would have had). An appeal is sent with
        the content, often without the classifier's scores, and its queue may need no clearance: without this an
        appeal of child-sexual-abuse material would go to a moderator not cleared to see it. The clearance tiers
        are added as tiers never relaxed; the earlier decision's policy area stands in for a policy the appeal's
        own scores do not name, and every other area an earlier review asked a certification in is asked too
        (`areas`). `duplicate_of` carries the earlier copy, so the engine keeps its reviewer off the
        appeal."""
        reason = f"{review.reason}; about item {earlier.item_id!r}, asking what its review asked"
        return self._asking(review, earlier.asked, earlier.policy, reason)._replace(duplicate_of=earlier)

    def _asking(self, review: Routing, asked: Asked, policy: str | None, reason: str) -> Routing:
        """`review` asking at least `asked` of its reviewer: severe if that was, its clearance tiers as tiers never
        relaxed, and a certification in every area it asked; `policy` stands in for a policy the review's own
        scores do not name. An area the config no longer has is neither: nobody may be certified in it, so an
        appeal asking it would never be offered (found by a review: an appeal of content an earlier config's area
        had decided waited for ever, and the next start refused the store)."""
        terms = review.terms
        policy = review.policy or (policy if policy in self._areas else None)
        clearance = self.widened_clearance(policy, terms.clearance, asked.clearance)
        areas = widened(terms.areas, asked.areas.intersection(self._areas).difference((policy,)))
        return review._replace(
            severe=review.severe or asked.severe,
            policy=policy,
            terms=terms._replace(clearance=clearance, areas=areas),
            reason=reason,
        )

    def _duplicate(self, terms: PriorityTerms, duplicate: DuplicateOf) -> Routing:
        earlier = f"item {duplicate.item_id!r}{' (an appeal or escalation of it)' if duplicate.appeal else ''}"
        if duplicate.verdict is None:
            explanation = (
                f"same content as {earlier}, still pending in task {duplicate.task_id!r}: one review decides both"
            )
        else:
            by = "automatically" if duplicate.task_id is None else f"in task {duplicate.task_id!r}"
            explanation = f"same content as {earlier}, already decided {duplicate.verdict.value} {by}: decision applied"
        return Routing(
            _DUPLICATE,
            None,
            terms.priority,
            0.0,
            terms.severe,
            duplicate.policy or terms.policy,
            None,
            terms,
            explanation,
            duplicate,
            duplicate.verdict,
        )

    def _auto_action(self, fields: Fields, terms: PriorityTerms) -> Routing | None:
        signals = fields["signals"]
        for area, threshold in self._remove_at:
            score = signals.get(area)
            if score is not None and score >= threshold:
                return Routing(
                    _AUTO_REMOVE,
                    None,
                    terms.priority,
                    0.0,
                    terms.severe,
                    area,
                    None,
                    terms,
                    f"auto_remove: {area} score {score:.6g} >= remove_at {threshold:.6g}",
                    None,
                    _VIOLATING,
                )
        if self._approves(fields):
            return Routing(
                _AUTO_APPROVE,
                None,
                terms.priority,
                0.0,
                False,
                None,
                None,
                terms,
                "auto_approve: every approve_at area scored at or below its threshold, no reports",
                None,
                _NOT_VIOLATING,
            )
        return None

    def _approves(self, fields: Fields) -> bool:
        """Approve without review only a proactive, unreported item whose every listed score is known and low.

        A missing signal is not evidence of safety, and a signal for an area without a threshold is a reason
        to look, so both send the item to a human.
        """
        approve_at = self._approve_at
        if not approve_at or fields["reports"] or fields["source"] is not _PROACTIVE:
            return False
        signals = fields["signals"]
        if len(signals) != len(approve_at):
            return False
        for area, threshold in approve_at.items():
            score = signals.get(area)
            if score is None or score > threshold:
                return False
        return True


def unlinked(item: Item) -> str | None:
    """Why `item` may not be submitted: an appeal or escalation without a content hash (`UNLINKED`), else None.
    Without the hash nothing ties it to the decision it questions, so its original decider could be given it and an
    appeal of child-abuse material sent without scores would ask no clearance (found by a probe)."""
    fields = item.__dict__
    return UNLINKED if fields["content_hash"] is None and fields["source"] in HUMAN_ONLY else None


def widened(own: tuple[str, ...], asked: frozenset[str]) -> tuple[str, ...]:
    """`own` with every code of `asked` it lacks, sorted; `own` itself when it lacks none (nearly every appeal)."""
    codes = asked.union(own)
    return tuple(sorted(codes)) if len(codes) > len(own) else own
