"""Liveness and readiness, unauthenticated for load balancers; metrics, for a `metrics` (or `admin`) token: queue
depths, SLA shares and decision counts are the platform's operations, not for anyone who can reach the port."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from queueopt.errors import StoreUnavailable
from queueopt.service.deps import MetricsReader, Runtime
from queueopt.service.forward import FORWARDED, TWICE, Forwarder
from queueopt.service.metrics import CONTENT_TYPE, ServiceMetrics
from queueopt.service.problems import documented
from queueopt.service.schemas import Health

router = APIRouter(tags=["health"])


# HEAD too: load balancers probe with it, and FastAPI adds it to no GET route of its own accord (it is left out of
# the API description, where it would repeat the GET's operation id).
@router.get("/healthz", response_model=Health)
@router.head("/healthz", include_in_schema=False)
async def healthz() -> Health:
    """The process answers; says nothing about the store."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses=documented(503))
@router.head("/readyz", include_in_schema=False)
async def readyz(request: Request) -> Health:
    """Ready when the store answers; a standby, when the engine it passes requests to says it is ready."""
    forwarder: Forwarder | None = getattr(request.app.state, "forwarder", None)
    if forwarder is not None:
        if FORWARDED.decode() in request.headers:
            raise StoreUnavailable(TWICE, field=None)
        reason = await forwarder.serving_ready()
        if reason is not None:
            raise StoreUnavailable(reason, field=None)
        return Health(status="ready")
    runtime: Runtime = request.app.state.runtime
    if not await runtime.thread.run(runtime.engine.ready):
        raise StoreUnavailable("store unreachable", field=None)
    return Health(status="ready")


@router.get(
    "/metrics",
    response_class=Response,
    responses=documented(
        401,
        403,
        also={
            200: {"description": "Prometheus text format.", "content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}
        },
    ),
)
async def metrics(request: Request, _: MetricsReader) -> Response:
    """This process's metrics: a standby answers with its own (no engine, `queueopt_serving` 0), not the serving
    process's, so a scrape of every replica counts each queue once."""
    service: ServiceMetrics = request.app.state.metrics
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    body = service.render() if runtime is None else await runtime.thread.run(service.render)
    return Response(body, media_type=CONTENT_TYPE)
