"""The ingest job's lifecycle, from claim to end, and how a job is followed and cancelled.

One live job per knowledge base: a claim refuses while another one is queued or runs there.
A job runs in the caller's process (``attest ingest``), in a :class:`JobRunner` thread (the
API), or, queued by the API when ``ATTEST_JOB_RUNNER=worker``, in an ``attest worker``
(:mod:`attest.ingest.worker`). It stops at the next batch once cancelled, and ends succeeded,
failed or cancelled with its :class:`IngestSummary`. A job whose process is gone is failed,
unless it came from the queue: that one is queued again, up to :data:`MAX_ATTEMPTS` times.
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
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Update, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from attest.core.accounts import Principal, may_read
from attest.core.enums import JobRunnerName
from attest.core.errors import Conflict, IngestError, NotFound
from attest.core.models import Document, IngestJob, JobStatus, KnowledgeBase, Source, utcnow

if TYPE_CHECKING:
    from attest.ingest.pipeline import IngestPipeline

log = logging.getLogger(__name__)

STALE_JOB_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 3  # a queued job whose worker dies this many times fails instead of queueing again
LIVE = (JobStatus.QUEUED, JobStatus.RUNNING)

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
    """Start a job in this process, refusing while another job is queued or runs on the same
    knowledge base (Conflict)."""
    _refuse_live(session, kb)
    job = _new_job(kb, sources, sync, started_by, JobStatus.RUNNING)
    job.owner = _owner()
    session.add(job)
    session.commit()
    return job


def enqueue_job(
    session: Session, kb: KnowledgeBase, sources: list[str], sync: bool, *, started_by: str = ""
) -> IngestJob:
    """Queue a job for the workers, refusing as :func:`claim_job` does."""
    _refuse_live(session, kb)
    job = _new_job(kb, sources, sync, started_by, JobStatus.QUEUED)
    job.queued_at = job.started_at = job.heartbeat_at = utcnow()
    session.add(job)
    session.commit()
    return job


def claim_queued(session: Session) -> IngestJob | None:
    """Take the oldest queued job and mark it running in this process; None when none is queued.

    Workers reaching for the same job each get a different one on PostgreSQL (``SKIP
    LOCKED`` passes over a row another transaction holds); the update then takes the row
    only if it is still queued, which on SQLite (one writer at a time) tells the winner from
    the losers, and which a cancelled job no longer is.
    """
    while True:
        oldest = (
            select(IngestJob.id)
            .where(IngestJob.status == JobStatus.QUEUED)
            .order_by(IngestJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        job_id = session.scalar(oldest)
        if job_id is None:
            session.commit()
            return None
        now = utcnow()
        taken = _update(
            session,
            update(IngestJob)
            .where(IngestJob.id == job_id, IngestJob.status == JobStatus.QUEUED)
            .values(
                status=JobStatus.RUNNING,
                owner=_owner(),
                started_at=now,
                heartbeat_at=now,
                documents_total=0,
                documents_done=0,
                chunks_done=0,
                error=None,
            ),
        )
        session.commit()
        if taken:
            return session.scalars(
                select(IngestJob).where(IngestJob.id == job_id).execution_options(populate_existing=True)
            ).one()


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


@dataclass(frozen=True)
class Recovered:
    """What :func:`recover_dead_jobs` did with the jobs whose process was gone."""

    requeued: int = 0
    ended: int = 0  # failed, or cancelled when that had been asked


def recover_dead_jobs(session: Session) -> Recovered:
    """Queue again, or end, the RUNNING jobs whose process is gone (see :func:`_recover`).

    At the API's start-up (a restart interrupted its jobs) and before each claim of a worker
    (a worker was killed).
    """
    requeued = ended = 0
    for job in list(session.scalars(select(IngestJob).where(IngestJob.status == JobStatus.RUNNING))):
        if not _job_alive(job):
            status = _recover(session, job)
            requeued += status is JobStatus.QUEUED
            ended += status in (JobStatus.FAILED, JobStatus.CANCELLED)
    session.commit()
    return Recovered(requeued, ended)


def heartbeat(session: Session, job_ids: set[int]) -> None:
    """Tell other hosts that this process still runs ``job_ids`` (see :func:`_job_alive`)."""
    if job_ids:
        _update(
            session,
            update(IngestJob)
            .where(
                IngestJob.id.in_(job_ids), IngestJob.status == JobStatus.RUNNING, IngestJob.owner == _owner()
            )
            .values(heartbeat_at=utcnow()),
        )
    session.commit()


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


def cancel_job(session: Session, job: IngestJob) -> None:
    """Cancel a job: a queued one ends at once and no worker runs it; a running one as
    :func:`request_cancel` says. Conflict once it has ended."""
    if job.status == JobStatus.QUEUED:
        ended = _update(
            session,
            update(IngestJob)
            .where(IngestJob.id == job.id, IngestJob.status == JobStatus.QUEUED)
            .values(
                status=JobStatus.CANCELLED,
                cancel_requested=True,
                error="cancelled on request before it started",
                finished_at=utcnow(),
            ),
        )
        session.refresh(job)  # a worker may have claimed it just before
        if ended:
            return
    request_cancel(job)


class JobRunner:
    """Runs the API's ingest jobs in one background thread, in the order they were started;
    or, with ``ATTEST_JOB_RUNNER=worker``, queues them for ``attest worker`` and runs none.

    The job is claimed (or queued) in the caller's thread, so a second job on the same
    knowledge base is refused at once with a Conflict. A job never activates a new index
    version unless it completes; one cut short by a restart is failed (or, if it came from
    the queue, queued again) at start-up.
    """

    def __init__(self, pipeline: IngestPipeline) -> None:
        self.pipeline = pipeline
        queues = pipeline.settings.job_runner is JobRunnerName.WORKER
        self._pool = None if queues else ThreadPoolExecutor(max_workers=1, thread_name_prefix="attest-job")

    def submit(self, kb_name: str, sources: list[Path], *, sync: bool, started_by: str) -> int:
        job_id = self.pipeline.start(
            kb_name, sources, sync=sync, create=False, started_by=started_by, queue=self._pool is None
        )
        if self._pool is not None:
            self._pool.submit(self._execute, job_id, sources, sync)
        return job_id

    def _execute(self, job_id: int, sources: list[Path], sync: bool) -> None:
        try:
            self.pipeline.execute(job_id, sources, sync=sync)
        except Exception as exc:  # recorded on the job by the pipeline
            log.info("ingest job %s ended: %s", job_id, exc)

    def shutdown(self) -> None:
        if self._pool is not None:
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
    """The job queued or running on a knowledge base, if any."""
    return session.scalar(
        select(IngestJob).where(IngestJob.kb_id == kb_id, IngestJob.status.in_(LIVE)).limit(1)
    )


def progress(job: IngestJob) -> float:
    """The fraction of the job's files read: 1 once it succeeded, 0 before it counted them
    (and while it is queued)."""
    if job.status == JobStatus.SUCCEEDED:
        return 1.0
    if job.status == JobStatus.QUEUED:
        return 0.0
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


def _new_job(
    kb: KnowledgeBase, sources: list[str], sync: bool, started_by: str, status: JobStatus
) -> IngestJob:
    return IngestJob(
        kb_id=kb.id,
        status=status,
        sources=sources,
        sync=sync,
        owner="",
        started_by=started_by,
        cancel_requested=False,
        attempts=0,
        documents_total=0,
        documents_done=0,
        chunks_done=0,
        summary={},
    )


def _refuse_live(session: Session, kb: KnowledgeBase) -> None:
    """Raise Conflict while a job is queued or alive on ``kb``; recover dead ones on the way.

    The first statement writes the knowledge base's row (without changing it), which takes
    its row lock on PostgreSQL and the database's write lock on SQLite until the caller's
    commit. Two claims at once therefore line up, and the second one's look for a live job
    sees the first one's. Without it both saw none and both ran (tests/api/test_postgres.py
    caught two jobs overlapping by 86 ms).
    """
    session.execute(update(KnowledgeBase).where(KnowledgeBase.id == kb.id).values(id=KnowledgeBase.id))
    running = select(IngestJob).where(IngestJob.kb_id == kb.id, IngestJob.status == JobStatus.RUNNING)
    for other in list(session.scalars(running)):
        if not _job_alive(other):
            _recover(session, other)
    live = session.execute(
        select(IngestJob.id, IngestJob.status)
        .where(IngestJob.kb_id == kb.id, IngestJob.status.in_(LIVE))
        .order_by(IngestJob.id)
        .limit(1)
    ).first()
    if live is None:
        return
    session.commit()  # what recovery did stands; this claim is refused anyway
    if live.status == JobStatus.QUEUED:
        raise Conflict(
            f"Ingest job {live.id} is queued on knowledge base {kb.name!r}; wait for a worker "
            "(`attest worker`) to run it, or cancel it."
        )
    raise Conflict(
        f"Ingest job {live.id} is still running on knowledge base {kb.name!r}; wait for it to finish."
    )


def _recover(session: Session, job: IngestJob) -> JobStatus | None:
    """Deal with a RUNNING job whose process is gone; its new status (None: another process
    dealt with it first).

    A job that came from the queue is queued again, since a worker runs it from what the job
    row holds and a run is all or nothing (its index version is activated only once
    complete). After :data:`MAX_ATTEMPTS` interruptions it fails: something kills the worker
    on this job. Any other job (``attest ingest``, an API thread) fails, as its caller is
    gone; a job whose cancel was asked is cancelled.
    """
    values: dict[str, Any] = {"finished_at": utcnow()}
    if job.cancel_requested:
        status, values["error"] = JobStatus.CANCELLED, "cancelled on request"
    elif job.queued_at is None:
        status = JobStatus.FAILED
        values["error"] = "interrupted: the process running it stopped (a restart?); run it again"
    elif job.attempts + 1 >= MAX_ATTEMPTS:
        status, values["attempts"] = JobStatus.FAILED, job.attempts + 1
        values["error"] = (
            f"interrupted {MAX_ATTEMPTS} times; the worker running it stopped each time (killed, out of "
            "memory?): see the workers' logs, then start it again"
        )
    else:
        status, values = JobStatus.QUEUED, {"owner": "", "attempts": job.attempts + 1}
        values["error"] = (
            f"interrupted: the worker running it stopped; queued again ({job.attempts + 1} of "
            f"{MAX_ATTEMPTS - 1} retries)"
        )
    job_id, owner = job.id, job.owner
    recovered = _update(
        session,
        update(IngestJob)
        .where(IngestJob.id == job_id, IngestJob.status == JobStatus.RUNNING, IngestJob.owner == owner)
        .values(status=status, **values),
    )
    session.expire(job)
    if recovered:
        log.warning("ingest job %s: its process %s is gone; now %s", job_id, owner, status)
    return status if recovered else None


def _update(session: Session, statement: Update) -> int:
    """Run an UPDATE; the number of rows it changed."""
    result = session.execute(statement.execution_options(synchronize_session=False))
    return cast("CursorResult[Any]", result).rowcount


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
