"""Following a job: its progress, its ETA, what a caller who may not read every document sees,
and cancelling."""

from __future__ import annotations

from datetime import timedelta

import pytest

from attest.core.errors import Conflict
from attest.core.models import IngestJob, JobStatus, utcnow
from attest.ingest.jobs import COUNTS, eta_seconds, progress, redacted_summary, request_cancel

pytestmark = pytest.mark.unit


def _job(status: JobStatus, total: int, done: int, seconds_ago: float = 0.0) -> IngestJob:
    return IngestJob(
        id=7,
        status=status,
        documents_total=total,
        documents_done=done,
        started_at=utcnow() - timedelta(seconds=seconds_ago),
        cancel_requested=False,
    )


def test_progress_is_the_fraction_read_and_one_once_succeeded() -> None:
    assert progress(_job(JobStatus.RUNNING, 3, 1)) == 0.3333
    assert progress(_job(JobStatus.RUNNING, 0, 0)) == 0.0  # the files are not counted yet
    assert progress(_job(JobStatus.SUCCEEDED, 0, 0)) == 1.0
    assert progress(_job(JobStatus.FAILED, 4, 2)) == 0.5


def test_eta_extrapolates_the_rate_so_far_while_running() -> None:
    eta = eta_seconds(_job(JobStatus.RUNNING, 10, 2, seconds_ago=20))
    assert eta is not None and 79.0 <= eta <= 81.0  # 10 s a file, 8 files left
    assert eta_seconds(_job(JobStatus.RUNNING, 10, 0, seconds_ago=20)) is None  # no rate yet
    assert eta_seconds(_job(JobStatus.RUNNING, 10, 10, seconds_ago=20)) is None
    assert eta_seconds(_job(JobStatus.CANCELLED, 10, 2, seconds_ago=20)) is None


def test_a_redacted_summary_has_no_counts_and_no_hidden_errors() -> None:
    summary = {
        **dict.fromkeys(COUNTS, 1),
        "index_version": 3,
        "errors": [{"source": "/docs/secret.md", "error": "x"}, {"source": "/docs/open.md", "error": "y"}],
    }
    shown = redacted_summary(summary, {"/docs/secret.md"})
    assert shown == {"index_version": 3, "errors": [{"source": "/docs/open.md", "error": "y"}]}


def test_only_a_running_job_can_be_cancelled() -> None:
    running = _job(JobStatus.RUNNING, 1, 0)
    request_cancel(running)
    assert running.cancel_requested
    with pytest.raises(Conflict, match="Job 7 is already succeeded"):
        request_cancel(_job(JobStatus.SUCCEEDED, 1, 1))
