"""Rank fusion: combine the rankings of several retrievers into one.

Both functions take rankings as ``(ids, scores)`` pairs, best first, and return ids and
fused scores, best first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attest.core.enums import FusionMode as FusionMode  # re-exported: it lives in core, for settings

Ranking = tuple[np.ndarray, np.ndarray]  # (ids, scores), best first


def reciprocal_rank_fusion(
    rankings: Sequence[Ranking], *, k: int = 60, weights: Sequence[float] | None = None
) -> Ranking:
    """Reciprocal rank fusion: score(d) = sum_r w_r / (k + rank_r(d)), ranks from 1.

    Cormack, Clarke and Buettcher, "Reciprocal rank fusion outperforms Condorcet and
    individual rank learning methods", SIGIR 2009.
    """
    weights = [1.0] * len(rankings) if weights is None else weights
    fused: dict[int, float] = {}
    for (ids, _scores), weight in zip(rankings, weights, strict=True):
        for rank, doc in enumerate(ids.tolist(), start=1):
            fused[doc] = fused.get(doc, 0.0) + weight / (k + rank)
    return _sorted(fused)


def weighted_fusion(rankings: Sequence[Ranking], weights: Sequence[float]) -> Ranking:
    """Convex combination of min-max normalized scores; a missing document scores 0 there.

    The normalization is the "MinMax" of Lee (1997) as compared in Bruch, Gai and Ingber,
    "An analysis of fusion functions for hybrid retrieval", TOIS 2023.
    """
    fused: dict[int, float] = {}
    for (ids, scores), weight in zip(rankings, weights, strict=True):
        if len(ids) == 0:
            continue
        low, high = float(scores.min()), float(scores.max())
        spread = high - low
        normalized = (scores - low) / spread if spread > 0 else np.ones_like(scores, dtype=np.float64)
        for doc, value in zip(ids.tolist(), normalized.tolist(), strict=True):
            fused[doc] = fused.get(doc, 0.0) + weight * value
    return _sorted(fused)


def _sorted(fused: dict[int, float]) -> Ranking:
    if not fused:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    ids = np.fromiter(fused.keys(), dtype=np.int64, count=len(fused))
    scores = np.fromiter(fused.values(), dtype=np.float64, count=len(fused))
    order = np.lexsort((ids, -scores))  # by score, ties by id for determinism
    return ids[order], scores[order]
