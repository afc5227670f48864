"""Admin and editor work through the live API: upload, re-index, ask; bad input; audit; metrics."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.live import Server, attest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NEW_DOC = (
    "Bicycle allowance. Employees who cycle to work receive a bicycle allowance of 31 euros per month, "
    "paid with the salary. Claim it once a year in the HR portal."
)


def wait_for(client: httpx.Client, kb: str, job_id: int, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/kbs/{kb}/jobs/{job_id}").json()
        if job["status"] != "running":
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still running after {timeout} s")


def test_upload_reindex_then_answer(server: Server) -> None:
    with server.client("editor_a") as editor:
        files = {"file": ("bicycle.txt", NEW_DOC.encode(), "text/plain")}
        uploaded = editor.post("/kbs/demo/documents", files=files, data={"tags": "benefits"})
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["status"] == "pending"
        started = editor.post("/kbs/demo/jobs")
        assert started.status_code == 202, started.text
        job = wait_for(editor, "demo", started.json()["id"])
        assert job["status"] == "succeeded" and job["progress"] == 1.0, job
        # demo holds a document editor_a may not read, so its counts are the admin's to see.
        assert job["documents_total"] is None and "documents_added" not in job["summary"], job
        with server.client("admin") as admin:
            counted = admin.get(f"/kbs/demo/jobs/{job['id']}").json()
        assert counted["documents_done"] == counted["documents_total"] > 0, counted
        assert counted["summary"]["documents_added"] == 1
        reply = editor.post(
            "/ask", json={"kb": "demo", "question": "How much is the bicycle allowance per month?"}
        )
        assert "31 euros" in reply.json()["answer"]
        doc_id = uploaded.json()["id"]
        assert editor.get(f"/kbs/demo/documents/{doc_id}").json()["text"].startswith("Bicycle allowance")
        deleted = editor.delete(f"/kbs/demo/documents/{doc_id}")
        assert deleted.status_code == 200, deleted.text
        again = editor.post(
            "/ask", json={"kb": "demo", "question": "How much is the bicycle allowance per month?"}
        )
        assert "31 euros" not in again.text  # gone from the index when the delete returned


@pytest.mark.parametrize(
    ("name", "content", "status", "words"),
    [
        ("broken.pdf", b"%PDF-1.7\n this is not really a pdf", 422, "broken.pdf"),
        ("tool.exe", b"MZ\x90\x00" + bytes(range(256)) * 4, 415, "unsupported file type"),
        ("empty.txt", b"", 422, "empty"),
        ("huge.txt", b"a" * 2_100_000, 413, "limit"),
    ],
)
def test_bad_uploads_are_refused_by_name(
    server: Server, name: str, content: bytes, status: int, words: str
) -> None:
    with server.client("editor_a") as editor:
        before = editor.get("/kbs/demo/documents").json()["total"]
        reply = editor.post(
            "/kbs/demo/documents", files={"file": (name, content, "application/octet-stream")}
        )
        assert reply.status_code == status, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
        assert words in reply.json()["detail"]
        assert editor.get("/kbs/demo/documents").json()["total"] == before


def test_malformed_requests_name_the_field(server: Server) -> None:
    with server.client("viewer_a") as viewer:
        reply = viewer.post("/ask", json={"kb": "demo", "question": ""})
        assert reply.status_code == 422 and "question" in reply.json()["detail"]
        reply = viewer.post("/ask", content=b"{not json", headers={"content-type": "application/json"})
        assert reply.status_code == 422
        reply = viewer.post("/ask", json={"kb": "demo", "question": "x" * 10, "extra": 1})
        assert reply.status_code == 422 and "extra" in reply.json()["detail"]
        reply = viewer.post(
            "/ask", content=b"{" + b" " * 2_000_000 + b"}", headers={"content-type": "application/json"}
        )
        assert reply.status_code == 413


def test_cancel_a_finished_job_is_a_conflict(server: Server) -> None:
    with server.client("editor_a") as editor:
        jobs = editor.get("/kbs/demo/jobs").json()["items"]
        finished = next(j for j in jobs if j["status"] != "running")
        assert editor.post(f"/kbs/demo/jobs/{finished['id']}/cancel").status_code == 409


def test_feedback_on_own_answers_only(server: Server) -> None:
    with server.client("viewer_a") as viewer:
        answer = viewer.post("/ask", json={"kb": "demo", "question": "How many sick days are paid?"}).json()
        ok = viewer.post(
            "/feedback", json={"message_id": answer["message_id"], "rating": 1, "comment": "clear"}
        )
        assert ok.status_code == 201
    with server.client("viewer_b") as other:
        assert (
            other.post("/feedback", json={"message_id": answer["message_id"], "rating": -1}).status_code
            == 404
        )


def test_audit_records_questions_admin_actions_and_denials(server: Server) -> None:
    with server.client("viewer_a") as viewer:
        viewer.post(
            "/ask",
            json={
                "kb": "demo",
                "question": "How many days of annual leave do full-time employees get? Mail ann@example.com",
            },
        )
        viewer.get("/users")  # denied
    with server.client("admin") as admin:
        asks = admin.get("/audit", params={"action": "ask", "actor": "user:viewer_a", "limit": 1}).json()[
            "items"
        ]
        record = asks[0]["details"]
        assert "ann@example.com" not in record["question"] and "[email]" in record["question"]
        assert record["retrieved"] and {"chunk_id", "score"} <= set(record["retrieved"][0])
        assert record["model"] and record["verdict"] is not None and record["latency_ms"] > 0
        denied = admin.get("/audit", params={"action": "denied", "actor": "user:viewer_a"}).json()
        assert any(r["details"]["path"] == "/api/v1/users" for r in denied["items"])
        assert all(r["outcome"] is None for r in denied["items"])  # not a question
        assert admin.get("/audit", params={"action": "grant.create"}).json()["total"] >= 3
        csv = admin.get("/audit", params={"format": "csv", "limit": 5})
        assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("id,at,actor")


def test_audit_record_shows_the_chunks_its_question_retrieved(server: Server) -> None:
    with server.client("viewer_a") as viewer:
        answer = viewer.post("/ask", json={"kb": "demo", "question": "Who may bring visitors to the office?"})
        assert answer.status_code == 200
    with server.client("admin") as admin:
        latest = admin.get("/audit", params={"action": "ask", "actor": "user:viewer_a", "limit": 1}).json()
        record = admin.get(f"/audit/{latest['items'][0]['id']}").json()
        assert record["details"]["question"] == "Who may bring visitors to the office?"
        chunks = record["chunks"]
        assert [c["rank"] for c in chunks] == list(range(1, len(chunks) + 1)) and chunks
        assert chunks[0]["chunk_id"] == record["details"]["retrieved"][0]["chunk_id"]
        assert all(c["text"] and c["title"] for c in chunks)  # nothing re-indexed the demo since
        assert admin.get("/audit/99999999").status_code == 404
    with server.client("viewer_a") as viewer:
        assert viewer.get(f"/audit/{record['id']}").status_code == 403


def test_dashboard_counts_questions_outcomes_feedback_and_gaps(server: Server) -> None:
    gap = "How do I bake sourdough bread?"
    with server.client("viewer_a") as viewer:
        for _ in range(2):
            declined = viewer.post("/ask", json={"kb": "demo", "question": gap}).json()
            assert declined["answered"] is False
        answered = viewer.post(
            "/ask",
            json={"kb": "demo", "question": "How many days of annual leave do full-time employees get?"},
        ).json()
        assert answered["answered"] is True
    with server.client("admin") as admin:
        before = admin.get("/dashboard", params={"kb": "demo"}).json()
    with server.client("viewer_a") as viewer:
        viewer.post("/feedback", json={"message_id": answered["message_id"], "rating": 1}).raise_for_status()
    with server.client("admin") as admin:
        after = admin.get("/dashboard", params={"kb": "demo"}).json()
        other = admin.get("/dashboard", params={"kb": "b"}).json()
    assert after["questions"] >= 3 and sum(after["outcomes"].values()) == after["questions"]
    assert after["outcomes"]["declined"] >= 2
    assert after["feedback"]["up"] == before["feedback"]["up"] + 1
    assert sum(d["questions"] for d in after["days"]) == after["questions"]
    assert all(d["p50_ms"] <= d["p95_ms"] for d in after["days"])
    top = {g["question"]: g["count"] for g in after["gaps"]}
    assert top.get(gap, 0) >= 2
    assert gap not in {g["question"] for g in other["gaps"]}  # filtered by knowledge base
    with server.client("admin") as admin:
        declined = admin.get("/audit", params={"outcome": "declined", "actor": "user:viewer_a"}).json()
        verified = admin.get("/audit", params={"outcome": "supported", "kb": "demo"}).json()
    assert declined["total"] >= 2 and all(r["details"]["answered"] is False for r in declined["items"])
    assert verified["total"] >= 1 and all(r["details"]["answered"] for r in verified["items"])
    # the outcome is stored with the record, and each listed question carries the one it was read as
    assert all(r["details"]["outcome"] == r["outcome"] == "declined" for r in declined["items"])
    assert all(r["details"]["outcome"] == r["outcome"] == "supported" for r in verified["items"])
    assert set(after["outcomes"]) == {"supported", "unsupported", "off_topic", "declined"}


def test_audit_verify_passes_then_fails_after_an_edit(server: Server) -> None:
    verified = attest(server.env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout
    # Tamper with the live database (SQLite or PostgreSQL) for a moment, then put it back.
    engine = create_engine(server.env.get("DATABASE_URL") or f"sqlite:///{server.data_dir / 'attest.db'}")
    with engine.begin() as conn:
        actor = conn.execute(text("SELECT actor FROM audit_log WHERE id = 2")).scalar_one()
        conn.execute(text("UPDATE audit_log SET actor = 'user:nobody' WHERE id = 2"))
    try:
        tampered = attest(server.env, "audit", "verify")
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor = :actor WHERE id = 2"), {"actor": actor})
        engine.dispose()
    assert tampered.returncode == 1
    assert "record 2: its content was changed" in tampered.stderr
    assert attest(server.env, "audit", "verify").returncode == 0


def test_health_readiness_and_metrics(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").json() == {"status": "ready"}
    text = httpx.get(f"{server.url}/metrics").text
    assert 'attest_http_requests_total{method="POST",route="/api/v1/ask"' in text
    assert 'attest_index_chunks{kb="demo"}' in text
    assert "attest_answers_total" in text and "attest_llm_tokens_total" in text
    headers = httpx.get(f"{server.url}/healthz").headers
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
