"""A standby's requests, passed to the engine that serves the store.

Only one process may run the engine of a store (its queues and leases live in that process's memory), yet a
deployment runs several replicas behind one load balancer so that losing a machine loses no time. A standby
therefore serves HTTP by passing each request, as it came (method, path, query, headers with the bearer token,
body), to the serving engine's announced address, and passing the answer back as it came: authentication,
validation and every decision stay with the one engine, so a request means the same whichever replica takes it.

What a standby answers itself: `/healthz` and `/readyz` (ready while the serving engine answers its own), and the
API's description. When the serving engine cannot be reached, say in the seconds between its crash and the
take-over, or does not answer in time (a hung process), the answer is 503 with `Retry-After`, and its reason says
whether the request reached the engine (then it may have been applied) or not. A request whose body did not arrive
whole is never passed on.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl

import httpx
from anyio import to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from queueopt.service.metrics import PASSED_ON
from queueopt.service.problems import error_response
from queueopt.service.routes.moderators import MAX_WAIT_S
from queueopt.store import Store, open_store

log = logging.getLogger("queueopt.service.forward")

FORWARDED = b"x-queueopt-forwarded"
# `/metrics` too: each replica's are its own (see `metrics`), so a scrape of every replica counts each queue once.
LOCAL_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)
# Meaningful for one connection only (RFC 9110, 7.6.1), or set anew for the message as relayed. `Host` is passed on:
# the serving engine builds the links it answers with (a redirect's Location) from the address the client used.
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
        b"content-length",
        b"content-encoding",
        b"date",
    }
)
_NO_BODY = frozenset({204, 304})
REFRESH_S = 1.0
CONNECT_TIMEOUT_S = 2.0
READY_TIMEOUT_S = 2.0
# The serving engine answering 503 this many times in a row (a standby at a stale address, an engine stopping) sends
# the next request to read the address anew; one 503 alone is an answer like any other (a store that failed once).
UNAVAILABLE_IN_A_ROW = 2
# Every long-poll holds a connection to the serving engine for as long as it waits: the pool must not cap them, or
# a hundred waiting moderators would queue every other request behind them.
_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=64)
# Failures where the request cannot have reached the engine.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.LocalProtocolError)


class ServingAddress:
    """The serving engine's announced address, read from the store at most once per `REFRESH_S`, and at once after
    it failed to answer or answered 503 `UNAVAILABLE_IN_A_ROW` times (a new engine may have taken over elsewhere).
    Callers that find the address due while it is being read wait for that one read: each reading on its own, all
    but the first found none yet on a freshly started standby and answered 503 (found by a probe). A store
    connection that fails is dropped and opened again at the next read; meanwhile the address last read stands."""

    def __init__(self, database_url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._database_url = database_url
        self._clock = clock
        self._store: Store | None = None
        self._address: str | None = None
        self._read_at = -math.inf
        self._reading = asyncio.Lock()
        self._unavailable = 0

    async def get(self) -> str | None:
        if self._due():
            async with self._reading:
                if self._due():  # else the read this caller waited for is fresh
                    await self._refresh()
        return self._address

    def _due(self) -> bool:
        return self._clock() - self._read_at >= REFRESH_S

    async def _refresh(self) -> None:
        try:
            self._address = await to_thread.run_sync(self._read)
        except Exception as error:
            log.warning("standby: cannot read the serving engine's address from the store: %s", error)
            await self.close()
        self._read_at = self._clock()

    def _read(self) -> str | None:
        if self._store is None:
            self._store = open_store(self._database_url, migrate=False)  # the serving engine's release migrates
        return self._store.serving_address()

    def answered(self, status: int) -> None:
        """The serving engine answered `status`: the address is read again after `UNAVAILABLE_IN_A_ROW` 503s."""
        self._unavailable = self._unavailable + 1 if status == 503 else 0
        if self._unavailable >= UNAVAILABLE_IN_A_ROW:
            self.forget()

    def forget(self) -> None:
        self._read_at = -math.inf
        self._unavailable = 0

    async def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            try:
                await to_thread.run_sync(store.close)
            except Exception as error:
                log.warning("standby: closing its store connection failed: %s", error)


class Forwarder:
    """Passes requests to the serving engine; owns the HTTP client and the store connection the address is read
    from, and closes both. On shutdown (`drain_threadsafe`) the long-polls it passed on are answered 204 at once,
    as the serving engine answers its own, instead of being cut off when the grace period ends.

    A request waits `timeout_s` for each part of the answer (a long-poll its requested wait on top), so a hung
    engine costs a client that long and a 503, not the minutes until the load balancer gives up."""

    def __init__(self, database_url: str, timeout_s: float) -> None:
        self.address = ServingAddress(database_url)
        self._timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S), limits=_LIMITS, follow_redirects=False
        )
        self._loop = asyncio.get_running_loop()
        self._polls: set[asyncio.Task[httpx.Response]] = set()
        self._draining = False

    async def serving_ready(self) -> str | None:
        """None when the serving engine says it is ready, else why this standby cannot serve."""
        address = await self.address.get()
        if address is None:
            return NO_ADDRESS
        try:
            answer = await self._client.get(
                f"{address}/readyz", headers={FORWARDED.decode(): "1"}, timeout=READY_TIMEOUT_S
            )
        except httpx.HTTPError as error:
            self.address.forget()
            log.warning("standby: the engine serving this store at %s does not answer: %r", address, error)
            return "standby: the engine serving this store does not answer"
        self.address.answered(answer.status_code)
        if answer.status_code != 200:
            log.warning("standby: the engine serving this store at %s is not ready (%d)", address, answer.status_code)
            return f"standby: the engine serving this store is not ready ({answer.status_code})"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if any(name == FORWARDED for name, _ in scope["headers"]):
            # The announced address is stale and names a standby: answering beats passing it on in a loop.
            await unavailable(TWICE + _NOT_APPLIED)(scope, receive, send)
            return
        address = await self.address.get()
        if address is None:
            await unavailable(NO_ADDRESS + _NOT_APPLIED)(scope, receive, send)
            return
        if not scope["raw_path"].startswith(b"/"):  # `OPTIONS *` and the like: no route has such a path
            await error_response(404, "Not Found")(scope, receive, send)
            return
        body = await _whole_body(receive)
        if body is None:
            return  # the client left before its body arrived whole: nothing to pass on, nobody to answer
        headers = _relayed_request_headers(scope["headers"])
        target = httpx.URL(address).copy_with(raw_path=_target(scope["raw_path"], scope["query_string"]))
        long_poll = scope["path"].endswith("/next")
        timeout_s = self._timeout_s + (_requested_wait(scope["query_string"]) if long_poll else 0.0)
        built = self._client.build_request(
            scope["method"],
            target,
            headers=headers,
            content=body,
            timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
        )
        # Streamed: the answer's body is passed on as it arrives (`_relay`), not read whole first.
        request = self._client.send(built, stream=True)
        try:
            answer = await (self._long_poll(request) if long_poll else request)
        except httpx.HTTPError as error:
            self.address.forget()
            await unavailable(_not_answered(address, error, timeout_s))(scope, receive, send)
            return
        if answer is None:  # drained: nothing for this moderator now, as the serving engine says on its shutdown
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        self.address.answered(answer.status_code)
        try:
            await _relay(answer, scope["method"], send)
        finally:
            await answer.aclose()

    async def _long_poll(self, request: Coroutine[Any, Any, httpx.Response]) -> httpx.Response | None:
        """A moderator's ask for work, which the engine may hold for up to 30 s: None if the standby's shutdown
        cut it short."""
        poll = asyncio.ensure_future(request)
        self._polls.add(poll)
        try:
            return await poll
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._draining and poll.cancelled() and current is not None and not current.cancelling():
                return None
            raise
        finally:
            self._polls.discard(poll)

    def drain_threadsafe(self) -> None:
        """The server is stopping: answer the long-polls in flight now. Callable from a signal handler."""
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self._draining = True
        for poll in list(self._polls):
            poll.cancel()

    async def close(self) -> None:
        await self._client.aclose()
        await self.address.close()


def _requested_wait(query: bytes) -> float:
    """The longest `wait_s` the query asks of a long-poll, as far as the engine allows it; a value the engine
    refuses is answered at once (422), so it waits nothing."""
    waits = [0.0]
    for name, value in parse_qsl(query.decode("latin-1")):
        try:
            wait = float(value)
        except ValueError:
            continue
        if name == "wait_s" and math.isfinite(wait):
            waits.append(min(max(wait, 0.0), MAX_WAIT_S))
    return max(waits)


def _not_answered(address: str, error: httpx.HTTPError, timeout_s: float) -> str:
    """Why a standby answers 503, saying whether the request may have been applied. The serving engine's address
    is logged, not answered: the answer may go to anyone who can reach the load balancer, before any token is
    checked, and the deployment's internal addresses are not theirs to learn."""
    log.warning("standby: the engine serving this store at %s did not answer: %r", address, error)
    if isinstance(error, _NOT_SENT):
        return "standby: the engine serving this store did not answer; the request was not applied; retry"
    late = f" within {timeout_s:g} s" if isinstance(error, httpx.TimeoutException) else ""
    return (
        f"standby: the engine serving this store did not answer{late}; it may have been applied: check before retrying"
    )


TWICE = "standby: the request reached a standby twice; the serving engine is changing"
NO_ADDRESS = "standby: no engine has announced that it serves this store yet"
# A standby answering TWICE or NO_ADDRESS passed nothing on, and says so, as its every other 503 says whether the
# request may have been applied (found by a probe: these two did not).
_NOT_APPLIED = "; the request was not applied; retry"


def _relayed_request_headers(received: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The client's headers but the connection's own, with the mark of a request passed on. One `Host` only: the
    serving process's server reads the first of several, and the HTTP client would refuse to send them all."""
    relayed, host_seen = [], False
    for name, value in received:
        if name == b"host":
            if host_seen:
                continue
            host_seen = True
        elif name in _NOT_RELAYED:
            continue
        relayed.append((name, value))
    relayed.append((FORWARDED, b"1"))
    return relayed


def _target(raw_path: bytes, query: bytes) -> bytes:
    """The path as the client sent it. The HTTP client would resolve `.` and `..` segments (so `/v1/x/../queues`
    would reach a route the engine never matched, and the item `..` would not be reached); sent percent-encoded,
    they reach the engine's router as the very same path."""
    segments = [_DOTS.get(segment, segment) for segment in raw_path.split(b"/")]
    return b"/".join(segments) + (b"?" + query if query else b"")


_DOTS = {b".": b"%2E", b"..": b"%2E%2E"}


async def _whole_body(receive: Receive) -> bytes | None:
    """The request body (the body limit, outside this middleware, has bounded it), or None when the client
    disconnected before sending all of it."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


async def _relay(answer: httpx.Response, method: str, send: Send) -> None:
    """The engine's answer as it comes: its status, its headers but the connection's own, and its body passed on
    chunk by chunk, so a long audit export goes through a standby page by page, never held whole in its memory nor
    cut off by a read timeout on the whole. The engine's length goes with it where it gave one for the bytes as
    relayed (the body is relayed decoded); otherwise the body goes chunked. Should the engine's answer break off
    midway, the exception ends this connection too: a chunked body ended cleanly would read as whole."""
    relayed = [(name, value) for name, value in answer.headers.raw if name.lower() not in _NOT_RELAYED]
    length = answer.headers.get("content-length")
    bodiless = method == "HEAD" or answer.status_code in _NO_BODY or answer.status_code < 200
    if length is not None and (method == "HEAD" or not (bodiless or "content-encoding" in answer.headers)):
        relayed.append((b"content-length", length.encode()))
    await send({"type": "http.response.start", "status": answer.status_code, "headers": relayed})
    if not bodiless:
        async for chunk in answer.aiter_bytes():
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def unavailable(reason: str) -> ASGIApp:
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
                scope[PASSED_ON] = True
                await forwarder(scope, receive, send)
                return
        await self.app(scope, receive, send)
