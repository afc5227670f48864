"""Re-index jobs: start (or queue), follow (progress and ETA), cancel. One at a time per knowledge base."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from attest.api.deps import Access, EditorDep, Id, ServicesDep, SessionDep, rule
from attest.api.schemas import JobCreate, JobList, JobPublic
from attest.core import audit
from attest.core.accounts import visible_kb
from attest.core.models import IngestJob, JobStatus
from attest.ingest import jobs

router = APIRouter(prefix="/kbs/{kb}/jobs", tags=["jobs"])


def describe(job: IngestJob, hidden: set[str] | None = None) -> dict[str, Any]:
    """A job as the API shows it (a :class:`JobPublic`). ``hidden``: the sources of documents the
    caller may not read; when there are any, the job's counts (which include them) give way to its
    progress as a fraction, and their errors are left out."""
    status = job.status.value if isinstance(job.status, JobStatus) else job.status
    data = {
        "id": job.id,
        "status": status,
        "documents_total": job.documents_total,
        "documents_done": job.documents_done,
        "chunks_done": job.chunks_done,
        "progress": jobs.progress(job),
        "eta_seconds": jobs.eta_seconds(job),
        "cancel_requested": job.cancel_requested,
        "started_by": job.started_by,
        "queued_at": job.queued_at,
        "attempts": job.attempts,
        "started_at": None if status == JobStatus.QUEUED else job.started_at,
        "finished_at": job.finished_at,
        "error": job.error,
        "summary": job.summary,
    }
    if hidden:
        data.update(documents_total=None, documents_done=None, chunks_done=None)
        data["summary"] = jobs.redacted_summary(job.summary or {}, hidden)
    return JobPublic.model_validate(data).model_dump()


@router.post("", **rule(Access.KB_EDITOR, JobPublic, status=202))
def start(
    kb: str, caller: EditorDep, session: SessionDep, services: ServicesDep, body: JobCreate | None = None
) -> dict[str, Any]:
    """Re-index in the background: new and changed files are embedded, removed ones dropped.
    With ATTEST_JOB_RUNNER=worker the job is queued for the workers (status "queued")."""
    row = visible_kb(session, caller, kb)
    paths = jobs.reindex_sources(session, row, services.settings.upload_dir)
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
    return describe(job, jobs.hidden_sources(session, caller, row))


@router.get("", **rule(Access.KB_EDITOR, JobList))
def list_jobs(
    kb: str, caller: EditorDep, session: SessionDep, limit: int = Query(20, ge=1, le=200)
) -> dict[str, Any]:
    row = visible_kb(session, caller, kb)
    hidden = jobs.hidden_sources(session, caller, row)
    return {"items": [describe(j, hidden) for j in jobs.recent_jobs(session, row, limit)]}  # JobList


@router.get("/{job_id}", **rule(Access.KB_EDITOR, JobPublic))
def get_job(kb: str, job_id: Id, caller: EditorDep, session: SessionDep) -> dict[str, Any]:
    row = visible_kb(session, caller, kb)
    return describe(jobs.find_job(session, row, job_id), jobs.hidden_sources(session, caller, row))


@router.post("/{job_id}/cancel", **rule(Access.KB_EDITOR, JobPublic, status=202))
def cancel(kb: str, job_id: Id, caller: EditorDep, session: SessionDep) -> dict[str, Any]:
    """Cancel a job: a queued one ends at once; a running one stops after its current batch.
    Either way it activates nothing."""
    row = visible_kb(session, caller, kb)
    job = jobs.find_job(session, row, job_id)
    jobs.cancel_job(session, job)
    audit.append(
        session, actor=caller.label, action="reindex.cancel", kb=kb, status=202, details={"job_id": job_id}
    )
    return describe(job, jobs.hidden_sources(session, caller, row))
