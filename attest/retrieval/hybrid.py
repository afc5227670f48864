"""Hybrid retrieval over one index version: BM25 and FAISS, fused, filtered before the cut."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from attest.core.errors import RetrievalError
from attest.core.settings import Settings
from attest.ingest.embedder import Embedder
from attest.retrieval.bm25 import BM25Config, BM25Index
from attest.retrieval.evaluation import Mode
from attest.retrieval.filters import Filters, FilterTables
from attest.retrieval.fusion import FusionMode, Ranking, reciprocal_rank_fusion, weighted_fusion
from attest.retrieval.index_store import IndexSnapshot
from attest.retrieval.tokenize import TokenizerConfig


@dataclass(frozen=True)
class RetrievalConfig:
    """How candidates are gathered and fused (defaults chosen by measurement, see the README)."""

    candidates: int = 100  # taken from each retriever before fusion
    fusion: FusionMode = FusionMode.WEIGHTED
    rrf_k: int = 60
    dense_weight: float = 0.5  # share of the dense retriever in fusion


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk record of the index version with its fused score."""

    chunk: dict[str, Any]
    score: float
    row: int  # position in the index version


class HybridRetriever:
    """Searches one immutable index version; safe to share between threads."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        bm25: BM25Index,
        embedder: Embedder,
        config: RetrievalConfig | None = None,
    ) -> None:
        if bm25.num_docs != len(snapshot.chunks):
            raise RetrievalError(f"Index version {snapshot.version} is inconsistent; re-run `attest ingest`.")
        self.snapshot = snapshot
        self.bm25 = bm25
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.tables = FilterTables(snapshot.chunks)
        self._dense = faiss.IndexFlatIP(int(snapshot.manifest["dim"]))
        if snapshot.chunks:
            self._dense.add(np.ascontiguousarray(snapshot.embeddings, dtype=np.float32))

    def retrieve(
        self, query: str, k: int = 10, filters: Filters | None = None, mode: Mode = Mode.HYBRID
    ) -> list[RetrievedChunk]:
        """The ``k`` best chunks for ``query`` among those ``filters`` allow."""
        if not query.strip():
            raise RetrievalError("The query is empty.")
        if k < 0:
            raise RetrievalError(f"k must be 0 or more, not {k}.")
        if k == 0:
            return []
        mask = self.tables.mask(filters or Filters())
        depth = max(k, self.config.candidates)
        if mode is Mode.BM25:
            ids, scores = self.bm25.top_k(query, k, mask)
        elif mode is Mode.DENSE:
            ids, scores = self.dense_top_k(query, k, mask)
        elif mode is Mode.HYBRID:
            ids, scores = self._fuse(
                self.bm25.top_k(query, depth, mask), self.dense_top_k(query, depth, mask)
            )
        else:
            raise RetrievalError(f"Mode {mode.value!r} is not a single retrieval mode.")
        return [
            RetrievedChunk(self.snapshot.chunks[int(i)], float(s), int(i))
            for i, s in zip(ids[:k], scores[:k], strict=True)
        ]

    def dense_top_k(self, query: str, k: int, mask: np.ndarray | None = None) -> Ranking:
        """Exact inner-product search, restricted to ``mask`` inside FAISS (before the cut)."""
        vector = self.embedder.embed([query]).reshape(1, -1)
        if self._dense.ntotal == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = None
        if mask is not None:
            bits = np.packbits(mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        scores, ids = self._dense.search(vector, min(k, self._dense.ntotal), params=params)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep]

    def _fuse(self, bm25: Ranking, dense: Ranking) -> Ranking:
        weights = [1.0 - self.config.dense_weight, self.config.dense_weight]
        if self.config.fusion is FusionMode.RRF:
            return reciprocal_rank_fusion([bm25, dense], k=self.config.rrf_k, weights=weights)
        return weighted_fusion([bm25, dense], weights)


def bm25_config(settings: Settings) -> BM25Config:
    """The BM25 parameters and tokenizer the settings ask for."""
    tokenizer = TokenizerConfig(stopwords=settings.bm25_stopwords, stemming=settings.bm25_stemming)
    return BM25Config(
        k1=settings.bm25_k1, b=settings.bm25_b, epsilon=settings.bm25_epsilon, tokenizer=tokenizer
    )


def retrieval_config(settings: Settings) -> RetrievalConfig:
    """The fusion settings as a ``RetrievalConfig``."""
    return RetrievalConfig(
        candidates=settings.retrieval_candidates,
        fusion=FusionMode.from_str(settings.retrieval_fusion),
        rrf_k=settings.retrieval_rrf_k,
        dense_weight=settings.retrieval_dense_weight,
    )


def open_retriever(snapshot: IndexSnapshot, embedder: Embedder, settings: Settings) -> HybridRetriever:
    """A retriever over ``snapshot`` with its saved BM25 index."""
    return HybridRetriever(
        snapshot, BM25Index.load(snapshot.path / "bm25"), embedder, retrieval_config(settings)
    )
