"""Queued jobs and ``attest worker``: claims, cancelling, and a worker killed mid-job.

On SQLite, and on PostgreSQL in scripts/test.sh's second pass (the ``engine`` fixture); the
claim race also runs on PostgreSQL in the first pass.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from attest.core import db
from attest.core.errors import Conflict
from attest.core.models import IngestJob, JobStatus, KnowledgeBase
from attest.core.repository import get_kb, get_or_create_kb
from attest.core.settings import Settings
from attest.ingest.jobs import (
    MAX_ATTEMPTS,
    cancel_job,
    claim_job,
    claim_queued,
    enqueue_job,
    finish_job,
    recover_dead_jobs,
)
from attest.ingest.pipeline import IngestPipeline
from attest.ingest.worker import Worker
from attest.retrieval.index_store import active_snapshot
from attest.text.embedder import SentenceTransformerEmbedder
from tests.conftest import write_corpus
from tests.ingest.test_interrupted import _write_many

pytestmark = pytest.mark.integration

CLAIMANTS = 6
DEAD = f"{socket.gethostname()}:999999999"  # this host, a process id no process has


def _kbs(engine: Engine, *names: str) -> list[KnowledgeBase]:
    with Session(engine, expire_on_commit=False) as session:
        rows = [get_or_create_kb(session, name=name)[0] for name in names]
        session.commit()
        return rows


def _job(engine: Engine, job_id: int) -> IngestJob:
    with Session(engine, expire_on_commit=False) as session:
        job = session.get(IngestJob, job_id)
        assert job is not None
        return job


def _race(engine: Engine) -> None:
    """Several claimers at once: each queued job goes to exactly one of them."""
    kbs = _kbs(engine, "a", "b")
    barrier = threading.Barrier(CLAIMANTS)

    def claim(_: int) -> int | None:
        with Session(engine) as session:
            barrier.wait()  # all claims leave together
            job = claim_queued(session)
            return None if job is None else job.id

    for _ in range(4):
        for kb in kbs:
            with Session(engine) as session:
                enqueue_job(session, kb, [], False)
        with ThreadPoolExecutor(CLAIMANTS) as pool:
            won = [job for job in pool.map(claim, range(CLAIMANTS)) if job is not None]
        assert len(won) == len(set(won)) == len(kbs), f"claims: {won}"
        with Session(engine) as session:
            for job_id in won:
                job = session.get(IngestJob, job_id)
                assert job is not None and job.status == JobStatus.RUNNING
                finish_job(session, job, JobStatus.SUCCEEDED, {})


def test_racing_claimers_each_take_a_different_queued_job(engine: Engine) -> None:
    _race(engine)


@pytest.mark.postgres
def test_racing_claimers_on_postgres(postgres_url: str) -> None:
    db.upgrade(postgres_url)
    engine = db.make_engine(postgres_url)
    try:
        _race(engine)
    finally:
        engine.dispose()


def test_one_live_job_per_knowledge_base_queued_or_running(engine: Engine) -> None:
    (kb,) = _kbs(engine, "kb")
    with Session(engine) as session:
        queued = enqueue_job(session, kb, [], False)
        with pytest.raises(Conflict, match=f"job {queued.id} is queued"):
            enqueue_job(session, kb, [], False)
        with pytest.raises(Conflict, match="queued"):
            claim_job(session, kb, [], False)  # `attest ingest` and the API's document edits
        running = claim_queued(session)
        assert running is not None and running.id == queued.id
        with pytest.raises(Conflict, match="still running"):
            enqueue_job(session, kb, [], False)


def test_cancelling_a_queued_job_ends_it_at_once_and_no_worker_runs_it(engine: Engine) -> None:
    (kb,) = _kbs(engine, "kb")
    with Session(engine) as session:
        job = enqueue_job(session, kb, [], False)
        cancel_job(session, job)
        session.commit()
        assert claim_queued(session) is None
        cancelled = _job(engine, job.id)
    assert cancelled.status == JobStatus.CANCELLED and cancelled.finished_at is not None
    assert cancelled.cancel_requested and cancelled.owner == ""
    with Session(engine) as session:  # a running one is asked to stop, as before
        job = enqueue_job(session, kb, [], False)
        assert claim_queued(session) is not None
        session.refresh(job)
        cancel_job(session, job)
        session.commit()
        running = _job(engine, job.id)
    assert running.status == JobStatus.RUNNING and running.cancel_requested


def _kill(engine: Engine, job_id: int) -> None:
    """Make the job's worker a process that no longer exists."""
    with Session(engine) as session:
        job = session.get(IngestJob, job_id)
        assert job is not None and job.status == JobStatus.RUNNING
        job.owner = DEAD
        session.commit()


def test_a_job_interrupted_three_times_fails_and_says_so(engine: Engine) -> None:
    (kb,) = _kbs(engine, "kb")
    with Session(engine) as session:
        job_id = enqueue_job(session, kb, [], False).id
    for attempt in range(1, MAX_ATTEMPTS):
        with Session(engine) as session:
            assert claim_queued(session) is not None
        _kill(engine, job_id)
        with Session(engine) as session:
            assert recover_dead_jobs(session).requeued == 1
        job = _job(engine, job_id)
        assert (job.status, job.attempts, job.owner) == (JobStatus.QUEUED, attempt, "")
    with Session(engine) as session:
        assert claim_queued(session) is not None
    _kill(engine, job_id)
    with Session(engine) as session:
        assert recover_dead_jobs(session).ended == 1
    job = _job(engine, job_id)
    assert job.status == JobStatus.FAILED and job.attempts == MAX_ATTEMPTS
    assert (job.error or "").startswith(f"interrupted {MAX_ATTEMPTS} times;"), job.error


def test_a_claim_requeues_a_dead_workers_job_but_fails_a_dead_ingest(engine: Engine) -> None:
    """`attest ingest` (and the API's start-up) agree with the workers: a queued job whose
    worker died goes back to the queue, and the claim waits for it; a job started by a
    process that died (no one to run it again) fails, and the claim goes ahead."""
    queued_kb, direct_kb = _kbs(engine, "queued", "direct")
    with Session(engine, expire_on_commit=False) as session:
        queued = enqueue_job(session, queued_kb, [], False).id
        assert claim_queued(session) is not None
        direct = claim_job(session, direct_kb, [], False).id
    _kill(engine, queued)
    _kill(engine, direct)
    with Session(engine) as session, pytest.raises(Conflict, match="queued"):
        claim_job(session, queued_kb, [], False)
    assert (_job(engine, queued).status, _job(engine, queued).attempts) == (JobStatus.QUEUED, 1)
    with Session(engine) as session:
        claim_job(session, direct_kb, [], False)
    assert _job(engine, direct).status == JobStatus.FAILED


def _worker_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "ATTEST_DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.sqlalchemy_url,
        "ATTEST_CHUNK_TOKENS": str(settings.chunk_tokens),
        "ATTEST_CHUNK_OVERLAP": str(settings.chunk_overlap),
        "ATTEST_CHUNK_BOUNDARY_SLACK": str(settings.chunk_boundary_slack),
        "ATTEST_INGEST_BATCH_DOCUMENTS": "4",  # progress after every 4 files: the signal lands mid-job
        "ATTEST_JOB_RUNNER": "worker",
    }


@pytest.fixture
def killed_worker(
    settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> Iterator[tuple[int, int]]:
    """A knowledge base with an active index, and a re-index job whose worker was killed
    with SIGKILL after it had stored some documents: (the job, the version active before)."""
    docs = tmp_path / "docs"
    write_corpus(docs)
    pipeline = IngestPipeline(settings, engine=engine, embedder=embedder)
    before = pipeline.run("kb", [docs]).index_version
    assert before is not None
    _write_many(docs, 40)
    job_id = pipeline.start("kb", [docs], create=False, queue=True)
    command = [sys.executable, "-m", "attest", "worker", "--poll", "0.2"]
    proc = subprocess.Popen(
        command, env=_worker_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while (job := _job(engine, job_id)).documents_done == 0 or job.status != JobStatus.RUNNING:
            assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
            assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING), job.status
            assert time.monotonic() < deadline, "the worker never reported progress"
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        yield job_id, before
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.mark.slow
def test_a_worker_killed_mid_job_leaves_it_to_the_next_one(
    settings: Settings,
    engine: Engine,
    embedder: SentenceTransformerEmbedder,
    killed_worker: tuple[int, int],
) -> None:
    job_id, before = killed_worker
    killed = _job(engine, job_id)
    assert killed.status == JobStatus.RUNNING and 0 < killed.documents_done < killed.documents_total
    with Session(engine) as session:
        active = active_snapshot(session, get_kb(session, name="kb"))
        assert active.version == before and len({c.document_id for c in active.chunks}) == 3  # whole

    # The next worker (here in this process, with the model already loaded) queues it again and runs it.
    assert Worker(settings, engine, once=True, embedder=embedder).run()
    job = _job(engine, job_id)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 1, job.error
    assert job.summary["index_version"] == before + 1 and job.summary["documents_failed"] == 0
    assert job.documents_done == job.documents_total == 43
    with Session(engine) as session:
        final = active_snapshot(session, get_kb(session, name="kb"))
        assert final.version == before + 1 and len({c.document_id for c in final.chunks}) == 43
        assert session.scalars(select(IngestJob.status).where(IngestJob.id != job_id)).all() == [
            JobStatus.SUCCEEDED
        ]


@pytest.mark.slow
def test_sigterm_lets_the_running_job_finish_and_claims_no_more(
    settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    many, few = tmp_path / "many", tmp_path / "few"
    many.mkdir()
    _write_many(many, 16)
    write_corpus(few)
    pipeline = IngestPipeline(settings, engine=engine, embedder=embedder)
    first = pipeline.start("many", [many], queue=True)
    second = pipeline.start("few", [few], queue=True)
    command = [sys.executable, "-m", "attest", "worker", "--poll", "0.2", "--grace", "300"]  # a slow machine
    env = _worker_env(settings)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while _job(engine, first).documents_done == 0:
            assert proc.poll() is None and time.monotonic() < deadline, "the worker never reported progress"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "stopping" in stderr and f"job {first} succeeded" in stderr, stderr
    assert _job(engine, first).status == JobStatus.SUCCEEDED
    assert _job(engine, second).status == JobStatus.QUEUED  # left for the next worker


def test_threads_of_one_worker_share_the_model_and_run_jobs_side_by_side(
    settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    pipeline = IngestPipeline(settings, engine=engine, embedder=embedder)
    jobs = {}
    for name in ("one", "two", "three"):
        write_corpus(tmp_path / name)
        jobs[name] = pipeline.start(name, [tmp_path / name], queue=True)
    assert Worker(settings, engine, concurrency=2, once=True, embedder=embedder).run()
    for name, job_id in jobs.items():
        job = _job(engine, job_id)
        assert job.status == JobStatus.SUCCEEDED and job.summary["documents_added"] == 3, (name, job.error)
        with Session(engine) as session:
            assert (
                active_snapshot(session, get_kb(session, name=name)).version == job.summary["index_version"]
            )
