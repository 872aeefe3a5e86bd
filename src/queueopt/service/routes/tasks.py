"""What a moderator does with a leased task, and an admin's look at a task and manual assignment.

Every lease action presents the lease token; the engine checks it and the holder under its lock, so a stale or
foreign token is refused (409, one answer for any task the moderator does not hold) and never applied twice.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from queueopt.service.deps import Admin, ModeratorOnly, RuntimeDep, TaskIdPath
from queueopt.service.problems import documented
from queueopt.service.schemas import (
    AssignRequest,
    CancelQaRequest,
    DecisionRequest,
    ExtendRequest,
    LeaseAction,
    ReferRequest,
    SkipRequest,
    TaskOut,
)
from queueopt.service.views import json_response, task_out

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])
LEASE_ERRORS = documented(401, 403, 404, 409, 413, 422, 503)


def _holder(principal: ModeratorOnly) -> str:
    assert principal.moderator_id is not None
    return principal.moderator_id


@router.post("/{task_id}/decision", response_model=TaskOut, responses=LEASE_ERRORS)
async def decide(task_id: TaskIdPath, body: DecisionRequest, principal: ModeratorOnly, runtime: RuntimeDep) -> Response:
    """Record the verdict; a verdict or action the task's queue does not allow is a 422. The same decision sent again
    by its maker under the same lease (a retry after a timeout) is answered 200 as the first time and changes nothing;
    another decision under that lease is a 409 naming the one recorded."""
    view = await runtime.thread.run(
        runtime.engine.decide, task_id, body.lease_token, _holder(principal), body.decision()
    )
    return json_response(task_out(view))


@router.post("/{task_id}/release", response_model=TaskOut, responses=LEASE_ERRORS)
async def release(task_id: TaskIdPath, body: LeaseAction, principal: ModeratorOnly, runtime: RuntimeDep) -> Response:
    """Give the task back to its queue. Sent again by its holder under the same lease (a retry after a timeout) it is
    answered 200 as the first time and changes nothing; a skip under that lease is then a 409 naming the release."""
    view = await runtime.thread.run(runtime.engine.release, task_id, body.lease_token, _holder(principal))
    runtime.assigner.work_arrived()
    return json_response(task_out(view))


@router.post("/{task_id}/skip", response_model=TaskOut, responses=LEASE_ERRORS)
async def skip(task_id: TaskIdPath, body: SkipRequest, principal: ModeratorOnly, runtime: RuntimeDep) -> Response:
    """Give the task back and never be offered it again. Sent again by its holder under the same lease with the same
    reason (a retry after a timeout) it is answered 200 as the first time and changes nothing; another reason, or a
    release, under that lease is a 409 naming the skip recorded."""
    view = await runtime.thread.run(runtime.engine.skip, task_id, body.lease_token, _holder(principal), body.reason)
    runtime.assigner.work_arrived()
    return json_response(task_out(view))


@router.post("/{task_id}/refer", response_model=TaskOut, responses=LEASE_ERRORS)
async def refer(task_id: TaskIdPath, body: ReferRequest, principal: ModeratorOnly, runtime: RuntimeDep) -> Response:
    """Give the task back asking what the policy area `policy` asks of a reviewer (its certification, its clearance
    tier, severe if the area is), and never be offered it again: for content of an area the moderator may not decide
    (a decision under it is a 422). Retried like a skip."""
    view = await runtime.thread.run(
        runtime.engine.refer, task_id, body.lease_token, _holder(principal), body.policy, body.reason
    )
    runtime.assigner.work_arrived()
    return json_response(task_out(view))


@router.post("/{task_id}/extend", response_model=TaskOut, responses=LEASE_ERRORS)
async def extend(task_id: TaskIdPath, body: ExtendRequest, principal: ModeratorOnly, runtime: RuntimeDep) -> Response:
    """Lengthen the lease, for long media: until `seconds` from now, so a retry after a timeout is safe as it is."""
    view = await runtime.thread.run(runtime.engine.extend, task_id, body.lease_token, _holder(principal), body.seconds)
    return json_response(task_out(view))


@router.post("/{task_id}/cancel", response_model=TaskOut, responses=documented(401, 403, 404, 409, 413, 422, 503))
async def cancel_qa(task_id: TaskIdPath, body: CancelQaRequest, principal: Admin, runtime: RuntimeDep) -> Response:
    """Drop a waiting QA review nobody on the roster may take (`GET /v1/queues` counts it `unstaffed`): it would
    wait for ever and keep its content from the purge. The decision it would have checked stands; a review is
    withdrawn with its item (`POST /v1/items/{item_id}/cancel`), so this is a 409 for one."""
    view = await runtime.thread.run(runtime.engine.cancel_qa, task_id, principal.actor, body.reason)
    return json_response(task_out(view))


@router.get("/{task_id}", response_model=TaskOut, responses=documented(401, 403, 404, 422, 503))
async def get_task(task_id: TaskIdPath, principal: Admin, runtime: RuntimeDep) -> Response:
    """A task as it stands, for an admin following up an item's `task_id` or an audit entry: its state, holder and
    lease, and the item under review. Moderators read their own work from `/next`, never another's."""
    view = await runtime.thread.run(runtime.engine.task, task_id)
    return json_response(task_out(view))


@router.post("/{task_id}/assign", response_model=TaskOut, responses=LEASE_ERRORS)
async def assign(task_id: TaskIdPath, body: AssignRequest, principal: Admin, runtime: RuntimeDep) -> Response:
    """Lease the task to a named moderator; 409 when they are not eligible or the task is not waiting."""
    view = await runtime.thread.run(runtime.engine.assign_to, task_id, body.moderator_id, principal.actor)
    return json_response(task_out(view))
