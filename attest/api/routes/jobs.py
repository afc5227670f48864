"""Re-index jobs: start, follow (progress and ETA), cancel. One at a time per knowledge base."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from attest.api.deps import Access, EditorDep, Id, ServicesDep, SessionDep, rule
from attest.api.schemas import JobCreate
from attest.core import audit
from attest.core.accounts import Principal, may_read, visible_kb
from attest.core.errors import Conflict, NotFound
from attest.core.models import Document, IngestJob, JobStatus, KnowledgeBase, Source, utcnow

router = APIRouter(prefix="/kbs/{kb}/jobs", tags=["jobs"])


COUNTS = (
    "documents_added",
    "documents_updated",
    "documents_unchanged",
    "documents_retagged",
    "documents_deleted",
    "documents_failed",
    "chunks",
    "embeddings_computed",
)


def describe(job: IngestJob, hidden: set[str] | None = None) -> dict[str, Any]:
    """A job as the API shows it. ``hidden``: the sources of documents the caller may not
    read; when there are any, the job's counts (which include them) give way to its
    progress as a fraction, and their errors are left out."""
    data = _describe(job)
    if hidden:
        data.update(documents_total=None, documents_done=None, chunks_done=None)
        summary = {k: v for k, v in (job.summary or {}).items() if k not in COUNTS}
        if "errors" in summary:
            summary["errors"] = [e for e in summary["errors"] if e.get("source") not in hidden]
        data["summary"] = summary
    return data


def hidden_sources(session: Session, caller: Principal, kb: KnowledgeBase) -> set[str]:
    """Where the documents of ``kb`` that the caller may not read come from (empty for admins)."""
    if caller.reading_groups is None:
        return set()
    rows = session.execute(select(Document.source_uri, Document.acl).where(Document.kb_id == kb.id))
    return {uri for uri, acl in rows if not may_read(caller, acl or [])}


def _describe(job: IngestJob) -> dict[str, Any]:
    total, done = job.documents_total, job.documents_done
    status = job.status.value if hasattr(job.status, "value") else job.status
    eta = None
    if status == JobStatus.RUNNING and 0 < done < total:
        started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=utcnow().tzinfo)
        elapsed = (utcnow() - started).total_seconds()
        eta = round(elapsed / done * (total - done), 1)
    return {
        "id": job.id,
        "status": status,
        "documents_total": total,
        "documents_done": done,
        "chunks_done": job.chunks_done,
        "progress": 1.0 if status == JobStatus.SUCCEEDED else round(done / total, 4) if total else 0.0,
        "eta_seconds": eta,
        "cancel_requested": job.cancel_requested,
        "started_by": job.started_by,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "error": job.error,
        "summary": job.summary,
    }


def sources(session: Session, kb: KnowledgeBase, upload_dir: Path) -> list[Path]:
    """What a re-index reads: the knowledge base's uploads and every source it was ingested
    from (each keeps the ACL and tags it was ingested with; see ``models.Source``)."""
    found = {upload_dir / str(kb.id)}
    found.update(Path(p) for p in session.scalars(select(Source.path).where(Source.kb_id == kb.id)))
    return sorted(p for p in found if p.exists())


@router.post("", status_code=202, **rule(Access.KB_EDITOR))
def start(
    kb: str, caller: EditorDep, session: SessionDep, services: ServicesDep, body: JobCreate | None = None
) -> dict[str, Any]:
    """Re-index in the background: new and changed files are embedded, removed ones dropped."""
    row = visible_kb(session, caller, kb)
    paths = sources(session, row, services.settings.upload_dir)
    sync = True if body is None else body.sync
    session.commit()
    job_id = services.jobs.submit(row.name, paths, sync=sync, started_by=caller.label)
    audit.append(
        session,
        actor=caller.label,
        action="reindex.start",
        kb=kb,
        status=202,
        details={"job_id": job_id, "sources": [str(p) for p in paths]},
    )
    job = session.get(IngestJob, job_id)
    assert job is not None
    return describe(job, hidden_sources(session, caller, row))


@router.get("", **rule(Access.KB_EDITOR))
def list_jobs(
    kb: str, caller: EditorDep, session: SessionDep, limit: int = Query(20, ge=1, le=200)
) -> dict[str, Any]:
    row = visible_kb(session, caller, kb)
    jobs = session.scalars(
        select(IngestJob).where(IngestJob.kb_id == row.id).order_by(IngestJob.id.desc()).limit(limit)
    )
    hidden = hidden_sources(session, caller, row)
    return {"items": [describe(j, hidden) for j in jobs]}


@router.get("/{job_id}", **rule(Access.KB_EDITOR))
def get_job(kb: str, job_id: Id, caller: EditorDep, session: SessionDep) -> dict[str, Any]:
    row = visible_kb(session, caller, kb)
    return describe(_job(session, row, job_id), hidden_sources(session, caller, row))


@router.post("/{job_id}/cancel", status_code=202, **rule(Access.KB_EDITOR))
def cancel(kb: str, job_id: Id, caller: EditorDep, session: SessionDep) -> dict[str, Any]:
    """Ask a running job to stop; it stops after its current batch and activates nothing."""
    row = visible_kb(session, caller, kb)
    job = _job(session, row, job_id)
    if job.status != JobStatus.RUNNING:
        raise Conflict(f"Job {job_id} is already {job.status}.")
    job.cancel_requested = True
    audit.append(
        session, actor=caller.label, action="reindex.cancel", kb=kb, status=202, details={"job_id": job_id}
    )
    return describe(job, hidden_sources(session, caller, row))


def _job(session: Session, kb: KnowledgeBase, job_id: Id) -> IngestJob:
    job = session.get(IngestJob, job_id)
    if job is None or job.kb_id != kb.id:
        raise NotFound(f"Unknown job {job_id} in {kb.name!r}.")
    return job
