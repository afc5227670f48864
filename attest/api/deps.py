"""Request dependencies: the database session, who is calling, and what they may do.

Every route declares its access rule with :func:`rule`; the rule is enforced by the
dependency of the same name and published in the OpenAPI document (``x-access``), where the
authorization-matrix test reads it. The rules:

- ``public``: anyone (health checks, sign-in, metrics).
- ``user``: any signed-in user or API key; what it sees is its own or what it may read.
- ``kb:viewer``: a knowledge base granted to the caller (otherwise 404, as if it did not exist).
- ``kb:editor``: as ``kb:viewer``, and the caller's role is editor or admin (otherwise 403).
- ``admin``: the admin role (otherwise 403).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session

from attest.api.errors import ApiError
from attest.api.limits import client_address, limits_of
from attest.api.services import Services
from attest.core.accounts import (
    Principal,
    principal_for_key,
    principal_for_user,
    require_admin,
    require_editor,
)
from attest.core.db import session_scope
from attest.core.models import ApiKey, User, utcnow
from attest.core.security import KEY_PREFIX, InvalidToken, hash_api_key, read_token, same_hash, split_api_key


class Access(StrEnum):
    PUBLIC = "public"
    USER = "user"
    KB_VIEWER = "kb:viewer"
    KB_EDITOR = "kb:editor"
    ADMIN = "admin"


def rule(
    access: Access, public: type[BaseModel] | None = None, *, status: int | None = None
) -> dict[str, Any]:
    """Keyword arguments for a route decorator: its published access rule, its status code,
    the model its answer is published as (``public``, for OpenAPI only), and no response model.

    Routes build their ``...Public`` model while the session is open and return it dumped to a
    plain dict. With a response model (FastAPI infers one from ``-> dict``), the dict is
    validated in a worker thread after the route returns but before the request's
    transaction commits (in :func:`db`'s exit), so a route that wrote would hold SQLite's
    write lock while waiting for a free worker thread; under load every worker thread can be
    a question waiting for that lock, and both sides wait out the 30 s busy timeout
    (bench/load.py's re-index run found it). Without one, nothing runs between the route
    and the commit.
    """
    options: dict[str, Any] = {"openapi_extra": {"x-access": access.value}, "response_model": None}
    if status is not None:
        options["status_code"] = status
    if public is not None:
        options["responses"] = {status or 200: {"model": public}}
    return options


ANSWER_RETRY_S = 1  # an answer takes about a second
MAX_ID = 2**31 - 1  # ids beyond a 32-bit integer cannot exist; refusing them keeps drivers from overflowing
Id = Annotated[int, Path(ge=1, le=MAX_ID)]

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def services(request: Request) -> Services:
    return request.app.state.services


def db(request: Request) -> Iterator[Session]:
    """A session whose transaction commits when the route returns without an error."""
    with session_scope(services(request).engine) as session:
        yield session


class RateLimiter:
    """A token bucket per caller: ``per_minute`` requests, refilled continuously (per process)."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """Like :meth:`take`, without taking anything: the seconds until a request may go ahead."""
        return self._use(key, spend=False)

    def take(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        return self._use(key, spend=True)

    def _use(self, key: str, *, spend: bool) -> float:
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                if spend:
                    self._buckets[key] = (tokens - 1, now)
                return 0.0
            if spend:
                self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


def limit(request: Request, key: str) -> None:
    wait = request.app.state.limiter.take(key)
    if wait > 0:
        raise ApiError(
            429,
            f"Too many requests; the limit is {services(request).settings.rate_limit_per_minute} per minute. "
            f"Retry in {math.ceil(wait)} s.",
            headers={"Retry-After": str(math.ceil(wait))},
        )


def principal(
    request: Request,
    session: Annotated[Session, Depends(db, scope="function")],
    token: Annotated[str | None, Depends(oauth2)],
) -> Principal:
    """The caller, from a bearer token (JWT or API key) or an ``X-API-Key`` header; 401 otherwise.

    Requests without valid credentials count against their client address; once it has sent
    too many, its next ones are refused (429) before their credentials are looked up.
    """
    anonymous = f"anonymous:{client_address(request)}"
    wait = request.app.state.limiter.wait(anonymous)
    if wait > 0:
        raise ApiError(
            429,
            f"Too many requests without valid credentials from this address; retry in {math.ceil(wait)} s.",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    key = request.headers.get("x-api-key") or (token if token and token.startswith(KEY_PREFIX) else None)
    try:
        if key:
            caller = _from_key(session, key)
        elif token:
            caller = _from_token(request, session, token)
        else:
            raise ApiError(
                401, "Sign in first: send a bearer token or an API key.", {"WWW-Authenticate": "Bearer"}
            )
    except ApiError:
        request.app.state.limiter.take(anonymous)
        raise
    request.state.principal = caller
    limit(request, caller.owner)
    return caller


def _from_token(request: Request, session: Session, token: str) -> Principal:
    try:
        claims = read_token(services(request).settings, token)
    except InvalidToken as exc:
        raise ApiError(401, str(exc), {"WWW-Authenticate": "Bearer"}) from exc
    user = session.get(User, int(claims["sub"])) if str(claims["sub"]).isdigit() else None
    # Ids are never reused, and the name and token generation must match as well: a token
    # outlives neither its account nor a password change or deactivation.
    if (
        user is None
        or not user.active
        or user.username != claims.get("name")
        or user.token_generation != claims.get("gen")
    ):
        raise ApiError(
            401,
            "This token is no longer valid for this account; sign in again.",
            {"WWW-Authenticate": "Bearer"},
        )
    return principal_for_user(user)


def _from_key(session: Session, key: str) -> Principal:
    prefix = split_api_key(key)
    row = session.query(ApiKey).filter(ApiKey.prefix == prefix).one_or_none() if prefix else None
    if row is None or not same_hash(row.key_hash, hash_api_key(key)):
        raise ApiError(401, "The API key is not valid.", {"WWW-Authenticate": "Bearer"})
    if row.revoked_at is not None:
        raise ApiError(401, "The API key has been revoked.", {"WWW-Authenticate": "Bearer"})
    row.last_used_at = utcnow()
    return principal_for_key(row)


def answer_slot(request: Request, caller: Annotated[Principal, Depends(principal)]) -> Iterator[None]:
    """Holds one of the caller's concurrent answers (``ATTEST_MAX_CONCURRENT_ANSWERS``) until the
    response has ended, a stream included (FastAPI exits the dependency after sending it); 429
    when all are taken, because a long answer costs every other caller of the process too."""
    answers = limits_of(request).answers
    if not answers.acquire(caller.owner):
        raise ApiError(
            429,
            f"Too many answers in progress for this caller; the limit is {answers.per_owner} at a time. "
            f"Retry in {ANSWER_RETRY_S} s.",
            headers={"Retry-After": str(ANSWER_RETRY_S)},
        )
    try:
        yield
    finally:
        answers.release(caller.owner)


def editor(caller: Annotated[Principal, Depends(principal)]) -> Principal:
    return require_editor(caller)  # PermissionDenied (403, audited) otherwise


def admin(caller: Annotated[Principal, Depends(principal)]) -> Principal:
    return require_admin(caller)  # PermissionDenied (403, audited) otherwise


# scope="function": the transaction commits when the route returns, before the response is
# sent, so a client that heard "200" sees the change in its next request (a deactivated
# user's token failed only after a delay otherwise).
SessionDep = Annotated[Session, Depends(db, scope="function")]
ServicesDep = Annotated[Services, Depends(services)]
UserDep = Annotated[Principal, Depends(principal)]
EditorDep = Annotated[Principal, Depends(editor)]
AdminDep = Annotated[Principal, Depends(admin)]
AnswerSlot = Depends(answer_slot)
