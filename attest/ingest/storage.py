"""What an ingest job writes: documents with their chunks, failures, access, deletions, and
the index version built from them.

Each document is written in its own transaction. Every change to a knowledge base's
documents bumps its content revision, which is how :func:`refresh_index` knows the active
index version is out of date. Access control: a new document (indexed or failed) gets the
job's ACL and tags, else those of the source it lies under; a stored one keeps its own unless
the job gives new ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from attest.core.models import Chunk, Document, DocumentStatus, IndexVersion, KnowledgeBase, Source
from attest.core.settings import Settings
from attest.ingest.entities import Entity
from attest.ingest.loaders import page_at
from attest.ingest.preparation import Prepared, chunk_entities
from attest.ingest.sources import enclosing
from attest.retrieval.backend import IndexBackend
from attest.retrieval.index_store import build_index_version
from attest.text.embedder import SentenceTransformerEmbedder


@dataclass(frozen=True)
class Access:
    """Who may read what a job stores: the ACL and tags given to the job, if any, and the
    sources' own for documents the job creates."""

    acl: list[str] | None
    tags: list[str] | None
    sources: list[Source]

    def for_new(self, path: Path) -> tuple[list[str], list[str]]:
        """A new document's ACL and tags: the job's, else those of the source it lies under."""
        source = enclosing(self.sources, path)
        acl = self.acl if self.acl is not None else list(source.acl) if source else []
        tags = self.tags if self.tags is not None else list(source.tags) if source else []
        return acl, tags


def bump_revision(session: Session, kb: KnowledgeBase) -> None:
    """Note that the knowledge base's documents changed (its index is now out of date)."""
    session.execute(
        update(KnowledgeBase)
        .where(KnowledgeBase.id == kb.id)
        .values(content_revision=KnowledgeBase.content_revision + 1)
    )


def store_document(
    session: Session,
    *,
    kb: KnowledgeBase,
    doc: Document | None,
    item: Prepared,
    vectors: np.ndarray,
    access: Access,
    signature: str,
) -> Document:
    """Replace one document's chunks in a single transaction (``doc``: the stored one, if any)."""
    loaded = item.loaded
    # Built before the first write, which takes SQLite's write lock until the commit.
    rows = [
        {
            "kb_id": kb.id,
            "position": w.position,
            "text": loaded.text[w.char_start : w.char_end],
            "token_start": w.token_start,
            "token_end": w.token_end,
            "char_start": w.char_start,
            "char_end": w.char_end,
            "page": page_at(loaded.pages, w.char_start),
            "entities": ents,
            "embedding": vector.tobytes(),
        }
        for w, ents, vector in zip(item.windows, item.chunk_entities, vectors, strict=True)
    ]
    if doc is None:
        acl, tags = access.for_new(item.path)
        doc = Document(kb_id=kb.id, source_uri=str(item.path), acl=acl, tags=tags)
        session.add(doc)
    else:
        doc = session.merge(doc)
        session.execute(delete(Chunk).where(Chunk.document_id == doc.id))
        if access.acl is not None:
            doc.acl = list(access.acl)
        if access.tags is not None:
            doc.tags = list(access.tags)
    doc.title = loaded.title[:512]
    doc.media_type = loaded.media_type
    doc.content_hash = item.content_hash
    doc.pipeline_signature = signature
    doc.size_bytes = item.size
    doc.status = DocumentStatus.INDEXED
    doc.error = None
    doc.text = loaded.text
    doc.metadata_ = {**loaded.metadata, "file_name": item.path.name}
    session.flush()
    for row in rows:
        row["document_id"] = doc.id
    session.execute(insert(Chunk), rows)
    bump_revision(session, kb)
    session.commit()
    return doc


def record_failure(
    session: Session,
    *,
    kb: KnowledgeBase,
    doc: Document | None,
    path: Path,
    size: int,
    error: str,
    access: Access,
    signature: str,
    digest: str = "",
) -> None:
    """Note the error on the document; an indexed older version keeps its chunks.

    The hash of the failing content is kept so that an unchanged failing file is not
    loaded again on every run; it is reported as failed with the same error. A new
    failed document gets its source's ACL like any other: its name, size and error are
    no more public than its text will be.
    """
    if doc is None:
        acl, tags = access.for_new(path)
        doc = Document(
            kb_id=kb.id,
            source_uri=str(path),
            title=path.name,
            media_type="",
            content_hash="",
            size_bytes=size,
            acl=acl,
            tags=tags,
            metadata_={"file_name": path.name},
            text="",
        )
        session.add(doc)
        doc.error = error
    else:
        doc = session.merge(doc)
        had_chunks = session.scalar(select(Chunk.id).where(Chunk.document_id == doc.id).limit(1)) is not None
        doc.error = error + (" The previously indexed version is still served." if had_chunks else "")
    doc.status = DocumentStatus.FAILED
    doc.metadata_ = {**doc.metadata_, "failed_hash": digest, "failed_signature": signature}
    session.commit()


def failed_before(doc: Document, digest: str, signature: str) -> bool:
    """Whether ``doc`` failed with this very content under this very signature."""
    meta = doc.metadata_ or {}
    return bool(digest) and meta.get("failed_hash") == digest and meta.get("failed_signature") == signature


def update_access(session: Session, *, kb: KnowledgeBase, doc: Document, access: Access) -> None:
    """Apply new ACL or tags to an unchanged document without re-embedding it."""
    changed = False
    if access.acl is not None and access.acl != list(doc.acl):
        doc.acl = list(access.acl)
        changed = True
    if access.tags is not None and access.tags != list(doc.tags):
        doc.tags = list(access.tags)
        changed = True
    if changed:
        session.merge(doc)
        bump_revision(session, kb)


def store_entities(
    session: Session, *, kb: KnowledgeBase, doc: Document, entities: list[Entity], signature: str
) -> None:
    """Give an unchanged document's chunks the entities tagged again in its stored text."""
    doc = session.merge(doc)
    chunks = list(
        session.scalars(
            select(Chunk).where(Chunk.document_id == doc.id).order_by(Chunk.char_start, Chunk.position)
        )
    )
    for chunk, inside in zip(
        chunks, chunk_entities(entities, [(c.char_start, c.char_end) for c in chunks]), strict=True
    ):
        chunk.entities = inside
    doc.pipeline_signature = signature
    bump_revision(session, kb)


def delete_missing(
    session: Session,
    *,
    kb: KnowledgeBase,
    existing: dict[str, Document],
    seen: set[str],
    roots: Sequence[Path],
) -> int:
    """Sync mode: remove documents under ``roots`` whose files are gone (not in ``seen``).

    They leave ``existing`` too; returns how many were deleted.
    """
    deleted = 0
    for uri, doc in list(existing.items()):
        path = Path(uri)
        in_scope = any(path == root or root in path.parents for root in roots)
        if in_scope and uri not in seen:
            session.execute(delete(Document).where(Document.id == doc.id))
            bump_revision(session, kb)
            session.commit()
            del existing[uri]
            deleted += 1
    return deleted


def refresh_index(
    session: Session,
    *,
    kb: KnowledgeBase,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    backend: IndexBackend,
) -> int:
    """Build and activate a new index version when the active one is out of date; its number."""
    session.refresh(kb)
    active = session.get(IndexVersion, kb.active_index_id) if kb.active_index_id else None
    if (
        active is not None
        and active.content_revision == kb.content_revision
        and active.embedding_model == embedder.name
        and backend.readable(active)
    ):
        return active.version
    same_model = active is not None and active.embedding_model == embedder.name
    version = build_index_version(
        session,
        kb,
        backend,
        embedding_model=embedder.name,
        dim=active.embedding_dim if active is not None and same_model else embedder.dimension,
        keep=settings.index_versions_kept,
    )
    return version.version
