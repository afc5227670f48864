"""Errors as RFC 9457 problem details: a status, a title and a message that names the problem.

No handler ever returns a stack trace. The statuses (:data:`STATUSES`):

- the caller's errors are 4xx with their message: :class:`InvalidInput` 422, an invalid
  request body (pydantic) 422, :class:`PermissionDenied` 403, :class:`NotFound` 404,
  :class:`Conflict` 409, a file that cannot be read 422 (415 when of no type Attest reads);
- a part of the service that is not working is 503 with its message, logged with its
  traceback: a setting (:class:`ConfigurationError`), the index (:class:`RetrievalError`),
  the language model (:class:`GenerationError`), the checker (:class:`VerificationError`),
  the database; 507 when the disk is full;
- another :class:`AttestError` is a 500 with its message, logged with its traceback;
- anything else is a bug (a stray ``ValueError`` included): a plain 500 whose detail says
  only that it was logged, and it is logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from attest.api.limits import limits_of
from attest.core import audit
from attest.core.errors import (
    AttestError,
    ConfigurationError,
    Conflict,
    GenerationError,
    InvalidInput,
    LoadError,
    NotFound,
    PermissionDenied,
    RetrievalError,
    StorageFull,
    UnsupportedFileType,
    VerificationError,
)

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
DATABASE_DOWN = "The database is unavailable at the moment; nothing was changed. Try again shortly."
DATABASE_RETRY_S = 5
UNEXPECTED = "An unexpected error occurred; it has been logged."

# Attest's errors and their statuses, the more specific first; an AttestError not listed is a 500.
STATUSES: tuple[tuple[type[AttestError], int], ...] = (
    (InvalidInput, 422),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (UnsupportedFileType, 415),
    (LoadError, 422),
    (StorageFull, 507),
    (ConfigurationError, 503),
    (RetrievalError, 503),
    (GenerationError, 503),
    (VerificationError, 503),
)


class ApiError(Exception):
    """An error with an HTTP status, raised by the API layer itself."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


def problem(
    status: int, detail: str, *, instance: str = "", headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM)


def status_of(exc: AttestError) -> int:
    """The HTTP status of one of Attest's errors (:data:`STATUSES`; 500 when it is not listed)."""
    return next((status for kind, status in STATUSES if isinstance(exc, kind)), 500)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body",)) or "body"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem response."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        _audit_denied(request, exc.status, exc.detail)
        return problem(exc.status, exc.detail, instance=request.url.path, headers=exc.headers)

    @app.exception_handler(AttestError)
    async def _attest_error(request: Request, exc: AttestError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            log.error("%s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
        if isinstance(exc, PermissionDenied):
            _audit_denied(request, status, str(exc))
        else:
            _audit_refused(request, exc)
        return problem(status, str(exc), instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem(422, f"Invalid request: {detail}", instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No such endpoint: {request.method} {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem(exc.status_code, detail, instance=request.url.path, headers=exc.headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_down(request: Request, exc: OperationalError | PoolTimeout) -> JSONResponse:
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return problem(
            503, DATABASE_DOWN, instance=request.url.path, headers={"Retry-After": str(DATABASE_RETRY_S)}
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem(500, UNEXPECTED, instance=request.url.path)


def _audit_denied(request: Request, status: int, detail: str) -> None:
    """Every request refused for authentication, permission or rate reasons leaves a record.

    Repeats are aggregated, so that a flood cannot fill the log: per actor, status and route
    at most one record per ``ATTEST_AUDIT_DENIED_INTERVAL_S``, the next one carrying in
    ``suppressed`` how many were left out since.
    """
    if status not in (401, 403, 429):
        return
    services = getattr(request.app.state, "services", None)
    if services is None:
        return
    principal = getattr(request.state, "principal", None)
    actor = principal.label if principal is not None else f"anonymous@{_client(request)}"
    route = getattr(request.scope.get("route"), "path", request.url.path)
    suppressed = limits_of(request).denials.admit((actor, status, request.method, route))
    if suppressed is None:
        return
    details: dict[str, Any] = {"method": request.method, "path": request.url.path, "reason": detail}
    if suppressed:
        details["suppressed"] = suppressed
    try:
        audit.write(services.engine, actor=actor, action="denied", status=status, details=details)
    except Exception:  # the refusal itself must still reach the caller
        log.exception("could not write the audit record of a denied request")


def _audit_refused(request: Request, exc: AttestError) -> None:
    """A 404 raised by the access rules or the repositories leaves a ``denied`` record.

    A thing the caller may not see answers exactly like a missing one (404, same detail), and
    at this point the two are not told apart, on purpose: a record is written for both, so
    the denied path and the missing path cost the caller the same time. Unknown endpoints
    are not AttestErrors and are not recorded. (A :class:`PermissionDenied` is recorded by
    :func:`_audit_denied`, aggregated like every other 403.)
    """
    if not isinstance(exc, NotFound):
        return
    services = getattr(request.app.state, "services", None)
    principal = getattr(request.state, "principal", None)
    if services is None or principal is None:
        return
    try:
        audit.write(
            services.engine,
            actor=principal.label,
            action="denied",
            status=status_of(exc),
            details={"method": request.method, "path": request.url.path, "reason": str(exc)},
        )
    except Exception:  # the refusal itself must still reach the caller
        log.exception("could not write the audit record of a refused request")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
