"""Escalation steps that widen a queue past what its requirements protect: said by `check-config`, because each is
a choice someone should make knowingly, not a typo that shows content to people who may not see it."""

from __future__ import annotations

from queueopt.config import OpsConfig

_WHAT_IS_LOST = {
    "region": "moderators outside the content's region may then review it (regions are data residency)",
    "clearance": "moderators without the queue's clearance tiers ({tiers}) may then take its tasks; a cleared "
    "policy area's own tier still holds",
    "policy_areas": "moderators not certified for a task's own policy area{areas} may then decide it",
}


def risky_relaxations(config: OpsConfig) -> list[str]:
    """One warning per escalation step that relaxes region, policy areas (a task's own area's certification goes
    too, whatever the queue requires), or a clearance tier the queue requires."""
    warnings = []
    for index, queue in enumerate(config.queues):
        requires = queue.requires
        for step_index, step in enumerate(queue.escalation):
            for dimension in step.relax:
                if dimension == "clearance" and not requires.clearance:
                    continue
                template = _WHAT_IS_LOST.get(dimension)
                if template is None:
                    continue
                areas = f", nor for {', '.join(requires.policy_areas)}" if requires.policy_areas else ""
                lost = template.format(tiers=", ".join(requires.clearance), areas=areas)
                warnings.append(
                    f"queues.{index}.escalation.{step_index}: queue {queue.name!r} relaxes {dimension} after "
                    f"{step.after_s:g} s: {lost}"
                )
    return warnings
