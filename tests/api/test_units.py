"""Pieces of the API that need no server: the rate limiter, job cancellation, restart recovery."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from attest.api.deps import RateLimiter
from attest.core.models import IngestJob, JobStatus
from attest.core.settings import Settings
from attest.ingest.jobs import Recovered, recover_dead_jobs
from attest.ingest.pipeline import IngestPipeline, JobCancelled
from attest.text.embedder import SentenceTransformerEmbedder


@pytest.mark.unit
def test_rate_limiter_refuses_past_the_limit_and_says_how_long() -> None:
    limiter = RateLimiter(per_minute=3)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("a")
    assert 0 < wait <= 20.01
    assert limiter.take("b") == 0.0  # per caller
    assert RateLimiter(per_minute=0).take("a") == 0.0  # 0: no limit


@pytest.mark.integration
def test_a_cancelled_job_activates_nothing(
    settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alpha policy. Staff get a green badge on day one.")
    pipeline = IngestPipeline(settings, engine=engine, embedder=embedder)
    first = pipeline.run("kb", [docs])
    (docs / "b.txt").write_text("Beta policy. Visitors get a blue badge at reception.")
    job_id = pipeline.start("kb", [docs])
    with Session(engine) as session:
        session.get(IngestJob, job_id).cancel_requested = True
        session.commit()
    with pytest.raises(JobCancelled):
        pipeline.execute(job_id, [docs])
    with Session(engine) as session:
        job = session.get(IngestJob, job_id)
        assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    again = pipeline.run("kb", [docs])  # the next run completes the work
    assert again.index_version == first.index_version + 1 and again.documents_added == 1


@pytest.mark.integration
def test_jobs_of_a_dead_process_are_failed_at_start_up(engine: Engine) -> None:
    from attest.core.repository import create_kb

    with Session(engine) as session:
        kb = create_kb(session, name="kb")
        session.add(
            IngestJob(kb_id=kb.id, status=JobStatus.RUNNING, owner=f"{_host()}:999999999", sources=[])
        )
        session.commit()
        assert recover_dead_jobs(session) == Recovered(requeued=0, ended=1)
        job = session.scalars(select(IngestJob)).one()
        assert job.status == JobStatus.FAILED and "restart" in (job.error or "")


def _host() -> str:
    import socket

    return socket.gethostname()
