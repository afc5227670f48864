"""``attest eval factuality``: how well the checker tells supported responses from hallucinated ones.

Reads the factuality format of ``../shared/data/README.md`` (one JSON object per line with
``context``, optional ``question``, ``response`` and ``supported``), checks each response
with its context as the only passage, and scores the detection of *unsupported*
responses: ROC AUC and PR AUC of ``1 - score``, and balanced accuracy and F1 of the
shipped threshold's decisions (a response is flagged when any claim is unsupported).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, balanced_accuracy_score, f1_score, roc_auc_score

from attest.verify.checker import FactChecker


@dataclass(frozen=True)
class Item:
    """One line of a factuality file."""

    id: str
    context: str
    question: str | None
    response: str
    supported: bool


HALVES = ("all", "even", "odd")  # the calibration fits on 'even' and reports on 'odd'


def half(item: Item) -> str:
    """The half ``item`` belongs to: by the question number in its id ("qa-12-hallucinated"
    is even), so that every response to one question falls in the same half; for ids
    without a number, by a stable hash of the question (or the context)."""
    number = re.search(r"-(\d+)-", item.id)
    key = int(number.group(1)) if number else zlib.crc32((item.question or item.context).encode())
    return "even" if key % 2 == 0 else "odd"


def read_items(path: Path) -> list[Item]:
    """The items of ``path``; a line that is not a valid item is a ``ValueError`` naming it."""
    items = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("expected a JSON object")
                for key, kind in (("context", str), ("response", str), ("supported", bool)):
                    if not isinstance(row.get(key), kind):
                        raise ValueError(f"{key!r} must be a {kind.__name__}")
                question = row.get("question")
                if question is not None and not isinstance(question, str):
                    raise ValueError("'question' must be a string")
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from None
            items.append(
                Item(str(row.get("id", number)), row["context"], question, row["response"], row["supported"])
            )
    if not items:
        raise ValueError("no items")
    if len({item.supported for item in items}) < 2:
        raise ValueError("the file needs both supported and unsupported responses to measure detection")
    return items


def evaluate_factuality(
    items: list[Item], checker: FactChecker, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """The stable ``attest eval factuality --json`` object."""
    scores, flagged, latencies = [], [], []
    for n, item in enumerate(items, 1):
        verdict = checker.check(item.response, [(1, item.context)], item.question)
        scores.append(verdict.score)
        flagged.append(verdict.unsupported > 0 or not verdict.claims)
        latencies.append(verdict.latency_ms)
        if progress:
            progress(n, len(items))
    unsupported = np.asarray([not item.supported for item in items])
    risk = 1.0 - np.asarray(scores)
    return {
        "n": len(items),
        "roc_auc": round(float(roc_auc_score(unsupported, risk)), 4),
        "pr_auc": round(float(average_precision_score(unsupported, risk)), 4),
        "balanced_accuracy": round(float(balanced_accuracy_score(unsupported, flagged)), 4),
        "f1": round(float(f1_score(unsupported, flagged)), 4),
        "threshold": checker.model.threshold,
        "latency_ms": {f"p{q}": round(float(np.percentile(latencies, q)), 2) for q in (50, 95, 99)},
    }
