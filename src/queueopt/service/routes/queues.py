"""Queue health for operations: depth, oldest age and SLA attainment per queue."""

from __future__ import annotations

from fastapi import APIRouter, Response

from queueopt.service.deps import Admin, RuntimeDep
from queueopt.service.problems import documented
from queueopt.service.schemas import QueueOut, QueuesOut
from queueopt.service.views import json_response

router = APIRouter(prefix="/v1/queues", tags=["queues"])


@router.get("", response_model=QueuesOut, responses=documented(401, 403, 503))
async def list_queues(principal: Admin, runtime: RuntimeDep) -> Response:
    views = await runtime.thread.run(runtime.engine.queues)
    return json_response(QueuesOut(queues=[QueueOut.model_validate(view, from_attributes=True) for view in views]))
