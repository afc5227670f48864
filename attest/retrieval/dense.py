"""Dense search over an index version with FAISS (exact inner product on normalized vectors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from attest.retrieval.index_store import IndexSnapshot


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk and its score."""

    score: float
    chunk: dict[str, Any]


class DenseSearcher:
    """Exact FAISS search over one snapshot's embeddings."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.snapshot = snapshot
        self._index = faiss.IndexFlatIP(int(snapshot.manifest["dim"]))
        if len(snapshot.chunks):
            self._index.add(np.ascontiguousarray(snapshot.embeddings, dtype=np.float32))

    def search(self, query_vector: np.ndarray, k: int = 5) -> list[Hit]:
        """The ``k`` chunks most similar to ``query_vector``."""
        if self._index.ntotal == 0:
            return []
        scores, ids = self._index.search(
            query_vector.reshape(1, -1).astype(np.float32), min(k, self._index.ntotal)
        )
        return [
            Hit(float(s), self.snapshot.chunks[i]) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0
        ]
