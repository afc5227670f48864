"""The ``attest`` command line as a user runs it (a real process, a real SQLite file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert result["answered"] and "27 days" in result["text"] and result["backend"] == "extractive"
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
