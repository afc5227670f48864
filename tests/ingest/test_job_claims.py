"""Claiming an ingest job: of several claims on one knowledge base at the same moment, one wins.

Runs on SQLite, and on PostgreSQL in scripts/test.sh's second pass (the ``engine`` fixture).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from attest.core.errors import Conflict
from attest.core.models import IngestJob, JobStatus, KnowledgeBase
from attest.core.repository import get_or_create_kb
from attest.ingest.jobs import claim_job, finish_job

pytestmark = pytest.mark.integration

CLAIMANTS = 6


def test_simultaneous_claims_start_exactly_one_job(engine: Engine) -> None:
    with Session(engine) as session:
        kb_id = get_or_create_kb(session, name="kb")[0].id
        session.commit()
    barrier = threading.Barrier(CLAIMANTS)

    def claim(_: int) -> int | None:
        with Session(engine, expire_on_commit=False) as session:
            kb = session.get(KnowledgeBase, kb_id)
            assert kb is not None
            barrier.wait()  # all claims leave together
            try:
                return claim_job(session, kb, [], False).id
            except Conflict:
                return None

    for _ in range(5):
        with ThreadPoolExecutor(CLAIMANTS) as pool:
            won = [job for job in pool.map(claim, range(CLAIMANTS)) if job is not None]
        assert len(won) == 1, f"{len(won)} jobs started at once"
        with Session(engine) as session:
            job = session.get(IngestJob, won[0])
            assert job is not None
            finish_job(session, job, JobStatus.SUCCEEDED, {})
