"""Submitting items and asking what became of them: the upstream pipelines' side of the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from queueopt.service.deps import IngestOrAdmin, RuntimeDep
from queueopt.service.problems import documented
from queueopt.service.schemas import ItemOut, ItemResultOut, SubmitItems, SubmitResult

router = APIRouter(prefix="/v1/items", tags=["items"])


@router.post("", status_code=202, response_model=SubmitResult, responses=documented(401, 403, 413, 422, 503))
async def submit_items(body: SubmitItems, principal: IngestOrAdmin, runtime: RuntimeDep) -> SubmitResult:
    """Route and store 1..1000 items, all or nothing; re-sending known ids stores nothing and returns the same
    results."""
    results = await run_in_threadpool(runtime.engine.submit, body.items, principal.actor)
    runtime.assigner.work_arrived()
    return SubmitResult(results=[ItemResultOut.model_validate(result, from_attributes=True) for result in results])


@router.get("/{item_id}", response_model=ItemOut, responses=documented(401, 403, 404, 422, 503))
async def get_item(
    item_id: Annotated[str, Path(min_length=1, max_length=200)], principal: IngestOrAdmin, runtime: RuntimeDep
) -> ItemOut:
    """Where an item stands: its queue and priority while waiting, the decision once decided."""
    view = await run_in_threadpool(runtime.engine.item, item_id)
    return ItemOut.model_validate(view, from_attributes=True)
