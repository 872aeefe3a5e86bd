"""The audit log as NDJSON, streamed page by page so an export of millions of entries never sits in memory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from queueopt.service.deps import Admin, Runtime, RuntimeDep
from queueopt.service.problems import documented

router = APIRouter(prefix="/v1/audit", tags=["audit"])
PAGE = 1000


@router.get(
    "",
    response_class=StreamingResponse,
    responses=documented(
        401,
        403,
        422,
        503,
        also={
            200: {
                "description": "One JSON object per line: seq, at, task_id, item_id, actor, transition, note.",
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            }
        },
    ),
)
async def audit(
    principal: Admin,
    runtime: RuntimeDep,
    since: Annotated[float, Query(ge=0.0, allow_inf_nan=False, description="Entries at or after this time.")] = 0.0,
) -> StreamingResponse:
    return StreamingResponse(_lines(runtime, since), media_type="application/x-ndjson")


async def _lines(runtime: Runtime, since: float) -> AsyncIterator[bytes]:
    after = 0
    while True:
        page = await runtime.thread.run(runtime.engine.audit, since, PAGE, after)
        if not page:
            return
        yield b"".join(json.dumps(asdict(entry), separators=(",", ":")).encode() + b"\n" for entry in page)
        if len(page) < PAGE:
            return
        after = page[-1].seq
