"""Sign-in and who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from attest.api.deps import Access, ServicesDep, SessionDep, UserDep, limit, rule
from attest.api.errors import ApiError
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
    client = request.client.host if request.client else "unknown"
    limit(request, f"signin:{client}")
    user = session.scalar(select(User).where(User.username == form.username))
    if user is None or not user.active or not check_password(user.password_hash, form.password):
        audit.write(
            services.engine,
            actor=f"anonymous@{client}",
            action="auth.failed",
            status=401,
            details={"username": form.username[:64]},
        )
        raise ApiError(401, "Wrong username or password.", {"WWW-Authenticate": "Bearer"})
    access_token, lifetime = issue_token(services.settings, user_id=user.id, username=user.username)
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
