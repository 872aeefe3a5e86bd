"""What every route needs: the running engine and who is calling, as FastAPI dependencies.

Authorisation lives here, once, as one dependency per rule, so each route states its rule in its signature:
`IngestOrAdmin`, `Admin`, `ModeratorOnly`, `OwnOrAdmin` (a moderator acting on their own id, or an admin) and `Own`
(only that moderator). Whether a moderator holds a task is the engine's call, made under its lock.

Every dependency is `async def` although none awaits: FastAPI runs a plain `def` dependency in the thread pool, so
the four checks of a moderator's request cost four thread handoffs (each a wake-up that waits for a CPU and the GIL,
tens of milliseconds at the tail on a busy machine) for work of a few microseconds (hashing one token).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from queueopt.domain import ID_PATTERN, MAX_ID_LENGTH, QA_SUFFIX, TASK_ID_PATTERN
from queueopt.engine import Engine
from queueopt.errors import Forbidden, QueueoptError
from queueopt.service.assigner import Assigner
from queueopt.service.auth import Authenticator, Principal, Role
from queueopt.service.engine_thread import EngineThread


class Unauthorized(QueueoptError):
    status = 401


@dataclass(frozen=True, slots=True)
class Runtime:
    """The objects one app instance shares between requests, built by the lifespan."""

    engine: Engine
    assigner: Assigner
    thread: EngineThread


async def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
_bearer = HTTPBearer(auto_error=False, description="A token from the QUEUEOPT_TOKENS_FILE.")
# Ids in a path are held to the patterns their bodies are: an id no item could have is refused (422, the field named)
# before any lookup, and a NUL never reaches PostgreSQL, which refuses it in text (a 500 before this).
ModeratorIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]
ItemIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]
TaskIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH + len(QA_SUFFIX), pattern=TASK_ID_PATTERN)]


async def _principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """Checked by whichever process answers, a standby too (its own `/metrics`): the tokens belong to the app."""
    if credentials is None:
        raise Unauthorized("send Authorization: Bearer <token>", field="authorization")
    auth: Authenticator = request.app.state.auth
    principal = auth.authenticate(credentials.credentials)
    if principal is None:
        raise Unauthorized("unknown token", field="authorization")
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]


def _roles(*allowed: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"role {principal.role} may not do this", field="authorization")
        return principal

    return check


async def _own_or_admin(principal: PrincipalDep, moderator_id: ModeratorIdPath) -> Principal:
    if principal.role is Role.ADMIN:
        return principal
    return _check_own(principal, moderator_id)


async def _own(principal: PrincipalDep, moderator_id: ModeratorIdPath) -> Principal:
    return _check_own(principal, moderator_id)


def _check_own(principal: Principal, moderator_id: str) -> Principal:
    if principal.role is not Role.MODERATOR:
        raise Forbidden("only the moderator themself may do this", field="authorization")
    if principal.moderator_id != moderator_id:
        raise Forbidden("a moderator may act only on their own id", field="moderator_id")
    return principal


IngestOrAdmin = Annotated[Principal, Depends(_roles(Role.INGEST, Role.ADMIN))]
Admin = Annotated[Principal, Depends(_roles(Role.ADMIN))]
MetricsReader = Annotated[Principal, Depends(_roles(Role.METRICS, Role.ADMIN))]
ModeratorOnly = Annotated[Principal, Depends(_roles(Role.MODERATOR))]
OwnOrAdmin = Annotated[Principal, Depends(_own_or_admin)]
Own = Annotated[Principal, Depends(_own)]
