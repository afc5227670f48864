"""Documents of a knowledge base: upload, list, read, change access, delete.

An upload is checked by its content (the same loaders ingestion uses) and kept under the
data directory; it is indexed by the next re-index job. Deleting a document or changing its
ACL or tags rebuilds the index before the response returns, so the change is in force when
the caller hears back. Documents the caller may not read answer 404, like missing ones.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from attest.api.deps import MAX_ID, Access, EditorDep, Id, ServicesDep, SessionDep, UserDep, rule
from attest.api.errors import ApiError
from attest.api.schemas import (
    DocumentDeleted,
    DocumentList,
    DocumentPublic,
    DocumentText,
    DocumentUpdate,
    DocumentUpdated,
)
from attest.core import audit
from attest.core.accounts import Principal, group_names, may_read, visible_kb
from attest.core.errors import NotFound
from attest.core.models import Chunk, Document, DocumentStatus, KnowledgeBase
from attest.ingest.loaders import load_bytes

router = APIRouter(prefix="/kbs/{kb}/documents", tags=["documents"])
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_READ_BLOCK = 1 << 20
MAX_NAME = 200


def describe(doc: Document, chunks: int | None = None) -> DocumentPublic:
    return DocumentPublic(
        id=doc.id,
        title=doc.title,
        file_name=(doc.metadata_ or {}).get("file_name") or Path(doc.source_uri).name,
        media_type=doc.media_type,
        size_bytes=doc.size_bytes,
        status=DocumentStatus(doc.status).value,
        error=doc.error,
        acl=doc.acl,
        tags=doc.tags,
        chunks=chunks,
        updated_at=doc.updated_at,
    )


def _readable_document(session: Session, caller: Principal, kb: KnowledgeBase, document_id: Id) -> Document:
    """The document if the caller may read it; NotFound, the same as for a missing one, if not.

    The ACL is checked before the row and its text are loaded, so that a hidden document
    costs no more time to refuse than a missing one.
    """
    acl = session.scalar(select(Document.acl).where(Document.id == document_id, Document.kb_id == kb.id))
    doc = session.get(Document, document_id) if acl is not None and may_read(caller, acl) else None
    if doc is None:
        raise NotFound(f"Unknown document {document_id} in {kb.name!r}.")
    return doc


def _groups(raw: str) -> list[str]:
    return group_names(g.strip() for g in raw.split(",") if g.strip())


@router.get("", **rule(Access.KB_VIEWER, DocumentList))
def list_documents(
    kb: str,
    caller: UserDep,
    session: SessionDep,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ID),
) -> dict[str, Any]:
    """Documents the caller may read, with their status and any ingest error."""
    row = visible_kb(session, caller, kb)
    docs = [
        d
        for d in session.scalars(
            select(Document)
            .options(defer(Document.text))
            .where(Document.kb_id == row.id)
            .order_by(Document.id)
        )
        if may_read(caller, d.acl)
    ]
    counts = dict(
        session.execute(
            select(Chunk.document_id, func.count(Chunk.id))
            .where(Chunk.kb_id == row.id)
            .group_by(Chunk.document_id)
        ).all()
    )
    page = docs[offset : offset + limit]
    items = [describe(d, counts.get(d.id, 0)) for d in page]
    return DocumentList(total=len(docs), items=items).model_dump()


@router.post("", **rule(Access.KB_EDITOR, DocumentPublic, status=201))
def upload(
    kb: str,
    caller: EditorDep,
    session: SessionDep,
    services: ServicesDep,
    file: Annotated[
        UploadFile, File(description="txt, md, html, pdf or docx; the type is read from the content")
    ],
    acl: Annotated[str, Form(description="Comma-separated groups that may read it (empty: everyone)")] = "",
    tags: Annotated[str, Form(description="Comma-separated tags")] = "",
) -> dict[str, Any]:
    """Upload one file; it is indexed by the next re-index job (``POST .../jobs``)."""
    row = visible_kb(session, caller, kb)
    limit = services.settings.max_file_bytes
    data = bytearray()
    while block := file.file.read(_READ_BLOCK):
        data.extend(block)
        if len(data) > limit:
            raise ApiError(
                413, f"{file.filename}: larger than the {limit / 2**20:.1f} MB limit (ATTEST_MAX_FILE_BYTES)."
            )
    name = stored_name(file.filename or "")
    loaded = load_bytes(bytes(data), filename=name, max_bytes=limit)  # LoadError: 415 or 422, named
    groups, tag_list = _groups(acl), sorted({t.strip() for t in tags.split(",") if t.strip()})
    path, doc = _upload_target(session, caller, row, services.settings.upload_dir / str(row.id), name)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, bytes(data))
    if doc is None:
        doc = Document(kb_id=row.id, source_uri=str(path), text=loaded.text, acl=groups, tags=tag_list)
        session.add(doc)
    else:
        doc.acl, doc.tags = (groups or doc.acl), (tag_list or doc.tags)
    doc.title = loaded.title[:512]
    doc.media_type = loaded.media_type
    doc.size_bytes = len(data)
    doc.status = DocumentStatus.PENDING
    doc.error = None
    doc.metadata_ = {**(doc.metadata_ or {}), "file_name": name, "uploaded_by": caller.label}
    session.flush()
    audit.append(
        session,
        actor=caller.label,
        action="document.upload",
        kb=kb,
        status=201,
        details={"document_id": doc.id, "file_name": name, "bytes": len(data), "acl": doc.acl},
    )
    return describe(doc, 0).model_dump()


@router.get("/{document_id}", **rule(Access.KB_VIEWER, DocumentText))
def get_document(kb: str, document_id: Id, caller: UserDep, session: SessionDep) -> dict[str, Any]:
    """One document with its extracted text."""
    doc = _readable_document(session, caller, visible_kb(session, caller, kb), document_id)
    return DocumentText(**describe(doc).model_dump(), text=doc.text).model_dump()


@router.patch("/{document_id}", **rule(Access.KB_EDITOR, DocumentUpdated))
def update_document(
    kb: str,
    document_id: Id,
    body: DocumentUpdate,
    caller: EditorDep,
    session: SessionDep,
    services: ServicesDep,
) -> dict[str, Any]:
    """Change who may read a document, or its tags; the index is rebuilt before this returns."""
    doc = _readable_document(session, caller, visible_kb(session, caller, kb), document_id)
    acl = None if body.acl is None else group_names(body.acl)
    session.rollback()  # the rebuild job takes its own transaction

    def change(job_session: Session, _kb: KnowledgeBase) -> None:
        target = job_session.get(Document, document_id)
        if target is None:
            raise NotFound(f"Unknown document {document_id} in {kb!r}.")
        if acl is not None:
            target.acl = acl
        if body.tags is not None:
            target.tags = sorted(set(body.tags))

    summary = services.pipeline.rebuild(kb, change, started_by=caller.label)
    audit.write(
        services.engine,
        actor=caller.label,
        action="document.update",
        kb=kb,
        status=200,
        details={"document_id": document_id, **body.model_dump(exclude_none=True)},
    )
    session.refresh(doc)
    return DocumentUpdated(**describe(doc).model_dump(), index_version=summary.index_version).model_dump()


@router.delete("/{document_id}", **rule(Access.KB_EDITOR, DocumentDeleted))
def delete_document(
    kb: str, document_id: Id, caller: EditorDep, session: SessionDep, services: ServicesDep
) -> dict[str, Any]:
    """Delete a document; it leaves the index before this returns. An uploaded file is removed
    too; a file ingested from a folder comes back if that folder is ingested again."""
    doc = _readable_document(session, caller, visible_kb(session, caller, kb), document_id)
    path, upload_root = Path(doc.source_uri), services.settings.upload_dir.resolve()
    title = doc.title
    session.rollback()

    def change(job_session: Session, _kb: KnowledgeBase) -> None:
        target = job_session.get(Document, document_id)
        if target is None:
            raise NotFound(f"Unknown document {document_id} in {kb!r}.")
        job_session.delete(target)

    summary = services.pipeline.rebuild(kb, change, started_by=caller.label)
    if upload_root in path.parents:
        path.unlink(missing_ok=True)
    audit.write(
        services.engine,
        actor=caller.label,
        action="document.delete",
        kb=kb,
        status=200,
        details={"document_id": document_id, "title": title},
    )
    return DocumentDeleted(deleted=document_id, index_version=summary.index_version).model_dump()


def _upload_target(
    session: Session, caller: Principal, kb: KnowledgeBase, folder: Path, name: str
) -> tuple[Path, Document | None]:
    """Where an upload named ``name`` goes, and the document it replaces (or None).

    An upload replaces the caller's readable upload of the same name. A document of that
    name the caller may not read is left alone, and the upload becomes a new document in a
    folder of its own, so that the answer is the same as if the name were free: nothing
    tells the caller that the other document exists.
    """
    prefix = str(folder.resolve())
    same_name = [
        d
        for d in session.scalars(
            select(Document)
            .options(defer(Document.text))
            .where(Document.kb_id == kb.id, Document.source_uri.startswith(prefix, autoescape=True))
        )
        if (d.metadata_ or {}).get("file_name", Path(d.source_uri).name) == name
    ]
    for doc in same_name:
        if may_read(caller, doc.acl):
            return Path(doc.source_uri), doc
    path = (folder / name).resolve()
    taken = select(Document.id).where(Document.kb_id == kb.id, Document.source_uri == str(path))
    if session.scalar(taken) is not None:
        path = (folder / uuid.uuid4().hex[:12] / name).resolve()
    return path, None


def stored_name(filename: str) -> str:
    """The name an upload is kept under: safe characters only, at most :data:`MAX_NAME` long
    (file systems refuse names over 255 bytes), keeping its extension, which the loaders use."""
    name = _UNSAFE.sub("_", Path(filename or "upload").name).strip(" .") or "upload"
    if len(name) > MAX_NAME:
        stem, suffix = Path(name).stem, Path(name).suffix[:16]
        name = stem[: MAX_NAME - len(suffix)].rstrip(" .") + suffix
    return name


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
