"""The scale-out shape, for real on this machine: the index in Milvus, jobs run by workers.

``milvus-lite server`` on a loopback port stands in for a Milvus cluster (the same client
API; a cluster cannot run here). Two API worker processes and two ``attest worker``
processes share PostgreSQL and that Milvus: documents are uploaded, queued jobs are claimed
by the workers, questions are answered while a re-index runs, and none of it fails a
request. Then Milvus stops, and questions get a 503 that names it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.live import DEMO, PASSWORD, Server, attest, free_port, sign_in, start_server

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.postgres]

FIRST = ["annual_leave_and_holidays.txt", "remote_work.md", "sick_leave.txt", "expenses_and_travel.html"]
GARDEN = "Rooftop garden\n\nThe rooftop garden opens at 7:30 on weekdays.\n"
QUESTIONS = [
    "How many days of annual leave do I get?",
    "Can I work from abroad?",
    "When do I need a doctor's note?",
    "What is the daily meal allowance?",
]


@pytest.fixture
def milvus(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``milvus-lite server`` on a free loopback port; yields its URI and process."""
    port = free_port()
    log = open(tmp_path / "milvus.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "milvus_lite",
            "server",
            "--data-dir",
            str(tmp_path / "milvus"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=log,
    )
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, (tmp_path / "milvus.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "milvus-lite server did not listen in 60 s"
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}", process
    process.kill()
    process.wait()
    log.close()


@pytest.fixture
def stack(
    tmp_path: Path, postgres_url: str, milvus: tuple[str, subprocess.Popen[bytes]]
) -> Iterator[tuple[Server, list[subprocess.Popen[bytes]]]]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = {
        "ATTEST_INDEX_BACKEND": "milvus",
        "ATTEST_MILVUS_URI": milvus[0],
        "ATTEST_MILVUS_TIMEOUT": "5",
        "ATTEST_JOB_RUNNER": "worker",
    }
    env = {**os.environ, "ATTEST_DATA_DIR": str(data_dir), "DATABASE_URL": postgres_url, **settings}
    done = attest(env, "users", "create", "--username", "admin", "--role", "admin", "--password", PASSWORD)
    assert done.returncode == 0, done.stderr
    server = start_server(data_dir, workers=2, database_url=postgres_url, **settings)
    workers = []
    for n in range(2):
        log = open(data_dir / f"worker{n}.log", "wb")  # noqa: SIM115 - closed with the process
        command = [sys.executable, "-m", "attest", "worker", "--poll", "0.3"]
        workers.append(subprocess.Popen(command, env=server.env, stdout=log, stderr=log))
    try:
        server.tokens["admin"] = sign_in(server, "admin")
        yield server, workers
    finally:
        for process in [*workers, server.process]:
            process.terminate()
        for process in [*workers, server.process]:
            process.wait(timeout=90)


def ask(server: Server, question: str) -> httpx.Response:
    """On a fresh connection each time, so the two API workers share the questions."""
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    return httpx.post(
        f"{server.api}/ask", json={"kb": "demo", "question": question}, headers=headers, timeout=120
    )


def run_job(admin: httpx.Client) -> dict[str, object]:
    """Start a re-index, check the API queued it, and wait for a worker to finish it."""
    reply = admin.post("/kbs/demo/jobs")
    assert reply.status_code == 202, reply.text
    job = reply.json()
    assert job["status"] == "queued", job
    deadline = time.monotonic() + 300
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
        job = admin.get(f"/kbs/demo/jobs/{job['id']}").json()
    return job


def test_two_api_workers_and_two_ingest_workers_on_postgres_and_milvus(
    stack: tuple[Server, list[subprocess.Popen[bytes]]],
    milvus: tuple[str, subprocess.Popen[bytes]],
    postgres_url: str,
) -> None:
    server, workers = stack
    with server.client("admin") as admin:
        admin.post("/kbs", json={"name": "demo"}).raise_for_status()
        for name in FIRST:
            reply = admin.post("/kbs/demo/documents", files={"file": (name, (DEMO / name).read_bytes())})
            assert reply.status_code == 201, reply.text
        job = run_job(admin)
        assert job["status"] == "succeeded", job
        first_version = job["summary"]["index_version"]  # type: ignore[index]

        answers = [ask(server, q) for q in QUESTIONS]
        assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
        assert {r.json()["index_backend"] for r in answers} == {"milvus"}
        assert {r.json()["index_version"] for r in answers} == {first_version}
        assert sum(r.json()["answered"] for r in answers) >= 3, [r.json()["answer"] for r in answers]

        # A re-index while two clients keep asking: no request fails.
        failures: list[str] = []
        stop = threading.Event()

        def keep_asking(offset: int) -> None:
            n = offset
            while not stop.is_set():
                reply = ask(server, f"{QUESTIONS[n % len(QUESTIONS)]} ({n})")  # not from the cache
                if reply.status_code != 200:
                    failures.append(f"{reply.status_code}: {reply.text}")
                n += 1

        askers = [threading.Thread(target=keep_asking, args=(i,)) for i in range(2)]
        for thread in askers:
            thread.start()
        try:
            files = {"file": ("rooftop_garden.txt", GARDEN.encode(), "text/plain")}
            admin.post("/kbs/demo/documents", files=files).raise_for_status()
            second = run_job(admin)
        finally:
            stop.set()
            for thread in askers:
                thread.join()
        assert second["status"] == "succeeded", second
        assert not failures, failures[:3]
    # Both jobs ran in a worker process, not in the API.
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        owners = connection.scalars(text("SELECT owner FROM ingest_jobs")).all()
    engine.dispose()
    pids = {str(p.pid) for p in workers}
    assert len(owners) == 2 and all(o.rpartition(":")[2] in pids for o in owners), (owners, pids)

    reply = ask(server, "When does the rooftop garden open?").json()
    assert reply["index_version"] == second["summary"]["index_version"]  # type: ignore[index]
    assert "7:30" in reply["answer"], reply["answer"]

    # Milvus stops: a clear 503 naming it, never a 500 or a traceback.
    milvus[1].kill()
    milvus[1].wait()
    reply = ask(server, "What is the daily meal allowance? (again)")
    assert reply.status_code == 503, reply.text
    assert "Milvus index at http://127.0.0.1" in reply.json()["detail"] and "Traceback" not in reply.text
