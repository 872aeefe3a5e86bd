"""Moderator profiles, availability and the work pull (`/next`) that review tools long-poll."""

from __future__ import annotations

import time
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from queueopt.capability import ModeratorProfile
from queueopt.errors import InvalidInput
from queueopt.service.auth import Role
from queueopt.service.deps import Admin, ModeratorIdPath, Own, OwnOrAdmin, RuntimeDep
from queueopt.service.metrics import WAITED_S
from queueopt.service.problems import documented
from queueopt.service.schemas import ModeratorOut, StatusChange, TaskOut
from queueopt.service.views import json_response, moderator_out, task_out

router = APIRouter(prefix="/v1/moderators", tags=["moderators"])
MAX_WAIT_S = 30.0


@router.put("/{moderator_id}", response_model=ModeratorOut, responses=documented(401, 403, 413, 422, 503))
async def put_moderator(
    moderator_id: ModeratorIdPath, profile: ModeratorProfile, principal: Admin, runtime: RuntimeDep
) -> Response:
    """Create or update a profile; the id in the body must be the id in the path."""
    if profile.id != moderator_id:
        raise InvalidInput(f"profile id {profile.id!r} differs from the path's {moderator_id!r}", field="id")
    view = await runtime.thread.run(runtime.engine.upsert_moderator, profile, principal.actor)
    return json_response(moderator_out(view, principal))


@router.get("/{moderator_id}", response_model=ModeratorOut, responses=documented(401, 403, 404, 422, 503))
async def get_moderator(moderator_id: ModeratorIdPath, principal: OwnOrAdmin, runtime: RuntimeDep) -> Response:
    view = await runtime.thread.run(runtime.engine.moderator, moderator_id)
    return json_response(moderator_out(view, principal))


@router.post("/{moderator_id}/status", response_model=ModeratorOut, responses=documented(401, 403, 404, 413, 422, 503))
async def set_status(
    moderator_id: ModeratorIdPath, change: StatusChange, principal: OwnOrAdmin, runtime: RuntimeDep
) -> Response:
    """Available, away or offline; going offline hands the moderator's leased tasks back to their queues."""
    by_admin = principal.role is Role.ADMIN
    view = await runtime.thread.run(
        partial(runtime.engine.set_status, by_admin=by_admin), moderator_id, change.status, principal.actor
    )
    if change.status == "available":
        runtime.assigner.wake()
    elif change.status in ("offline", "suspended"):
        runtime.assigner.work_arrived()
    return json_response(moderator_out(view, principal))


@router.post(
    "/{moderator_id}/next",
    response_model=TaskOut,
    responses=documented(
        401, 403, 404, 409, 422, 503, also={204: {"description": "Nothing to review (after waiting up to wait_s)."}}
    ),
)
async def next_task(
    moderator_id: ModeratorIdPath,
    principal: Own,
    runtime: RuntimeDep,
    request: Request,
    wait_s: Annotated[float, Query(ge=0.0, le=MAX_WAIT_S, allow_inf_nan=False)] = 0.0,
) -> Response:
    """The moderator's current lease, or a fresh one chosen for them now. With nothing to offer, waits up to
    `wait_s` for a batch that leases something or for new work, and looks again; 204 when nothing comes, or when the
    service is shutting down."""
    deadline = time.monotonic() + wait_s
    view = await runtime.thread.run(runtime.engine.next_for, moderator_id)
    waited = 0.0
    try:
        while view is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or runtime.assigner.draining:
                return Response(status_code=204)
            started = time.monotonic()
            try:
                await runtime.assigner.wait_for_work(remaining)
            finally:
                waited += time.monotonic() - started
            view = await runtime.thread.run(runtime.engine.next_for, moderator_id)
        return json_response(task_out(view))
    finally:
        if wait_s > 0:
            request.scope[WAITED_S] = waited
