"""``attest eval factuality``: its input checks, its metrics, and the command's stable JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attest.text.embedder import SentenceTransformerEmbedder
from attest.verify.checker import FactChecker
from attest.verify.evaluation import evaluate_factuality, read_items
from tests.test_cli import _attest

CONTEXT = "The Oberoi Group is a hotel company with its head office in Delhi. It was founded in 1934."
ROWS = [
    {
        "id": "1",
        "context": CONTEXT,
        "question": "Where is the head office?",
        "response": "Delhi",
        "supported": True,
    },
    {"id": "2", "context": CONTEXT, "response": "The company was founded in 1934.", "supported": True},
    {
        "id": "3",
        "context": CONTEXT,
        "question": "Where is the head office?",
        "response": "Mumbai",
        "supported": False,
    },
    {
        "id": "4",
        "context": CONTEXT,
        "response": "The Oberoi Group was founded in 1962 by Rajiv Gandhi in Kolkata.",
        "supported": False,
    },
]


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.unit
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1"),
        ("[1, 2]", "expected a JSON object"),
        ('{"context": "c", "response": "r"}', "'supported' must be a bool"),
        ('{"context": 3, "response": "r", "supported": true}', "'context' must be a str"),
    ],
)
def test_bad_lines_are_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match=message):
        read_items(path)


@pytest.mark.unit
def test_one_sided_data_cannot_measure_detection(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both supported and unsupported"):
        read_items(write(tmp_path / "d.jsonl", ROWS[:2]))


@pytest.mark.integration
def test_hand_made_items_are_separated(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    result = evaluate_factuality(read_items(write(tmp_path / "d.jsonl", ROWS)), FactChecker(embedder))
    assert result["n"] == 4 and result["roc_auc"] == 1.0 and result["pr_auc"] == 1.0
    assert result["balanced_accuracy"] == 1.0 and result["f1"] == 1.0
    assert set(result["latency_ms"]) == {"p50", "p95", "p99"}


@pytest.mark.integration
def test_the_command_prints_the_stable_json(tmp_path: Path) -> None:
    done = _attest(tmp_path, "eval", "factuality", "--data", str(write(tmp_path / "d.jsonl", ROWS)), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"n", "roc_auc", "pr_auc", "balanced_accuracy", "f1", "latency_ms"} <= set(result)
    missing = _attest(tmp_path, "eval", "factuality", "--data", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1 and "nope.jsonl" in missing.stderr and "Traceback" not in missing.stderr
