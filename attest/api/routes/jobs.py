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
from attest.core.accounts import visible_kb
from attest.core.errors import Conflict, NotFound
from attest.core.models import IngestJob, JobStatus, KnowledgeBase, utcnow

router = APIRouter(prefix="/kbs/{kb}/jobs", tags=["jobs"])


def describe(job: IngestJob) -> dict[str, Any]:
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
    """What a re-index reads: the knowledge base's uploads and every folder it was ingested from."""
    found = {upload_dir / str(kb.id)}
    for job_sources in session.scalars(
        select(IngestJob.sources).where(IngestJob.kb_id == kb.id, IngestJob.status == JobStatus.SUCCEEDED)
    ):
        found.update(Path(s) for s in job_sources or [])
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
    return describe(job)


@router.get("", **rule(Access.KB_EDITOR))
def list_jobs(
    kb: str, caller: EditorDep, session: SessionDep, limit: int = Query(20, ge=1, le=200)
) -> dict[str, Any]:
    row = visible_kb(session, caller, kb)
    jobs = session.scalars(
        select(IngestJob).where(IngestJob.kb_id == row.id).order_by(IngestJob.id.desc()).limit(limit)
    )
    return {"items": [describe(j) for j in jobs]}


@router.get("/{job_id}", **rule(Access.KB_EDITOR))
def get_job(kb: str, job_id: Id, caller: EditorDep, session: SessionDep) -> dict[str, Any]:
    return describe(_job(session, visible_kb(session, caller, kb), job_id))


@router.post("/{job_id}/cancel", status_code=202, **rule(Access.KB_EDITOR))
def cancel(kb: str, job_id: Id, caller: EditorDep, session: SessionDep) -> dict[str, Any]:
    """Ask a running job to stop; it stops after its current batch and activates nothing."""
    job = _job(session, visible_kb(session, caller, kb), job_id)
    if job.status != JobStatus.RUNNING:
        raise Conflict(f"Job {job_id} is already {job.status}.")
    job.cancel_requested = True
    audit.append(
        session, actor=caller.label, action="reindex.cancel", kb=kb, status=202, details={"job_id": job_id}
    )
    return describe(job)


def _job(session: Session, kb: KnowledgeBase, job_id: Id) -> IngestJob:
    job = session.get(IngestJob, job_id)
    if job is None or job.kb_id != kb.id:
        raise NotFound(f"Unknown job {job_id} in {kb.name!r}.")
    return job
