"""``attest eval factuality``: its metrics on hand-made items, and the command's stable JSON.

The input checks of the factuality file are in ``test_datasets.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attest.eval.datasets import read_items
from attest.eval.factuality import evaluate_factuality
from attest.text.embedder import SentenceTransformerEmbedder
from attest.verify.checker import FactChecker
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
