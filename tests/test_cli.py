"""The ``attest`` command line as a user runs it (a real process, a real SQLite file)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from attest.core import db
from attest.core.models import AuditRecord
from attest.core.settings import Settings
from tests.conftest import write_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SUMMARY_KEYS = {
    "documents_added",
    "documents_updated",
    "documents_unchanged",
    "documents_deleted",
    "documents_failed",
    "chunks",
    "embeddings_computed",
    "seconds",
}


def _attest(tmp_path: Path, *args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ATTEST_DATA_DIR": str(tmp_path / "data"), **env_vars}
    return subprocess.run(
        [sys.executable, "-m", "attest", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_ingest_json_then_ask(tmp_path: Path) -> None:
    write_corpus(tmp_path / "docs")
    first = _attest(tmp_path, "ingest", "--kb", "hr", "--json", str(tmp_path / "docs"))
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert set(summary) >= SUMMARY_KEYS
    assert summary["documents_added"] == 3 and summary["chunks"] == summary["embeddings_computed"] > 0
    assert "ingest hr" in first.stderr  # the progress bar

    question = "How many days of annual leave do employees get?"
    answer = _attest(tmp_path, "ask", "--kb", "hr", "--json", question)  # the default: extractive
    assert answer.returncode == 0, answer.stderr
    result = json.loads(answer.stdout)
    assert result["answered"] and "27 days" in result["answer"] and result["backend"] == "extractive"
    assert result["index_backend"] == "local"  # a stable key (ATTEST_INDEX_BACKEND)
    cited = {c["number"]: c for c in result["citations"]}
    assert [s["title"] for s in result["sources"] if s["number"] in cited] == ["Annual leave"]
    assert set(result["timings_ms"]) >= {"retrieve", "context", "generate", "citations"}

    # the local llama.cpp model answers through the same path
    local = _attest(tmp_path, "ask", "--kb", "hr", "--json", question, ATTEST_GENERATOR="llama_cpp")
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout)["backend"] == "llama_cpp"  # no fallback: the model ran

    declined = _attest(tmp_path, "ask", "--kb", "hr", "What is the orbital period of Neptune?")
    assert declined.returncode == 0, declined.stderr
    assert "does not contain the answer" in declined.stdout and "Closest documents:" in declined.stdout


def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    missing = _attest(tmp_path, "ingest", "--kb", "hr", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "no such file or folder" in missing.stderr
    assert "Traceback" not in missing.stderr
    unknown = _attest(tmp_path, "ask", "--kb", "nope", "anything?")
    assert unknown.returncode == 1 and "Unknown knowledge base 'nope'" in unknown.stderr
    bad_name = _attest(tmp_path, "ingest", "--kb", "../etc", str(tmp_path))
    assert bad_name.returncode == 1 and "Invalid knowledge base name" in bad_name.stderr


def _audited(tmp_path: Path) -> int:
    """How many records ``attest audit verify`` finds, asserting that the chain is intact."""
    verified = _attest(tmp_path, "audit", "verify")
    assert verified.returncode == 0 and "audit log intact" in verified.stdout, verified.stderr
    found = re.search(r"intact: (\d+) records", verified.stdout)
    assert found, verified.stdout
    return int(found.group(1))


def test_ask_is_audited_like_a_question_to_the_api(tmp_path: Path) -> None:
    write_corpus(tmp_path / "docs")
    assert _attest(tmp_path, "ingest", "--kb", "hr", str(tmp_path / "docs")).returncode == 0
    before = _audited(tmp_path)

    declined = _attest(tmp_path, "ask", "--kb", "hr", "What is the orbital period of Neptune?")
    assert declined.returncode == 0 and "does not contain the answer" in declined.stdout, declined.stderr
    assert _audited(tmp_path) == before + 1
    answered = _attest(
        tmp_path, "ask", "--kb", "hr", "--json", "How many days of annual leave do employees get?"
    )
    assert answered.returncode == 0, answered.stderr
    assert _audited(tmp_path) == before + 2

    engine = db.make_engine(Settings(data_dir=tmp_path / "data").sqlalchemy_url)
    try:
        with Session(engine) as session:
            records = session.scalars(select(AuditRecord).order_by(AuditRecord.id).offset(before)).all()
    finally:
        engine.dispose()
    first, second = records
    assert [r.action for r in records] == ["ask", "ask"] and all(r.kb == "hr" for r in records)
    assert all(r.actor.startswith("cli:") and r.status == 200 for r in records)
    assert first.details["outcome"] == "declined" and first.details["answered"] is False
    assert first.details["question"] == "What is the orbital period of Neptune?"
    assert first.details["conversation_id"] is None and first.details["retrieved"]
    result = json.loads(answered.stdout)
    verdict = result["verdict"]
    expected = (
        "unsupported"
        if verdict["unsupported"]
        else "off_topic"
        if verdict["answers_question"] is False
        else "supported"
    )
    assert second.details["outcome"] == expected  # what `attest ask --json` shows is what was audited
    assert second.details["answer"] == result["answer"] and second.details["answered"] is True
    assert second.details["verdict"]["supported"] == result["verdict"]["supported"]
