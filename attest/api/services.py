"""What the API builds once per process: settings, database engine, models, the job runner."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from attest.answers import Answerer
from attest.core.models import IngestJob, KnowledgeBase
from attest.core.settings import Settings
from attest.ingest.jobs import fail_dead_jobs
from attest.ingest.pipeline import IngestPipeline
from attest.text.embedder import SentenceTransformerEmbedder

log = logging.getLogger(__name__)


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


@dataclass
class Services:
    settings: Settings
    engine: Engine
    answerer: Answerer
    pipeline: IngestPipeline
    jobs: JobRunner
    ready: bool = field(default=False)

    @classmethod
    def build(cls, settings: Settings, engine: Engine) -> Services:
        answerer = Answerer(engine, settings)
        embedder = answerer.embedder
        assert isinstance(embedder, SentenceTransformerEmbedder)  # Answerer builds one when not given
        pipeline = IngestPipeline(settings, engine=engine, embedder=embedder)  # one model in memory
        with Session(engine) as session:
            failed = fail_dead_jobs(session)
            if failed:
                log.warning("%d ingest job(s) were interrupted by a restart and are marked failed", failed)
        services = cls(settings, engine, answerer, pipeline, JobRunner(pipeline))
        services.warm_up()
        return services

    def warm_up(self) -> None:
        """Load every active index and run the models once, so the first question is not slow."""
        self.answerer.embedder.embed(["warm up"])
        self.answerer.reader.logits("warm up?", ["warm up"])  # also checks the reader's hashes
        self.answerer.entities.warm_up()  # and the spaCy pipeline's
        with Session(self.engine) as session:
            names = list(
                session.scalars(select(KnowledgeBase.name).where(KnowledgeBase.active_index_id.is_not(None)))
            )
        for name in names:
            try:
                self.answerer.retrievers.get(name)
            except Exception as exc:  # an unreadable index is reported when it is asked, not at start-up
                log.warning("could not load the index of %s: %s", name, exc)

    def running_job(self, session: Session, kb_id: int) -> IngestJob | None:
        return session.scalar(
            select(IngestJob).where(IngestJob.kb_id == kb_id, IngestJob.status == "running").limit(1)
        )
