"""Errors a caller can act on. Each maps to one HTTP status in the service and one exit code in the CLI."""

from __future__ import annotations


class QueueoptError(Exception):
    """Base of every error queueopt raises on purpose; `field` names the offending input where there is one."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(QueueoptError):
    status = 422


class NotFound(QueueoptError):
    status = 404


class Forbidden(QueueoptError):
    status = 403


class Conflict(QueueoptError):
    """The request is well-formed but the state does not allow it (a task already decided, say)."""

    status = 409


class StaleLease(Conflict):
    """A lease token that is not the task's current one: expired, released, or superseded by a newer lease."""


class NotEligible(Conflict):
    """The moderator may not review this task (skills, clearance, region or wellbeing budget)."""


class StoreInUse(Conflict):
    """Another process's engine already serves this store (see `queueopt.store.engine_lock`)."""


class StoreUnavailable(QueueoptError):
    status = 503


class Deposed(StoreUnavailable):
    """This engine no longer serves its store: another claimed it (see `Store.claim_serving`), so nothing it writes
    may be acknowledged; the caller should retry, and will reach the engine that serves it now."""
