"""A standby's requests, passed to the engine that serves the store.

Only one process may run the engine of a store (its queues and leases live in that process's memory), yet a
deployment runs several replicas behind one load balancer so that losing a machine loses no time. A standby
therefore serves HTTP by passing each request, as it came (method, path, query, headers with the bearer token,
body), to the serving engine's announced address, and passing the answer back as it came: authentication,
validation and every decision stay with the one engine, so a request means the same whichever replica takes it.

What a standby answers itself: `/healthz` and `/readyz` (ready while the serving engine answers its own), and the
API's description. When the serving engine cannot be reached, say in the seconds between its crash and the
take-over, the answer is 503 with `Retry-After`, never a guess: a submission that got no 2xx may be sent again,
and submissions are idempotent by item id.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import httpx
from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from queueopt.service.problems import error_response
from queueopt.store import Store

FORWARDED = b"x-queueopt-forwarded"
LOCAL_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
# Meaningful for one connection only (RFC 9110, 7.6.1), or set anew for the message as relayed.
_NOT_RELAYED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"content-encoding",
        b"date",
    }
)
REFRESH_S = 1.0
CONNECT_TIMEOUT_S = 2.0
# Longer than the longest request the engine holds open: a moderator's long-poll for the next task (30 s).
READ_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 2.0


class ServingAddress:
    """The serving engine's announced address, read from the store at most once per `REFRESH_S`, and at once
    after it failed to answer (a new engine may have taken over elsewhere)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._clock = clock
        self._address: str | None = None
        self._read_at = -math.inf

    async def get(self) -> str | None:
        if self._clock() - self._read_at >= REFRESH_S:
            self._address = await to_thread.run_sync(self._store.serving_address)
            self._read_at = self._clock()
        return self._address

    def forget(self) -> None:
        self._read_at = -math.inf


class Forwarder:
    """Passes requests to the serving engine; owns the HTTP client and the store connection it reads the address
    from, and closes both."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.address = ServingAddress(store)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S), follow_redirects=False
        )

    async def serving_ready(self) -> str | None:
        """None when the serving engine says it is ready, else why this standby cannot serve."""
        address = await self.address.get()
        if address is None:
            return "standby: no engine has announced that it serves this store yet"
        try:
            answer = await self._client.get(f"{address}/readyz", timeout=READY_TIMEOUT_S)
        except httpx.HTTPError:
            self.address.forget()
            return f"standby: the engine serving this store at {address} does not answer"
        if answer.status_code != 200:
            return f"standby: the engine serving this store at {address} is not ready ({answer.status_code})"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if any(name == FORWARDED for name, _ in scope["headers"]):
            # The announced address is stale and names another standby: answering beats passing it on in a loop.
            await _unavailable("standby: the request reached a standby twice; the serving engine is changing")(
                scope, receive, send
            )
            return
        address = await self.address.get()
        if address is None:
            await _unavailable("standby: no engine has announced that it serves this store yet")(scope, receive, send)
            return
        body = await _body(receive)
        headers = [(name, value) for name, value in scope["headers"] if name not in _NOT_RELAYED]
        headers.append((FORWARDED, b"1"))
        target = address + scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        try:
            answer = await self._client.request(scope["method"], target, headers=headers, content=body)
        except httpx.HTTPError:
            self.address.forget()
            await _unavailable(f"standby: the engine serving this store at {address} did not answer")(
                scope, receive, send
            )
            return
        relayed = [(name, value) for name, value in answer.headers.raw if name.lower() not in _NOT_RELAYED]
        relayed.append((b"content-length", str(len(answer.content)).encode()))
        await send({"type": "http.response.start", "status": answer.status_code, "headers": relayed})
        await send({"type": "http.response.body", "body": answer.content})

    async def close(self) -> None:
        await self._client.aclose()
        await to_thread.run_sync(self._store.close)


async def _body(receive: Receive) -> bytes:
    """The whole request body (the body limit, outside this middleware, has already bounded it)."""
    parts: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _unavailable(reason: str) -> ASGIApp:
    return error_response(503, reason, None, headers={"Retry-After": "1"})


class PassToServing:
    """ASGI middleware: while this process is a standby (`app.state.forwarder` set), every request but the
    standby's own paths goes to the serving engine; once it has taken over, requests go to its own routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in LOCAL_PATHS:
            forwarder: Forwarder | None = getattr(scope["app"].state, "forwarder", None)
            if forwarder is not None:
                await forwarder(scope, receive, send)
                return
        await self.app(scope, receive, send)
