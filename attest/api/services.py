"""What the API builds once per process: settings, database engine, models, the job runner
(a thread, or with ``ATTEST_JOB_RUNNER=worker`` the queue, which starts no thread)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from attest.answers import Answerer
from attest.core.models import KnowledgeBase
from attest.core.settings import Settings
from attest.ingest.jobs import JobRunner, recover_dead_jobs
from attest.ingest.pipeline import IngestPipeline
from attest.text.embedder import SentenceTransformerEmbedder

log = logging.getLogger(__name__)


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
            recovered = recover_dead_jobs(session)
        if recovered.ended:
            log.warning(
                "%d ingest job(s) were interrupted by a restart and are marked failed", recovered.ended
            )
        if recovered.requeued:
            log.warning("%d queued ingest job(s) lost their worker and are queued again", recovered.requeued)
        services = cls(settings, engine, answerer, pipeline, JobRunner(pipeline))
        services.warm_up()
        return services

    def warm_up(self) -> None:
        """Load every active index and run the models once, so the first question is not slow."""
        self.answerer.warm_up()
        with Session(self.engine) as session:
            names = list(
                session.scalars(select(KnowledgeBase.name).where(KnowledgeBase.active_index_id.is_not(None)))
            )
        for name in names:
            try:
                self.answerer.retrievers.get(name)
            except Exception as exc:  # an unreadable index is reported when it is asked, not at start-up
                log.warning("could not load the index of %s: %s", name, exc)
