"""Engine views to response bodies. The engine's views are frozen dataclasses; the HTTP contract is the schemas."""

from __future__ import annotations

from queueopt.engine import ModeratorView, TaskView
from queueopt.service.schemas import ModeratorOut, TaskOut


def task_out(view: TaskView) -> TaskOut:
    return TaskOut(
        task_id=view.id,
        item_id=view.item_id,
        kind=view.kind,
        state=view.state,
        queue=view.queue,
        priority=view.priority,
        policy=view.policy,
        severe=view.severe,
        holder=view.holder,
        lease_token=view.lease_token,
        lease_expires_at=view.lease_expires_at,
        item=view.item,
    )


def moderator_out(view: ModeratorView) -> ModeratorOut:
    return ModeratorOut(profile=view.profile, status=view.profile.status, leases=list(view.leases))
