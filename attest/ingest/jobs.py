"""The ingest job's lifecycle, from claim to end, and how a job is followed and cancelled.

One live job per knowledge base: a claim refuses while another one runs there, and jobs
whose process is gone are failed. A job runs in the caller's process (``attest ingest``) or
in a :class:`JobRunner` thread (the API); it stops at the next batch once cancelled, and ends
succeeded, failed or cancelled with its :class:`IngestSummary`.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from attest.core.accounts import Principal, may_read
from attest.core.errors import Conflict, IngestError, NotFound
from attest.core.models import Document, IngestJob, JobStatus, KnowledgeBase, Source, utcnow

if TYPE_CHECKING:
    from attest.ingest.pipeline import IngestPipeline

log = logging.getLogger(__name__)

STALE_JOB_AFTER = timedelta(minutes=10)

# The summary's counts, which include documents a caller may not be allowed to know about.
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


@dataclass
class IngestSummary:
    """What a job did. The key names are a stable interface (``attest ingest --json``)."""

    documents_added: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_retagged: int = 0  # unchanged, but their entities were tagged again (no embedding)
    documents_deleted: int = 0
    documents_failed: int = 0
    chunks: int = 0
    embeddings_computed: int = 0
    seconds: float = 0.0
    knowledge_base: str = ""
    job_id: int | None = None
    index_version: int | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def failed(self, source: str, error: str) -> None:
        """Count a document that failed, with its error."""
        self.documents_failed += 1
        self.errors.append({"source": source, "error": error})

    def read(self) -> int:
        """Every file read so far, whatever became of it."""
        done = self.documents_unchanged + self.documents_failed
        return done + self.documents_added + self.documents_updated


class JobCancelled(IngestError):
    """The job was cancelled on request."""


# --- claiming and ending ----------------------------------------------------------------


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


def end_interrupted(session: Session, job: IngestJob, summary: IngestSummary, exc: BaseException) -> None:
    """Record a job cut short by ``exc``: cancelled on request, else failed with the reason.

    On a full disk even that may fail; the next job's claim then marks it failed instead
    (it stops sending heartbeats).
    """
    if isinstance(exc, JobCancelled):
        status, reason = JobStatus.CANCELLED, "cancelled on request"
    else:
        status = JobStatus.FAILED
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc) or type(exc).__name__
    try:
        finish_job(session, job, status, summary.to_dict(), error=reason)
    except SQLAlchemyError:
        session.rollback()
        log.warning("could not record the end of ingest job %s (%s)", job.id, reason)


def out_of_space(exc: BaseException) -> bool:
    """A full disk, as the file system (ENOSPC) or the database reports it."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(exc, OperationalError):
        message = str(exc.orig).lower()
        return "disk is full" in message or "no space left" in message or "could not extend file" in message
    return False


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


# --- while it runs ----------------------------------------------------------------------


def check_cancelled(session: Session, job: IngestJob) -> None:
    """Raise :class:`JobCancelled` when someone asked to cancel ``job`` (read from the database)."""
    requested = session.scalar(select(IngestJob.cancel_requested).where(IngestJob.id == job.id))
    if requested:
        raise JobCancelled(f"Ingest job {job.id} was cancelled.")


def count_done(job: IngestJob, summary: IngestSummary) -> None:
    """The job's progress: every file read so far, whatever became of it."""
    job.documents_done = min(summary.read(), job.documents_total)


def request_cancel(job: IngestJob) -> None:
    """Ask a running job to stop; it stops after its current batch and activates nothing."""
    if job.status != JobStatus.RUNNING:
        raise Conflict(f"Job {job.id} is already {job.status}.")
    job.cancel_requested = True


class JobRunner:
    """Runs ingest jobs in one background thread, in the order they were started.

    The job is claimed in the caller's thread (so a second job on the same knowledge base
    is refused at once with a Conflict) and executed here. A job never activates a new index
    version unless it completes; one cut short by a restart is marked failed at start-up.
    """

    def __init__(self, pipeline: IngestPipeline) -> None:
        self.pipeline = pipeline
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="attest-job")

    def submit(self, kb_name: str, sources: list[Path], *, sync: bool, started_by: str) -> int:
        job_id = self.pipeline.start(kb_name, sources, sync=sync, create=False, started_by=started_by)
        self._pool.submit(self._execute, job_id, sources, sync)
        return job_id

    def _execute(self, job_id: int, sources: list[Path], sync: bool) -> None:
        try:
            self.pipeline.execute(job_id, sources, sync=sync)
        except Exception as exc:  # recorded on the job by the pipeline
            log.info("ingest job %s ended: %s", job_id, exc)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# --- following jobs ---------------------------------------------------------------------


def reindex_sources(session: Session, kb: KnowledgeBase, upload_dir: Path) -> list[Path]:
    """What a re-index reads: the knowledge base's uploads and every source it was ingested
    from (each keeps the ACL and tags it was ingested with; see ``models.Source``)."""
    found = {upload_dir / str(kb.id)}
    found.update(Path(p) for p in session.scalars(select(Source.path).where(Source.kb_id == kb.id)))
    return sorted(p for p in found if p.exists())


def find_job(session: Session, kb: KnowledgeBase, job_id: int) -> IngestJob:
    """The job ``job_id`` of ``kb``; NotFound if it is another knowledge base's or none."""
    job = session.get(IngestJob, job_id)
    if job is None or job.kb_id != kb.id:
        raise NotFound(f"Unknown job {job_id} in {kb.name!r}.")
    return job


def recent_jobs(session: Session, kb: KnowledgeBase, limit: int) -> list[IngestJob]:
    """The knowledge base's last ``limit`` jobs, newest first."""
    query = select(IngestJob).where(IngestJob.kb_id == kb.id).order_by(IngestJob.id.desc()).limit(limit)
    return list(session.scalars(query))


def running_job(session: Session, kb_id: int) -> IngestJob | None:
    """The job running on a knowledge base, if any."""
    return session.scalar(
        select(IngestJob).where(IngestJob.kb_id == kb_id, IngestJob.status == JobStatus.RUNNING).limit(1)
    )


def progress(job: IngestJob) -> float:
    """The fraction of the job's files read: 1 once it succeeded, 0 before it counted them."""
    if job.status == JobStatus.SUCCEEDED:
        return 1.0
    total = job.documents_total
    return round(job.documents_done / total, 4) if total else 0.0


def eta_seconds(job: IngestJob) -> float | None:
    """A running job's time left, at the rate it has read files so far; None before the first."""
    total, done = job.documents_total, job.documents_done
    if job.status != JobStatus.RUNNING or not (0 < done < total):
        return None
    started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=utcnow().tzinfo)
    elapsed = (utcnow() - started).total_seconds()
    return round(elapsed / done * (total - done), 1)


def hidden_sources(session: Session, caller: Principal, kb: KnowledgeBase) -> set[str]:
    """Where the documents of ``kb`` that the caller may not read come from (empty for admins)."""
    if caller.reading_groups is None:
        return set()
    rows = session.execute(select(Document.source_uri, Document.acl).where(Document.kb_id == kb.id))
    return {uri for uri, acl in rows if not may_read(caller, acl or [])}


def redacted_summary(summary: dict[str, Any], hidden: set[str]) -> dict[str, Any]:
    """A job's summary for a caller who may not read the documents from ``hidden``: without
    the counts (which include them) and without those documents' errors."""
    shown = {k: v for k, v in summary.items() if k not in COUNTS}
    if "errors" in shown:
        shown["errors"] = [e for e in shown["errors"] if e.get("source") not in hidden]
    return shown


# --- internals --------------------------------------------------------------------------


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
