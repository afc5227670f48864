"""Ingest job bookkeeping: one live job per knowledge base, dead jobs detected and failed."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from attest.core.errors import Conflict
from attest.core.models import IngestJob, JobStatus, KnowledgeBase, utcnow

STALE_JOB_AFTER = timedelta(minutes=10)


def claim_job(
    session: Session, kb: KnowledgeBase, sources: list[str], sync: bool, *, started_by: str = ""
) -> IngestJob:
    """Start a job, refusing while another live job works on the same knowledge base.

    The first statement writes the knowledge base's row (without changing it), which takes
    its row lock on PostgreSQL and the database's write lock on SQLite until the commit
    below. Two workers claiming at once therefore line up, and the second one's look for a
    running job sees the first one's. Without it both saw none and both ran
    (tests/api/test_postgres.py caught two jobs overlapping by 86 ms).
    """
    session.execute(update(KnowledgeBase).where(KnowledgeBase.id == kb.id).values(id=KnowledgeBase.id))
    for other in session.scalars(
        select(IngestJob).where(IngestJob.kb_id == kb.id, IngestJob.status == JobStatus.RUNNING)
    ):
        if _job_alive(other):
            raise Conflict(
                f"Ingest job {other.id} is still running on knowledge base {kb.name!r}; "
                "wait for it to finish."
            )
        other.status = JobStatus.FAILED
        other.error = "interrupted: the process running it stopped"
        other.finished_at = utcnow()
    job = IngestJob(
        kb_id=kb.id,
        status=JobStatus.RUNNING,
        sources=sources,
        sync=sync,
        owner=_owner(),
        started_by=started_by,
        cancel_requested=False,
        documents_total=0,
        documents_done=0,
        chunks_done=0,
        summary={},
    )
    session.add(job)
    session.commit()
    return job


def finish_job(
    session: Session,
    job: IngestJob,
    status: JobStatus,
    summary: dict[str, object],
    error: str | None = None,
) -> None:
    """Record how a job ended, with its summary."""
    job = session.merge(job)
    job.status = status
    job.error = error
    job.summary = summary
    job.finished_at = utcnow()
    session.commit()


def fail_dead_jobs(session: Session) -> int:
    """Mark RUNNING jobs whose process is gone as failed (at start-up: a restart interrupted them)."""
    count = 0
    for job in session.scalars(select(IngestJob).where(IngestJob.status == JobStatus.RUNNING)):
        if not _job_alive(job):
            job.status = JobStatus.FAILED
            job.error = "interrupted: the process running it stopped (restart); run it again"
            job.finished_at = utcnow()
            count += 1
    session.commit()
    return count


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _job_alive(job: IngestJob) -> bool:
    """Whether a RUNNING job's process still works on it."""
    host, _, pid = job.owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    heartbeat = (
        job.heartbeat_at if job.heartbeat_at.tzinfo else job.heartbeat_at.replace(tzinfo=utcnow().tzinfo)
    )
    return utcnow() - heartbeat < STALE_JOB_AFTER
