"""Submitting items and asking what became of them: the upstream pipelines' side of the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.requests import ClientDisconnect

from queueopt.engine import ItemResult
from queueopt.service.deps import IngestOrAdmin, ItemIdPath, RuntimeDep
from queueopt.service.openapi import json_body
from queueopt.service.problems import SEND_JSON, documented, is_json
from queueopt.service.schemas import ItemOut, SubmitItems, SubmitResult
from queueopt.service.views import json_response

router = APIRouter(prefix="/v1/items", tags=["items"])
# The hot path of ingest: the engine's result dataclasses serialised straight to JSON bytes, skipping FastAPI's
# re-validation of a response model (a measurable share of a 100-item request). `SubmitResult` still documents it.
_RESULTS = TypeAdapter(dict[str, list[ItemResult]])


async def _submission(request: Request) -> SubmitItems:
    """The body, parsed and validated in one pass by pydantic-core straight from the bytes. A body parameter would
    have FastAPI decode it with the standard library's json first and validate the resulting dicts after, about a
    third more time for a 100-item batch. Problems are reported exactly as for any body: 422, naming the field."""
    if not is_json(request.headers.get("content-type")):
        raise RequestValidationError([{"type": "content_type", "loc": ("body",), "msg": SEND_JSON}])
    try:
        return SubmitItems.model_validate_json(await request.body())
    except ClientDisconnect:
        # As FastAPI answers a body it cannot read; the client has gone, and the answer is for the access log.
        raise HTTPException(400, "the body ended before its Content-Length: the client went away") from None
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False)
        raise RequestValidationError([{**problem, "loc": ("body", *problem["loc"])} for problem in problems]) from None


@router.post(
    "",
    status_code=202,
    response_model=SubmitResult,
    responses=documented(401, 403, 413, 422, 503),
    openapi_extra=json_body(SubmitItems),
)
async def submit_items(
    principal: IngestOrAdmin, runtime: RuntimeDep, body: Annotated[SubmitItems, Depends(_submission)]
) -> Response:
    """Route and store 1..1000 items, all or nothing; re-sending known ids stores nothing and returns the same
    results."""
    results = await runtime.thread.run(runtime.engine.submit, body.items, principal.actor)
    runtime.assigner.work_arrived()
    return Response(_RESULTS.dump_json({"results": results}), status_code=202, media_type="application/json")


@router.get("/{item_id}", response_model=ItemOut, responses=documented(401, 403, 404, 422, 503))
async def get_item(item_id: ItemIdPath, principal: IngestOrAdmin, runtime: RuntimeDep) -> Response:
    """Where an item stands: its queue and priority while waiting, the decision once decided."""
    view = await runtime.thread.run(runtime.engine.item, item_id)
    return json_response(ItemOut.model_validate(view, from_attributes=True))


@router.post("/{item_id}/cancel", response_model=ItemOut, responses=documented(401, 403, 404, 409, 422, 503))
async def cancel_item(item_id: ItemIdPath, principal: IngestOrAdmin, runtime: RuntimeDep) -> Response:
    """Withdraw an item whose content is gone upstream, while it waits: its task is cancelled once no other copy
    needs it. 409 once decided, or while its only task is under review."""
    view = await runtime.thread.run(runtime.engine.cancel, item_id, principal.actor)
    return json_response(ItemOut.model_validate(view, from_attributes=True))
