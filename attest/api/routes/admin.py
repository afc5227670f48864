"""Users, groups and API keys (admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from attest.api.deps import Access, AdminDep, Id, SessionDep, rule
from attest.api.errors import ApiError
from attest.api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyPublic,
    GroupCreate,
    GroupList,
    GroupPublic,
    UserCreate,
    UserCreated,
    UserList,
    UserPublic,
    UserUpdate,
)
from attest.core import audit
from attest.core.accounts import (
    create_api_key,
    create_group,
    create_user,
    delete_group,
    delete_user,
    get_user,
    group_names,
    revoke_api_key,
)
from attest.core.models import ApiKey, Group, KnowledgeBase, Role, User
from attest.core.security import hash_password

router = APIRouter(tags=["admin"])


def _user(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        username=user.username,
        role=Role(user.role).value,
        groups=user.groups,
        active=user.active,
        created_at=user.created_at,
    )


@router.get("/users", **rule(Access.ADMIN, UserList))
def list_users(caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    return UserList(
        items=[_user(u) for u in session.scalars(select(User).order_by(User.username))]
    ).model_dump()


@router.post("/users", **rule(Access.ADMIN, UserCreated, status=201))
def add_user(body: UserCreate, caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Create a user; without a password one is generated and returned once."""
    user, generated = create_user(
        session, username=body.username, role=body.role, groups=body.groups, password=body.password
    )
    audit.append(
        session,
        actor=caller.label,
        action="user.create",
        status=201,
        details={"user_id": user.id, "username": user.username, "role": body.role, "groups": user.groups},
    )
    created = UserCreated(**_user(user).model_dump(), password=generated)
    return created.model_dump(exclude=None if generated else {"password"})


@router.get("/users/{user_id}", **rule(Access.ADMIN, UserPublic))
def read_user(user_id: Id, caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    return _user(get_user(session, user_id)).model_dump()


@router.patch("/users/{user_id}", **rule(Access.ADMIN, UserPublic))
def update_user(user_id: Id, body: UserUpdate, caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Change a user's role, groups, password, or disable the account."""
    user = get_user(session, user_id)
    if (
        user.id == caller.id
        and caller.kind == "user"
        and (body.active is False or body.role not in (None, "admin"))
    ):
        raise ApiError(409, "Admins cannot demote or disable themselves; ask another admin.")
    if body.role is not None:
        user.role = Role(body.role)
    if body.groups is not None:
        user.groups = group_names(body.groups)
    if body.active is not None:
        if user.active and not body.active:
            user.token_generation += 1  # its tokens stop working now, and stay invalid if re-enabled
        user.active = body.active
    if body.password is not None:
        user.password_hash = hash_password(body.password)
        user.token_generation += 1
    changes = body.model_dump(exclude_none=True)
    if "password" in changes:
        changes["password"] = "(changed)"
    audit.append(
        session,
        actor=caller.label,
        action="user.update",
        status=200,
        details={"user_id": user_id, "username": user.username, **changes},
    )
    return _user(user).model_dump()


@router.delete("/users/{user_id}", **rule(Access.ADMIN, status=204))
def remove_user(user_id: Id, caller: AdminDep, session: SessionDep) -> None:
    user = get_user(session, user_id)
    if user.id == caller.id and caller.kind == "user":
        raise ApiError(409, "Admins cannot delete themselves; ask another admin.")
    delete_user(session, user)
    audit.append(
        session,
        actor=caller.label,
        action="user.delete",
        status=204,
        details={"user_id": user_id, "username": user.username},
    )


def _group(group: Group) -> GroupPublic:
    return GroupPublic(name=group.name, description=group.description, created_at=group.created_at)


@router.get("/groups", **rule(Access.ADMIN, GroupList))
def list_groups(caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    groups = session.scalars(select(Group).order_by(Group.name))
    return GroupList(items=[_group(g) for g in groups]).model_dump()


@router.post("/groups", **rule(Access.ADMIN, GroupPublic, status=201))
def add_group(body: GroupCreate, caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    group = create_group(session, name=body.name, description=body.description)
    audit.append(session, actor=caller.label, action="group.create", status=201, details=body.model_dump())
    return _group(group).model_dump()


@router.delete("/groups/{name}", **rule(Access.ADMIN, status=204))
def remove_group(name: str, caller: AdminDep, session: SessionDep) -> None:
    delete_group(session, name=name)
    audit.append(session, actor=caller.label, action="group.delete", status=204, details={"name": name})


def _key(key: ApiKey, kb_names: dict[int, str]) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=key.id,
        name=key.name,
        prefix=f"atk_{key.prefix}",
        role=Role(key.role).value,
        kbs=[kb_names.get(i, f"#{i}") for i in key.kb_ids],
        groups=key.groups,
        created_by=key.created_by,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


def _kb_names(session: Any) -> dict[int, str]:
    return dict(session.execute(select(KnowledgeBase.id, KnowledgeBase.name)).all())


@router.get("/apikeys", **rule(Access.ADMIN, ApiKeyList))
def list_keys(caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    names = _kb_names(session)
    keys = session.scalars(select(ApiKey).order_by(ApiKey.id))
    return ApiKeyList(items=[_key(k, names) for k in keys]).model_dump()


@router.post("/apikeys", **rule(Access.ADMIN, ApiKeyCreated, status=201))
def add_key(body: ApiKeyCreate, caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Create an API key; the key itself is in this response only."""
    key, secret = create_api_key(
        session,
        name=body.name,
        role=body.role,
        kb_names=body.kbs,
        groups=body.groups,
        created_by=caller.label,
    )
    audit.append(
        session,
        actor=caller.label,
        action="apikey.create",
        status=201,
        details={"key_id": key.id, "name": key.name, "role": body.role, "kbs": body.kbs},
    )
    return ApiKeyCreated(**_key(key, _kb_names(session)).model_dump(), key=secret).model_dump()


@router.delete("/apikeys/{key_id}", **rule(Access.ADMIN, ApiKeyPublic))
def revoke_key(key_id: Id, caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Revoke a key; it stops working at once and stays listed, with its revocation time."""
    key = revoke_api_key(session, key_id)
    audit.append(
        session,
        actor=caller.label,
        action="apikey.revoke",
        status=200,
        details={"key_id": key_id, "name": key.name},
    )
    return _key(key, _kb_names(session)).model_dump()
