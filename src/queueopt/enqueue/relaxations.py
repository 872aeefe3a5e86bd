"""Escalation steps that widen a queue past what its requirements protect: said by `check-config`, because each is
a choice someone should make knowingly, not a typo that shows content to people who may not see it."""

from __future__ import annotations

from queueopt.config import OpsConfig

_WHAT_IS_LOST = {
    "region": "moderators outside the content's region may then review it (regions are data residency)",
    "clearance": "moderators without the queue's clearance tiers ({tiers}) may then take its tasks; a cleared "
    "policy area's own tier still holds",
    "policy_areas": "moderators not certified for {areas} may then decide its tasks",
}


def risky_relaxations(config: OpsConfig) -> list[str]:
    """One warning per escalation step that relaxes region, or a clearance or certification the queue requires."""
    warnings = []
    for index, queue in enumerate(config.queues):
        requires = queue.requires
        for step_index, step in enumerate(queue.escalation):
            for dimension in step.relax:
                if dimension == "clearance" and not requires.clearance:
                    continue
                if dimension == "policy_areas" and not requires.policy_areas:
                    continue
                template = _WHAT_IS_LOST.get(dimension)
                if template is None:
                    continue
                lost = template.format(tiers=", ".join(requires.clearance), areas=", ".join(requires.policy_areas))
                warnings.append(
                    f"queues.{index}.escalation.{step_index}: queue {queue.name!r} relaxes {dimension} after "
                    f"{step.after_s:g} s: {lost}"
                )
    return warnings
