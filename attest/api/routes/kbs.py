"""Knowledge bases and their grants."""

from __future__ import annotations

import shutil
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from attest.api.deps import Access, AdminDep, Id, ServicesDep, SessionDep, UserDep, rule
from attest.api.schemas import GrantCreate, GrantList, GrantPublic, KbCreate, KbList, KbPublic, KbUpdate
from attest.core import audit
from attest.core.accounts import Principal, grant, may_read, visible_kb, visible_kbs
from attest.core.errors import Conflict, NotFound
from attest.core.models import Chunk, Document, Grant, IndexVersion, KnowledgeBase, User
from attest.core.repository import create_kb
from attest.ingest.jobs import running_job
from attest.retrieval.backend import LocalBackend

router = APIRouter(prefix="/kbs", tags=["knowledge bases"])


def describe(session: Session, kb: KnowledgeBase, caller: Principal) -> KbPublic:
    version = session.get(IndexVersion, kb.active_index_id) if kb.active_index_id else None
    documents, chunks = readable_sizes(session, kb, caller)
    if documents is None:
        documents = session.scalar(select(func.count(Document.id)).where(Document.kb_id == kb.id)) or 0
        chunks = version.chunk_count if version else 0
    return KbPublic(
        name=kb.name,
        description=kb.description,
        verify_policy=kb.verify_policy,
        documents=documents,
        index_version=version.version if version else None,
        chunks=chunks,
        created_at=kb.created_at,
    )


def readable_sizes(session: Session, kb: KnowledgeBase, caller: Principal) -> tuple[int | None, int]:
    """The documents and chunks of ``kb`` the caller may read; (None, 0) for admins, who may
    read them all. Counting everything would tell a viewer that hidden documents exist."""
    if caller.reading_groups is None:
        return None, 0
    acls = session.execute(select(Document.id, Document.acl).where(Document.kb_id == kb.id)).all()
    readable = {doc_id for doc_id, acl in acls if may_read(caller, acl or [])}
    per_document = session.execute(
        select(Chunk.document_id, func.count(Chunk.id))
        .where(Chunk.kb_id == kb.id)
        .group_by(Chunk.document_id)
    ).all()
    return len(readable), sum(n for doc_id, n in per_document if doc_id in readable)


@router.get("", **rule(Access.USER, KbList))
def list_kbs(caller: UserDep, session: SessionDep) -> dict[str, Any]:
    """The knowledge bases the caller may use."""
    return KbList(items=[describe(session, kb, caller) for kb in visible_kbs(session, caller)]).model_dump()


@router.post("", **rule(Access.ADMIN, KbPublic, status=201))
def create(body: KbCreate, caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    kb = create_kb(session, name=body.name, description=body.description, verify_policy=body.verify_policy)
    audit.append(
        session, actor=caller.label, action="kb.create", kb=kb.name, status=201, details=body.model_dump()
    )
    return describe(session, kb, caller).model_dump()


@router.get("/{kb}", **rule(Access.KB_VIEWER, KbPublic))
def get(kb: str, caller: UserDep, session: SessionDep) -> dict[str, Any]:
    return describe(session, visible_kb(session, caller, kb), caller).model_dump()


@router.patch("/{kb}", **rule(Access.ADMIN, KbPublic))
def update(kb: str, body: KbUpdate, caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Rename a knowledge base, or change its description or verification policy."""
    row = visible_kb(session, caller, kb)
    if body.name and body.name != row.name:
        if session.scalar(select(KnowledgeBase.id).where(KnowledgeBase.name == body.name)) is not None:
            raise Conflict(f"Knowledge base {body.name!r} already exists.")
        row.name = body.name
    if body.description is not None:
        row.description = body.description
    if body.verify_policy is not None:
        row.verify_policy = None if body.verify_policy == "default" else body.verify_policy
    audit.append(
        session,
        actor=caller.label,
        action="kb.update",
        kb=kb,
        status=200,
        details=body.model_dump(exclude_none=True),
    )
    session.flush()
    return describe(session, row, caller).model_dump()


@router.delete("/{kb}", **rule(Access.ADMIN, status=204))
def delete(kb: str, caller: AdminDep, session: SessionDep, services: ServicesDep) -> None:
    """Delete a knowledge base with its documents, indexes, uploads, grants and conversations."""
    row = visible_kb(session, caller, kb)
    if running_job(session, row.id) is not None:
        raise Conflict(f"An ingest job is running on {kb!r}; cancel it or wait, then delete.")
    row.active_index_id = None
    session.flush()
    session.delete(row)
    audit.append(session, actor=caller.label, action="kb.delete", kb=kb, status=204)
    # Before the commit: a Milvus that cannot be reached refuses the deletion (503), and the
    # knowledge base stays whole rather than leaving collections behind.
    services.answerer.retrievers.backend.drop_kb(row.id)
    session.commit()
    services.answerer.retrievers.forget(row.id)
    LocalBackend(services.settings).drop_kb(row.id)  # files of versions built before a switch
    shutil.rmtree(services.settings.upload_dir / str(row.id), ignore_errors=True)


@router.get("/{kb}/grants", **rule(Access.ADMIN, GrantList))
def list_grants(kb: str, caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    row = visible_kb(session, caller, kb)
    rows = session.execute(
        select(Grant, User.username).outerjoin(User, User.id == Grant.user_id).where(Grant.kb_id == row.id)
    ).all()
    return GrantList(items=[_grant(g, username) for g, username in rows]).model_dump()


@router.post("/{kb}/grants", **rule(Access.ADMIN, GrantPublic, status=201))
def add_grant(kb: str, body: GrantCreate, caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Grant the knowledge base to one user (``user_id``) or to a group (``group``)."""
    row = visible_kb(session, caller, kb)
    new = grant(session, kb=row, user_id=body.user_id, group=body.group)
    audit.append(
        session,
        actor=caller.label,
        action="grant.create",
        kb=kb,
        status=201,
        details=body.model_dump(exclude_none=True),
    )
    user = session.get(User, new.user_id) if new.user_id else None
    return _grant(new, user.username if user else None).model_dump()


@router.delete("/{kb}/grants/{grant_id}", **rule(Access.ADMIN, status=204))
def remove_grant(kb: str, grant_id: Id, caller: AdminDep, session: SessionDep) -> None:
    row = visible_kb(session, caller, kb)
    existing = session.get(Grant, grant_id)
    if existing is None or existing.kb_id != row.id:
        raise NotFound(f"Unknown grant {grant_id} on {kb!r}.")
    session.delete(existing)
    audit.append(
        session,
        actor=caller.label,
        action="grant.delete",
        kb=kb,
        status=204,
        details={"grant_id": grant_id, "user_id": existing.user_id, "group": existing.group_name},
    )


def _grant(row: Grant, username: str | None) -> GrantPublic:
    return GrantPublic(
        id=row.id, user_id=row.user_id, username=username, group=row.group_name, created_at=row.created_at
    )
