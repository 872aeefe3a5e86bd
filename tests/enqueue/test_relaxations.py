"""`check-config`'s warnings about escalation steps that widen a queue past what its requirements protect."""

from __future__ import annotations

from queueopt.config import parse_config
from queueopt.enqueue.relaxations import risky_relaxations


def test_every_step_of_every_queue_is_checked_and_says_what_its_queue_asks() -> None:
    """A risky step after a harmless one warns as well, at its own place, and the certification a queue asks is
    named whether or not it asks a clearance tier too (found by a mutation review: a check of each queue's first
    step only, or naming the areas only where the queue asked a tier, passed the command's tests)."""
    config = parse_config(
        {
            "policy_areas": [{"name": "hate", "severity": 5.0}, {"name": "spam", "severity": 0.5}],
            "queues": [
                {"name": "plain", "sla_s": 600, "escalation": [{"after_s": 60, "relax": ["clearance"]}]},
                {
                    "name": "hate",
                    "sla_s": 600,
                    "requires": {"policy_areas": ["hate"], "languages": ["en"]},
                    "escalation": [
                        {"after_s": 60, "relax": ["language"]},
                        {"after_s": 120, "relax": ["modality", "policy_areas"]},
                        {"after_s": 240, "relax": ["region"]},
                    ],
                },
            ],
            "rules": [{"name": "all", "queue": "plain"}],
        }
    )
    warnings = risky_relaxations(config)
    assert [warning.split(": ")[0] for warning in warnings] == ["queues.1.escalation.1", "queues.1.escalation.2"]
    assert "'hate' relaxes policy_areas after 120 s" in warnings[0] and "nor for hate" in warnings[0]
    assert "'hate' relaxes region after 240 s" in warnings[1]
