"""Users, groups, grants and API keys, and what a caller may do (the RBAC rules in one place).

A :class:`Principal` is whoever is calling: a user signed in with a token, or an API key.
Its role says what kind of thing it may do; grants say in which knowledge bases; its groups
say which documents it may read (each document's ACL). Admins may do everything everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from attest.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from attest.core.models import (
    ApiKey,
    Conversation,
    Feedback,
    Grant,
    Group,
    KnowledgeBase,
    Role,
    User,
    utcnow,
)
from attest.core.security import generate_api_key, generate_password, hash_password

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@dataclass(frozen=True)
class Principal:
    """The caller of a request."""

    kind: str  # "user" or "key"
    id: int
    name: str
    role: Role
    groups: frozenset[str]
    key_kb_ids: frozenset[int] | None = None  # an API key's knowledge bases

    @property
    def owner(self) -> str:
        """How conversations and feedback record their owner."""
        return f"{self.kind}:{self.id}"

    @property
    def label(self) -> str:
        """How the audit log names the caller."""
        return f"{self.kind}:{self.name}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def can_edit(self) -> bool:
        return self.role in (Role.ADMIN, Role.EDITOR)

    @property
    def reading_groups(self) -> frozenset[str] | None:
        """The groups checked against document ACLs; None: every document (admins)."""
        return None if self.is_admin else self.groups


def require_editor(principal: Principal) -> Principal:
    """``principal`` if its role may change documents and re-index (editor or admin)."""
    if not principal.can_edit:
        raise PermissionDenied("This needs the editor or admin role.")
    return principal


def require_admin(principal: Principal) -> Principal:
    """``principal`` if it is an admin."""
    if not principal.is_admin:
        raise PermissionDenied("This needs the admin role.")
    return principal


def check_name(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(
            f"Invalid {kind} name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit."
        )
    return name


def group_names(groups: Iterable[str]) -> list[str]:
    """Group names checked, without repeats, sorted: how every group list is stored."""
    return sorted({check_name("group", g) for g in groups})


def principal_for_user(user: User) -> Principal:
    return Principal("user", user.id, user.username, Role(user.role), frozenset(user.groups))


def principal_for_key(key: ApiKey) -> Principal:
    return Principal(
        "key", key.id, key.name, Role(key.role), frozenset(key.groups), key_kb_ids=frozenset(key.kb_ids)
    )


# Knowledge-base access -----------------------------------------------------------------


def granted_kb_ids(session: Session, principal: Principal) -> set[int] | None:
    """The knowledge bases ``principal`` may use; None: all of them (admins)."""
    if principal.kind == "key":
        if principal.is_admin:
            return None
        return set(principal.key_kb_ids or ())
    if principal.is_admin:
        return None
    rows = session.scalars(
        select(Grant.kb_id).where(
            or_(Grant.user_id == principal.id, Grant.group_name.in_(sorted(principal.groups)))
        )
    )
    return set(rows)


def visible_kb(session: Session, principal: Principal, name: str) -> KnowledgeBase:
    """The knowledge base ``name`` if the caller may use it; NotFound otherwise.

    The message is the same whether the knowledge base is missing or not granted, so that
    callers cannot learn the names of knowledge bases they may not use.
    """
    kb = session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == name))
    allowed = granted_kb_ids(session, principal)
    if kb is None or (allowed is not None and kb.id not in allowed):
        raise NotFound(f"Unknown knowledge base {name!r}.")
    return kb


def visible_kbs(session: Session, principal: Principal) -> list[KnowledgeBase]:
    allowed = granted_kb_ids(session, principal)
    query = select(KnowledgeBase).order_by(KnowledgeBase.name)
    if allowed is not None:
        query = query.where(KnowledgeBase.id.in_(sorted(allowed)))
    return list(session.scalars(query))


def may_read(principal: Principal, acl: Iterable[str]) -> bool:
    """Whether the caller may read a document with this ACL (empty: everyone with KB access)."""
    acl = list(acl)
    groups = principal.reading_groups
    return groups is None or not acl or bool(groups.intersection(acl))


# Users --------------------------------------------------------------------------------


def create_user(
    session: Session, *, username: str, role: str, groups: Iterable[str] = (), password: str | None = None
) -> tuple[User, str | None]:
    """Create a user; returns it and the generated password when none was given."""
    check_name("user", username)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"User {username!r} already exists.")
    generated = None
    if not password:
        password = generated = generate_password()
    elif len(password) < 8:
        raise InvalidInput("A password needs at least 8 characters.")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=Role.from_str(role, name="role"),
        groups=group_names(groups),
        active=True,
    )
    session.add(user)
    session.flush()
    return user, generated


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"Unknown user {user_id}.")
    return user


def delete_user(session: Session, user: User) -> None:
    """Delete a user with everything that is theirs alone: conversations and feedback."""
    owner = principal_for_user(user).owner
    session.execute(delete(Feedback).where(Feedback.owner == owner))
    session.execute(delete(Conversation).where(Conversation.owner == owner))  # messages cascade
    session.delete(user)
    session.flush()


def admin_exists(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None


# Groups and grants ---------------------------------------------------------------------


def create_group(session: Session, *, name: str, description: str = "") -> Group:
    check_name("group", name)
    if session.scalar(select(Group.id).where(Group.name == name)) is not None:
        raise Conflict(f"Group {name!r} already exists.")
    group = Group(name=name, description=description)
    session.add(group)
    session.flush()
    return group


def delete_group(session: Session, *, name: str) -> None:
    """Remove a group, its grants and its membership (document ACLs that name it keep the name)."""
    group = session.scalar(select(Group).where(Group.name == name))
    if group is None:
        raise NotFound(f"Unknown group {name!r}.")
    for grant in session.scalars(select(Grant).where(Grant.group_name == name)):
        session.delete(grant)
    for user in session.scalars(select(User)):
        if name in user.groups:
            user.groups = [g for g in user.groups if g != name]
    session.delete(group)


def grant(session: Session, *, kb: KnowledgeBase, user_id: int | None, group: str | None) -> Grant:
    """Grant ``kb`` to one user or to one group (exactly one of them)."""
    if (user_id is None) == (group is None):
        raise InvalidInput("A grant names exactly one of user_id or group.")
    if user_id is not None:
        get_user(session, user_id)
    if group is not None and session.scalar(select(Group.id).where(Group.name == group)) is None:
        raise NotFound(f"Unknown group {group!r}.")
    same_user = Grant.user_id.is_(None) if user_id is None else Grant.user_id == user_id
    same_group = Grant.group_name.is_(None) if group is None else Grant.group_name == group
    existing = session.scalar(select(Grant).where(Grant.kb_id == kb.id, same_user, same_group))
    if existing is not None:
        return existing
    row = Grant(kb_id=kb.id, user_id=user_id, group_name=group)
    session.add(row)
    session.flush()
    return row


# API keys ------------------------------------------------------------------------------


def create_api_key(
    session: Session,
    *,
    name: str,
    role: str,
    kb_names: Iterable[str],
    groups: Iterable[str] = (),
    created_by: str = "",
) -> tuple[ApiKey, str]:
    """Create a key; returns it and the key itself, which is never shown again."""
    check_name("API key", name)
    kb_ids = []
    for kb_name in kb_names:
        kb = session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == kb_name))
        if kb is None:
            raise NotFound(f"Unknown knowledge base {kb_name!r}.")
        kb_ids.append(kb.id)
    secret, prefix, digest = generate_api_key()
    key = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=digest,
        role=Role.from_str(role, name="role"),
        kb_ids=sorted(kb_ids),
        groups=group_names(groups),
        created_by=created_by,
    )
    session.add(key)
    session.flush()
    return key, secret


def revoke_api_key(session: Session, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"Unknown API key {key_id}.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key
