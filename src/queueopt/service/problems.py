"""One error format for every failure: `{"detail": [{"field": ..., "reason": ...}]}` with the status that fits.

Clients (pipelines, review tools) branch on the status and show the reason; `field` names the offending input as a
dotted path (`items.3.modality`) or is null when no single field is to blame. Nothing escapes as a bare 500 with a
traceback: the last-resort handler logs the exception and answers with the same JSON shape.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from queueopt.domain import validation_reason
from queueopt.errors import QueueoptError, StoreUnavailable

log = logging.getLogger("queueopt.service")

_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def error_response(
    status: int, reason: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": [{"field": field, "reason": reason}]}, status_code=status, headers=headers)


def field_path(loc: Sequence[Any]) -> str:
    """`("body", "items", 0, "modality")` -> `items.0.modality`; the request part is implied by the route."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:] or parts
    return ".".join(parts)


SEND_JSON = "send JSON (Content-Type: application/json)"


def is_json(content_type: str | None) -> bool:
    media = (content_type or "").partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    json_body = is_json(request.headers.get("content-type"))
    # Once each: a path parameter that a route and its access check both read is validated by both.
    problems = (_problem(problem, json_body) for problem in error.errors())
    detail = {(problem["field"], problem["reason"]): problem for problem in problems}
    return JSONResponse({"detail": list(detail.values())}, status_code=422)


def _problem(problem: dict[str, Any], json_body: bool) -> dict[str, str]:
    """FastAPI reports a body that is not JSON at `("body", <character offset>)`: the field is the body. A body
    sent as another media type is not parsed at all, so it is said once, as `POST /v1/items` says it."""
    if not json_body and tuple(problem.get("loc", ())) == ("body",):
        return {"field": "body", "reason": SEND_JSON}
    if problem.get("type") == "json_invalid":
        cause = problem.get("ctx", {}).get("error") or str(problem.get("msg", "")).removeprefix("Invalid JSON: ")
        where = problem["loc"][-1] if problem.get("loc") else None
        return {
            "field": "body",
            "reason": f"invalid JSON: {cause}" + (f" (at character {where})" if isinstance(where, int) else ""),
        }
    return {"field": field_path(problem.get("loc", ())), "reason": validation_reason(cast(ErrorDetails, problem))}


async def _queueopt_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, QueueoptError)
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    if isinstance(error, StoreUnavailable):
        headers = {"Retry-After": "1"}  # a busy store, or (deposed) the replica that serves the store now
    return error_response(error.status, error.message, error.field, headers)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    """Routing errors (404, 405) keep their status. FastAPI's only 400 is a body it cannot decode (not UTF-8, say),
    which is invalid input like malformed JSON, so it answers 422 the same way."""
    assert isinstance(error, StarletteHTTPException)
    reason = error.detail if isinstance(error.detail, str) else str(error.detail)
    if error.status_code == 400:
        return error_response(422, reason, "body")
    return error_response(error.status_code, reason, None, dict(error.headers or {}))


class LastResort:
    """Turns an unexpected exception into a logged 500 in the error format, once, instead of Starlette's plain-text
    500 followed by the exception re-raised into the server (a second traceback, and a dropped connection in
    tests). A failure after the answer started can only be logged; the connection is then closed by the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            # The path as a repr: decoded, it may hold a newline, which would forge a line of the log.
            log.exception("unhandled error on %s %r", scope["method"], scope["path"])
            if started:
                raise
            await error_response(500, "internal error; the request may not have been applied")(scope, receive, send)


def documented(*statuses: int, also: dict[int | str, dict[str, Any]] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer, all with the one error body, plus `also`."""
    from queueopt.service.schemas import ErrorBody

    entries: dict[int | str, dict[str, Any]] = dict(also or {})
    entries.update({status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses})
    return entries


_DESCRIPTIONS = {
    401: "No valid bearer token.",
    403: "The token's role or moderator may not do this.",
    404: "No such resource.",
    409: "The state does not allow it (stale lease, not eligible, already decided).",
    413: "Request body too large.",
    422: "Invalid input; `field` names it.",
    500: "Unexpected failure (never expected; logged).",
    503: "The store is unreachable or failing; retry after `Retry-After` seconds.",
}


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(QueueoptError, _queueopt_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(LastResort)
