"""Sign-in and who am I."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from attest.api.deps import Access, ServicesDep, SessionDep, UserDep, limit, rule
from attest.api.errors import ApiError
from attest.api.limits import client_address, limits_of
from attest.core import audit
from attest.core.accounts import visible_kbs
from attest.core.models import User
from attest.core.security import check_password, issue_token

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", **rule(Access.PUBLIC))
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Exchange a username and password for a short-lived bearer token (OAuth2 password flow)."""
    client = client_address(request)
    limit(request, f"signin:{client}")
    guard = limits_of(request).signin
    locked_for = guard.locked(form.username)
    if locked_for > 0:  # the same for every username, whether or not it has an account
        wait = math.ceil(locked_for)
        raise ApiError(
            429,
            f"Too many failed sign-ins for this username; try again in {wait} s.",
            {"Retry-After": str(wait)},
        )
    user = session.scalar(select(User).where(User.username == form.username))
    # The password is checked even for an unknown or disabled user, so that timing tells nothing.
    matches = check_password(user.password_hash if user is not None else None, form.password)
    if user is None or not user.active or not matches:
        lockout = guard.failed(form.username)
        details: dict[str, Any] = {"username": form.username[:64]}
        if lockout:
            details["locked_for_s"] = lockout
        audit.write(
            services.engine, actor=f"anonymous@{client}", action="auth.failed", status=401, details=details
        )
        raise ApiError(401, "Wrong username or password.", {"WWW-Authenticate": "Bearer"})
    guard.succeeded(form.username)
    access_token, lifetime = issue_token(
        services.settings, user_id=user.id, username=user.username, generation=user.token_generation
    )
    audit.append(session, actor=f"user:{user.username}", action="auth.token", status=200)
    return {"access_token": access_token, "token_type": "bearer", "expires_in": lifetime}


@router.get("/me", **rule(Access.USER))
def me(caller: UserDep, session: SessionDep) -> dict[str, Any]:
    """The caller: name, role, groups and the knowledge bases it may use."""
    return {
        "kind": caller.kind,
        "id": caller.id,
        "name": caller.name,
        "role": caller.role.value,
        "groups": sorted(caller.groups),
        "knowledge_bases": [kb.name for kb in visible_kbs(session, caller)],
    }
