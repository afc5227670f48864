"""``attest worker``: runs the ingest and re-index jobs the API queues (``ATTEST_JOB_RUNNER=worker``).

Each of its threads loops: queue again the jobs of workers that died, claim the oldest
queued job (:func:`~attest.ingest.jobs.claim_queued`), run it with its own
:class:`~attest.ingest.pipeline.IngestPipeline`, and look again. The threads share one
embedding model. A heartbeat thread tells other hosts which jobs this process still runs.
Once stopped, the threads claim nothing more and the jobs they run get a grace period to
finish; a job left behind is queued again by the next worker, as one of a killed worker is.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from attest.core.db import write_gate
from attest.core.models import KnowledgeBase
from attest.core.settings import Settings
from attest.ingest.jobs import JobCancelled, claim_queued, heartbeat, recover_dead_jobs
from attest.ingest.pipeline import IngestPipeline, IngestSummary
from attest.text.embedder import SentenceTransformerEmbedder

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0  # a batch can take longer, so the heartbeat does not wait for one


class Heartbeat:
    """A thread that marks the jobs this process runs as alive every ``interval`` seconds."""

    def __init__(self, engine: Engine, interval: float = HEARTBEAT_S) -> None:
        self.engine = engine
        self.interval = interval
        self._jobs: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="attest-heartbeat", daemon=True)

    def add(self, job_id: int) -> None:
        with self._lock:
            self._jobs.add(job_id)

    def discard(self, job_id: int) -> None:
        with self._lock:
            self._jobs.discard(job_id)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                jobs = set(self._jobs)
            try:
                with write_gate(self.engine), Session(self.engine) as session:
                    heartbeat(session, jobs)
            except SQLAlchemyError as exc:  # the database is away for a moment: try again next time
                log.warning("heartbeat of jobs %s failed: %s", sorted(jobs), exc)


@dataclass(frozen=True)
class Claimed:
    """A job a worker thread claimed: what it needs to run it."""

    id: int
    kb: str
    sources: list[str]
    sync: bool
    attempts: int  # how often a worker running it was interrupted before


class Worker:
    """Claims queued jobs and runs ``concurrency`` of them at a time until :meth:`stop`, or,
    with ``once``, until no job is queued."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        concurrency: int = 1,
        poll_s: float = 2.0,
        once: bool = False,
        heartbeat_s: float = HEARTBEAT_S,
        embedder: SentenceTransformerEmbedder | None = None,
    ) -> None:
        """``embedder``: the model the threads share (default: the configured one, loaded by
        the first job that needs it)."""
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.engine = engine
        self.poll_s = poll_s
        self.once = once
        embedder = embedder or SentenceTransformerEmbedder(
            settings.embedding_model,
            batch_size=settings.embedding_batch_size,
            threads=settings.embedding_threads,
        )
        self._pipelines = [
            IngestPipeline(settings, engine=engine, embedder=embedder) for _ in range(concurrency)
        ]
        self._heartbeat = Heartbeat(engine, heartbeat_s)
        self._stopping = threading.Event()
        self._abandoning = threading.Event()
        self._running: set[int] = set()

    def run(self, grace_s: float = 60.0) -> bool:
        """Work until the queue is empty (``once``) or :meth:`stop`, then give the running jobs
        ``grace_s`` seconds, or until :meth:`abandon`, to finish. False if some did not: the
        next worker queues them again."""
        self._heartbeat.start()
        threads = [
            threading.Thread(target=self._loop, args=(pipeline,), name=f"attest-worker-{i}", daemon=True)
            for i, pipeline in enumerate(self._pipelines)
        ]
        for thread in threads:
            thread.start()
        deadline = float("inf")
        while alive := [t for t in threads if t.is_alive()]:
            if self._stopping.is_set() and deadline == float("inf"):
                deadline = time.monotonic() + grace_s
            if time.monotonic() > deadline or self._abandoning.is_set():
                log.warning(
                    "left jobs %s unfinished; the next worker queues them again", sorted(self._running)
                )
                return False
            alive[0].join(0.2)
        self._heartbeat.stop()
        return True

    def stop(self) -> None:
        """Claim no more jobs; the running ones go on (see :meth:`run`)."""
        if not self._stopping.is_set():
            self._stopping.set()
            log.info("stopping: no more claims; waiting for the %d running job(s)", len(self._running))

    def abandon(self) -> None:
        """Stop at once, leaving the running jobs to the next worker."""
        self.stop()
        self._abandoning.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _loop(self, pipeline: IngestPipeline) -> None:
        while not self._stopping.is_set():
            try:
                job = self._claim()
            except SQLAlchemyError as exc:  # the database is away: keep the worker, try again
                log.warning("could not claim a job: %s", exc)
                job = None
            except Exception:  # whatever it is, this thread goes on looking for jobs
                log.exception("could not claim a job")
                job = None
            if job is not None:
                self._run(pipeline, job)
            elif self.once:
                return
            else:
                self._stopping.wait(self.poll_s)

    def _claim(self) -> Claimed | None:
        with write_gate(self.engine), Session(self.engine) as session:
            recovered = recover_dead_jobs(session)
            if recovered.requeued or recovered.ended:
                log.warning(
                    "jobs of stopped processes: %d queued again, %d ended",
                    recovered.requeued,
                    recovered.ended,
                )
            job = claim_queued(session)
            if job is None:
                return None
            kb = session.get(KnowledgeBase, job.kb_id)
            name = kb.name if kb is not None else str(job.kb_id)
            return Claimed(job.id, name, list(job.sources), job.sync, job.attempts)

    def _run(self, pipeline: IngestPipeline, job: Claimed) -> None:
        """Run a claimed job and log how it ended (the job's row records it)."""
        self._running.add(job.id)
        self._heartbeat.add(job.id)
        again = f", after {job.attempts} interruption(s)" if job.attempts else ""
        log.info("claimed job %s on %s (%d source(s)%s)", job.id, job.kb, len(job.sources), again)
        try:
            summary = pipeline.execute(job.id, job.sources, sync=job.sync)
        except JobCancelled:
            log.info("job %s cancelled on request; the previous index stays active", job.id)
        except Exception as exc:  # recorded on the job by the pipeline
            log.error("job %s failed: %s", job.id, exc)
        else:
            log.info("job %s succeeded: %s", job.id, _described(summary))
        finally:
            self._heartbeat.discard(job.id)
            self._running.discard(job.id)


def _described(summary: IngestSummary) -> str:
    return (
        f"{summary.documents_added} added, {summary.documents_updated} updated, "
        f"{summary.documents_unchanged} unchanged, {summary.documents_deleted} deleted, "
        f"{summary.documents_failed} failed in {summary.seconds:.1f} s; index version {summary.index_version}"
    )
