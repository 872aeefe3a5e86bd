"""Submitting items and asking what became of them: the upstream pipelines' side of the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import TypeAdapter

from queueopt.engine import ItemResult
from queueopt.service.deps import IngestOrAdmin, RuntimeDep
from queueopt.service.problems import documented
from queueopt.service.schemas import ItemOut, SubmitItems, SubmitResult
from queueopt.service.views import json_response

router = APIRouter(prefix="/v1/items", tags=["items"])
# The hot path of ingest: the engine's result dataclasses serialised straight to JSON bytes, skipping FastAPI's
# re-validation of a response model (a measurable share of a 100-item request). `SubmitResult` still documents it.
_RESULTS = TypeAdapter(dict[str, list[ItemResult]])


@router.post("", status_code=202, response_model=SubmitResult, responses=documented(401, 403, 413, 422, 503))
async def submit_items(body: SubmitItems, principal: IngestOrAdmin, runtime: RuntimeDep) -> Response:
    """Route and store 1..1000 items, all or nothing; re-sending known ids stores nothing and returns the same
    results."""
    results = await runtime.thread.run(runtime.engine.submit, body.items, principal.actor)
    runtime.assigner.work_arrived()
    return Response(_RESULTS.dump_json({"results": results}), status_code=202, media_type="application/json")


@router.get("/{item_id}", response_model=ItemOut, responses=documented(401, 403, 404, 422, 503))
async def get_item(
    item_id: Annotated[str, Path(min_length=1, max_length=200)], principal: IngestOrAdmin, runtime: RuntimeDep
) -> Response:
    """Where an item stands: its queue and priority while waiting, the decision once decided."""
    view = await runtime.thread.run(runtime.engine.item, item_id)
    return json_response(ItemOut.model_validate(view, from_attributes=True))
