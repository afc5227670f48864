"""``attest eval factuality``: how well the checker tells supported responses from hallucinated ones.

Each item of a factuality file (:func:`attest.eval.datasets.read_items`) is checked with its
context as the only passage, and the detection of *unsupported* responses is scored: ROC AUC
and PR AUC of ``1 - score``, and balanced accuracy and F1 of the shipped threshold's decisions
(a response is flagged when any claim is unsupported).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attest.eval.datasets import Item
from attest.eval.metrics import detection_scores, latency_percentiles
from attest.verify.checker import FactChecker


def evaluate_factuality(
    items: list[Item], checker: FactChecker, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """The stable ``attest eval factuality --json`` object."""
    risk, flagged, latencies = [], [], []
    for n, item in enumerate(items, 1):
        verdict = checker.check(item.response, [(1, item.context)], item.question)
        risk.append(1.0 - verdict.score)
        flagged.append(verdict.unsupported > 0 or not verdict.claims)
        latencies.append(verdict.latency_ms)
        if progress:
            progress(n, len(items))
    return {
        "n": len(items),
        **detection_scores([not item.supported for item in items], risk, flagged),
        "threshold": checker.model.threshold,
        "latency_ms": {k: round(v, 2) for k, v in latency_percentiles(latencies).items()},
    }
