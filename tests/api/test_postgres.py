"""The API over PostgreSQL with two worker processes: the paths that concurrency could break.

The same server as tests/live.py (demo knowledge base, an hr-only document, knowledge base
``b``, a user per role), but over the test PostgreSQL (scripts/test.sh starts it) and with
``attest serve --workers 2``, so requests land on either process.
"""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.api.test_leaks import QUESTION as SECRET_QUESTION
from tests.api.test_leaks import leaks
from tests.live import ROOT, Server, attest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.postgres]

GARDEN = "Rooftop garden\n\nThe B team's rooftop garden opens at 7:30 on weekdays.\n"
# Twelve different questions (each answered afresh, not from the answer cache), phrased as people
# would: a number pasted onto the question ("(3)") changes the reader's answer model.
GARDEN_QUESTIONS = [
    "When does the rooftop garden open?",
    "What time does the rooftop garden open?",
    "When does the B team's rooftop garden open?",
    "At what time does the rooftop garden open?",
    "What is the opening time of the rooftop garden?",
    "From what time is the rooftop garden open?",
    "When does the rooftop garden open on weekdays?",
    "What time does the B team's rooftop garden open?",
    "When is the rooftop garden open?",
    "When does the roof garden open?",
    "What time does the roof garden open?",
    "At what time does the B team's rooftop garden open?",
]


def ask(server: Server, who: str, kb: str, question: str) -> httpx.Response:
    """One question on a fresh connection, so that the two workers share the requests."""
    headers = {"Authorization": f"Bearer {server.tokens[who]}"}
    return httpx.post(
        f"{server.api}/ask", json={"kb": kb, "question": question}, headers=headers, timeout=120
    )


def wait_until_idle(admin: httpx.Client, kb: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while any(j["status"] == "running" for j in admin.get(f"/kbs/{kb}/jobs").json()["items"]):
        assert time.monotonic() < deadline, "a re-index job did not finish"
        time.sleep(0.5)


def test_concurrent_questions_keep_the_audit_chain_whole(pg_server: Server) -> None:
    questions = [f"How many days of annual leave do full-time employees get? ({i})" for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda q: ask(pg_server, "viewer_a", "demo", q), questions))
    assert [r.status_code for r in replies] == [200] * len(questions)
    verified = attest(pg_server.env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    with pg_server.client("admin") as admin:
        records = admin.get("/audit", params={"limit": 1000}).json()
    ids = sorted(r["id"] for r in records["items"])
    assert ids == list(range(1, len(ids) + 1)) and records["total"] == len(ids)  # gap-free


def test_one_reindex_per_knowledge_base_across_workers(pg_server: Server) -> None:
    headers = {"Authorization": f"Bearer {pg_server.tokens['admin']}"}

    def start(_: int) -> httpx.Response:
        return httpx.post(f"{pg_server.api}/kbs/b/jobs", headers=headers, timeout=60)

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(r.status_code for r in pool.map(start, range(4)))
    assert statuses.count(202) >= 1 and set(statuses) <= {202, 409}
    with pg_server.client("admin") as admin:
        wait_until_idle(admin, "b")
        jobs = sorted(admin.get("/kbs/b/jobs").json()["items"], key=lambda j: j["started_at"])
    for earlier, later in zip(jobs, jobs[1:], strict=False):  # never two at once
        assert earlier["finished_at"] <= later["started_at"], (earlier, later)


def test_a_new_index_version_reaches_every_worker(pg_server: Server) -> None:
    with pg_server.client("admin") as admin:
        wait_until_idle(admin, "b")  # the previous test's job may still run
        before = ask(pg_server, "admin", "b", "When does the rooftop garden open?").json()["index_version"]
        files = {"file": ("garden.txt", GARDEN.encode(), "text/plain")}
        admin.post("/kbs/b/documents", files=files).raise_for_status()
        job = admin.post("/kbs/b/jobs").json()
        while job["status"] == "running":
            time.sleep(0.5)
            job = admin.get(f"/kbs/b/jobs/{job['id']}").json()
    assert job["status"] == "succeeded", job
    replies = [ask(pg_server, "admin", "b", question).json() for question in GARDEN_QUESTIONS]
    assert {r["index_version"] for r in replies} == {job["summary"]["index_version"]} != {before}
    assert all("7:30" in r["answer"] for r in replies), [r["answer"] for r in replies]


def test_no_leak_and_admin_views_on_postgres(pg_server: Server) -> None:
    reply = ask(pg_server, "viewer_a", "demo", SECRET_QUESTION)
    assert reply.status_code == 200 and leaks(reply.text.replace(SECRET_QUESTION, "")) == []
    assert "142,000" in ask(pg_server, "admin", "demo", SECRET_QUESTION).json()["answer"]  # the test can fail
    with pg_server.client("admin") as admin:
        dashboard = admin.get("/dashboard", params={"kb": "demo"}).json()
        verified = admin.get("/audit", params={"outcome": "supported", "kb": "demo"})
    assert dashboard["questions"] >= 1
    assert verified.status_code == 200 and all(r["details"]["answered"] for r in verified.json()["items"])


def test_the_api_survives_a_database_restart(pg_server: Server) -> None:
    """Runs last in this module: it stops the test PostgreSQL for a moment."""
    question = "How many days of annual leave do full-time employees get?"
    assert ask(pg_server, "viewer_a", "demo", question).status_code == 200
    script = str(ROOT / "scripts" / "postgres.sh")
    subprocess.run([script, "halt"], check=True)
    try:
        down = ask(pg_server, "viewer_a", "demo", question)
        assert down.status_code == 503, down.text
        assert "database is unavailable" in down.json()["detail"] and down.headers["retry-after"] == "5"
        assert httpx.get(f"{pg_server.url}/readyz").status_code == 503
    finally:
        subprocess.run([script, "resume"], check=True)
    assert ask(pg_server, "viewer_a", "demo", question).status_code == 200  # no API restart
    assert httpx.get(f"{pg_server.url}/readyz").status_code == 200 and pg_server.process.poll() is None
