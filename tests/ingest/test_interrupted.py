"""A job killed with SIGKILL mid-way leaves the previous index version active and whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from attest.core.models import IngestJob, JobStatus
from attest.core.repository import get_kb
from attest.core.settings import Settings
from attest.ingest.pipeline import IngestPipeline
from attest.retrieval.index_store import active_snapshot
from attest.text.embedder import SentenceTransformerEmbedder
from tests.conftest import write_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORDS = [
    "policy", "leave", "travel", "laptop", "security",
    "budget", "review", "contractor", "onboarding", "expense",
]  # fmt: skip


def _write_many(folder: Path, count: int) -> None:
    for i in range(count):
        body = " ".join(f"{WORDS[(i * 7 + j) % len(WORDS)]}{j % 13}" for j in range(600))
        (folder / f"extra-{i:03d}.txt").write_text(f"Extra document {i}.\n\n{body}.\n")


def _running_job(engine: Engine) -> IngestJob | None:
    with Session(engine) as session:
        return session.scalars(
            select(IngestJob).where(IngestJob.status == JobStatus.RUNNING, IngestJob.documents_done > 0)
        ).first()


def test_sigkill_mid_job(
    settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs)
    pipeline = IngestPipeline(settings, engine=engine, embedder=embedder)
    pipeline.run("kb", [docs])
    with Session(engine) as session:
        before = active_snapshot(session, get_kb(session, name="kb"))

    _write_many(docs, 40)
    env = {
        **os.environ,
        "ATTEST_DATA_DIR": str(settings.data_dir),
        "ATTEST_CHUNK_TOKENS": str(settings.chunk_tokens),
        "ATTEST_CHUNK_OVERLAP": str(settings.chunk_overlap),
        "ATTEST_CHUNK_BOUNDARY_SLACK": str(settings.chunk_boundary_slack),
        "ATTEST_INGEST_BATCH_DOCUMENTS": "4",
        "DATABASE_URL": settings.sqlalchemy_url,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "attest", "ingest", "--kb", "kb", str(docs)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while _running_job(engine) is None:
        assert proc.poll() is None, "the job finished before it could be killed"
        assert time.monotonic() < deadline, "the job never reported progress"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    with Session(engine) as session:
        after = active_snapshot(session, get_kb(session, name="kb"))
    assert after.version == before.version
    assert list(after.chunks) == list(before.chunks) and after.embeddings.shape == before.embeddings.shape

    rerun = pipeline.run("kb", [docs])
    assert rerun.index_version == before.version + 1
    with Session(engine) as session:
        killed = session.scalars(select(IngestJob).order_by(IngestJob.id)).all()[1]
        assert killed.status == JobStatus.FAILED and "interrupted" in (killed.error or "")
        final = active_snapshot(session, get_kb(session, name="kb"))
    assert len({c.document_id for c in final.chunks}) == 43
