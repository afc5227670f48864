"""The API with ATTEST_JOB_RUNNER=worker: it queues re-index jobs and runs none; ``attest
worker`` (a real process) runs them. Over SQLite, or PostgreSQL in scripts/test.sh's second pass."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from attest.core import db
from attest.core.accounts import create_user
from attest.core.settings import Settings
from tests.conftest import ON_POSTGRES, drop_postgres_database, new_postgres_database
from tests.live import PASSWORD, Server, attest, sign_in, start_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GARDEN = b"Rooftop garden\n\nThe rooftop garden opens at 7:30 on weekdays and closes at dusk.\n"


@pytest.fixture(scope="module")
def queue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``attest serve`` with ATTEST_JOB_RUNNER=worker and an admin; no knowledge base yet."""
    data_dir = tmp_path_factory.mktemp("worker-mode")
    url = new_postgres_database() if ON_POSTGRES else None
    database = Settings(data_dir=data_dir, database_url=url).sqlalchemy_url
    db.upgrade(database)
    engine = db.make_engine(database)
    with db.session_scope(engine) as session:
        create_user(session, username="admin", role="admin", password=PASSWORD)
    engine.dispose()
    server = start_server(data_dir, database_url=url, ATTEST_JOB_RUNNER="worker")
    try:
        server.tokens["admin"] = sign_in(server, "admin")
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
        if url:
            drop_postgres_database(url)


def _kb_with_upload(admin: httpx.Client, name: str) -> int:
    admin.post("/kbs", json={"name": name}).raise_for_status()
    uploaded = admin.post(f"/kbs/{name}/documents", files={"file": ("garden.txt", GARDEN, "text/plain")})
    uploaded.raise_for_status()
    return int(uploaded.json()["id"])


def test_the_api_queues_the_job_and_a_worker_runs_it(queue_server: Server) -> None:
    with queue_server.client("admin") as admin:
        doc_id = _kb_with_upload(admin, "garden")
        started = admin.post("/kbs/garden/jobs")
        assert started.status_code == 202, started.text
        job = started.json()
        assert job["status"] == "queued" and job["progress"] == 0.0 and job["eta_seconds"] is None, job
        assert job["started_at"] is None and job["queued_at"] is not None and job["attempts"] == 0, job
        second = admin.post("/kbs/garden/jobs")
        assert second.status_code == 409 and "queued" in second.json()["detail"], second.text
        # A document edit rebuilds the index in the API process: not while a job waits.
        assert admin.delete(f"/kbs/garden/documents/{doc_id}").status_code == 409
        time.sleep(1.0)
        assert admin.get(f"/kbs/garden/jobs/{job['id']}").json()["status"] == "queued"  # the API runs none

        worker = attest(queue_server.env, "worker", "--once")
        assert worker.returncode == 0, worker.stderr
        assert f"claimed job {job['id']} on garden" in worker.stderr, worker.stderr
        assert f"job {job['id']} succeeded" in worker.stderr, worker.stderr

        done = admin.get(f"/kbs/garden/jobs/{job['id']}").json()
        assert done["status"] == "succeeded" and done["progress"] == 1.0 and done["eta_seconds"] is None, done
        assert done["started_at"] is not None and done["finished_at"] is not None, done
        assert done["summary"]["documents_added"] == 1 and done["documents_done"] == 1, done
        version = done["summary"]["index_version"]
        assert admin.get("/kbs/garden").json()["index_version"] == version
        reply = admin.post("/ask", json={"kb": "garden", "question": "When does the rooftop garden open?"})
        assert reply.json()["index_version"] == version and "7:30" in reply.json()["answer"], reply.text


def test_a_cancelled_queued_job_ends_at_once_and_is_never_run(queue_server: Server) -> None:
    with queue_server.client("admin") as admin:
        _kb_with_upload(admin, "idle")
        job = admin.post("/kbs/idle/jobs").json()
        cancelled = admin.post(f"/kbs/idle/jobs/{job['id']}/cancel")
        assert cancelled.status_code == 202, cancelled.text
        assert cancelled.json()["status"] == "cancelled" and cancelled.json()["finished_at"] is not None
        assert admin.post(f"/kbs/idle/jobs/{job['id']}/cancel").status_code == 409  # already ended

        worker = attest(queue_server.env, "worker", "--once")
        assert worker.returncode == 0 and "claimed" not in worker.stderr, worker.stderr
        assert admin.get(f"/kbs/idle/jobs/{job['id']}").json()["status"] == "cancelled"
        assert admin.get("/kbs/idle").json()["index_version"] is None
