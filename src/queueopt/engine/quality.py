"""Quality review: which decisions are sampled for a second, independent review, and whether it agrees."""

from __future__ import annotations

import hashlib
from typing import Any

from queueopt.domain import Decision, Verdict


def qa_draw(secret: str, task_id: str) -> float:
    """A uniform draw in [0, 1) fixed by the task id, so QA sampling is reproducible and the same on every replica,
    and keyed by the deployment's `secret`: a moderator who knows the sample rate and the task id must not be able
    to tell whether their decision will be checked (an unkeyed hash of the id told them, for every task)."""
    return int.from_bytes(hashlib.sha256(f"{secret}\x00{task_id}".encode()).digest()[:8], "big") / 2.0**64


def agrees(first: dict[str, Any], check: Decision) -> bool:
    """Whether a QA review (`check`) agrees with the decision it checks (`first`, as stored): the same verdict, and
    for a violation the same policy when both name one, since the policy sets the enforcement and what the user is
    told (found by a review: a violation decided under the wrong policy counted as right)."""
    if first["verdict"] != check.verdict.value:
        return False
    policy = first.get("policy")
    return check.verdict is not Verdict.VIOLATING or policy is None or check.policy is None or policy == check.policy
