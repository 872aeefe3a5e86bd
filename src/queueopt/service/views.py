"""Engine views to response bodies. The engine's views are read-only snapshots; the HTTP contract is the schemas.

Routes answer with `json_response(model)`: the body is serialised once by pydantic-core. Returning the model and
letting FastAPI apply `response_model` would dump it, validate the dump against a copy of the model and serialise
again, which cost about as much as the engine call on the moderator loop. The decorators keep `response_model` so
the OpenAPI document still describes every answer, and schemathesis holds the answers to it.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel

from queueopt.engine import ModeratorView, TaskView
from queueopt.service.auth import Principal, Role
from queueopt.service.schemas import AccuracyOut, ModeratorOut, TaskOut


def json_response(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


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


def moderator_out(view: ModeratorView, principal: Principal) -> ModeratorOut:
    """The moderator as `principal` may see them: their accuracy estimates only for an admin (found by a probe: a
    moderator reading their own after each QA outcome learned which decisions were sampled, and what QA found)."""
    accuracy = None
    if principal.role is Role.ADMIN:
        estimates = view.accuracy.items()
        accuracy = {area: AccuracyOut(estimate=estimate, qa_reviews=reviews) for area, (estimate, reviews) in estimates}
    return ModeratorOut(
        profile=view.profile,
        status=view.profile.status,
        leases=list(view.leases),
        accuracy=accuracy,
        expected_handling_s=view.handling_s,
        idle_after_expiry=view.idle_after_expiry,
    )
