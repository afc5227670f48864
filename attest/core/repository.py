"""Repository functions for knowledge bases (keyword-only; the caller owns the transaction)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from attest.core.errors import Conflict, InvalidInput, NotFound
from attest.core.models import Document, IndexVersion, KnowledgeBase, Policy

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def validate_kb_name(name: str) -> str:
    """Return ``name`` if it is a valid knowledge-base name, else raise a clear error."""
    if not _NAME.match(name):
        raise InvalidInput(
            f"Invalid knowledge base name {name!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def get_kb(session: Session, *, name: str) -> KnowledgeBase:
    """The knowledge base called ``name``."""
    kb = session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == name))
    if kb is None:
        known = (
            ", ".join(session.scalars(select(KnowledgeBase.name).order_by(KnowledgeBase.name))) or "none yet"
        )
        raise NotFound(f"Unknown knowledge base {name!r} (known: {known}).")
    return kb


def create_kb(
    session: Session,
    *,
    name: str,
    description: str = "",
    entity_terms: Mapping[str, Sequence[str]] | None = None,
    verify_policy: str | None = None,
) -> KnowledgeBase:
    """Create a knowledge base; its name must be new."""
    validate_kb_name(name)
    policy = Policy.from_str(verify_policy, name="verify_policy").value if verify_policy else None
    if session.scalar(select(KnowledgeBase.id).where(KnowledgeBase.name == name)) is not None:
        raise Conflict(f"Knowledge base {name!r} already exists.")
    kb = KnowledgeBase(
        name=name,
        description=description,
        entity_terms={k.upper(): list(v) for k, v in (entity_terms or {}).items()},
        content_revision=0,
        verify_policy=policy,
    )
    session.add(kb)
    session.flush()
    return kb


def set_verify_policy(session: Session, *, name: str, policy: str | None) -> KnowledgeBase:
    """Set a knowledge base's verification policy (``None``: the global setting)."""
    kb = get_kb(session, name=name)
    kb.verify_policy = Policy.from_str(policy, name="verify_policy").value if policy else None
    return kb


def get_or_create_kb(session: Session, *, name: str) -> tuple[KnowledgeBase, bool]:
    """The knowledge base called ``name``, created when missing; and whether it was created."""
    try:
        return get_kb(session, name=name), False
    except NotFound:
        return create_kb(session, name=name), True


def list_kbs(session: Session) -> list[KnowledgeBase]:
    return list(session.scalars(select(KnowledgeBase).order_by(KnowledgeBase.name)))


@dataclass(frozen=True)
class KbSummary:
    """A knowledge base as ``attest kb list`` shows it: every document, whoever may read it."""

    name: str
    documents: int
    index_version: int | None


def kb_summaries(session: Session) -> list[KbSummary]:
    """Every knowledge base by name, with its document count and active index version
    (``None`` before its first index is activated)."""
    rows = session.execute(
        select(KnowledgeBase.name, func.count(Document.id), IndexVersion.version)
        .outerjoin(Document, Document.kb_id == KnowledgeBase.id)
        .outerjoin(IndexVersion, IndexVersion.id == KnowledgeBase.active_index_id)
        .group_by(KnowledgeBase.id, IndexVersion.version)
        .order_by(KnowledgeBase.name)
    ).all()
    return [KbSummary(name=name, documents=count, index_version=version) for name, count, version in rows]
