"""Hybrid retrieval over one index version: BM25 and FAISS, fused, filtered before the cut.

A :class:`HybridRetriever` is built once per index version and shared by all the queries
that read it. Per query: the filters become masks (:mod:`attest.retrieval.filters`), BM25
scores with the statistics of what the asker may read (cached per readable set), FAISS
searches under the same mask, and the two candidate lists are fused.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import assert_never

import numpy as np

from attest.core.enums import Choice, IndexBackendName
from attest.core.errors import RetrievalError
from attest.core.settings import Settings
from attest.retrieval.bm25 import BM25Config, BM25Index, CorpusStats
from attest.retrieval.dense import DenseConfig, DenseIndex
from attest.retrieval.filters import Filters, FilterTables, Restriction
from attest.retrieval.fusion import FusionMode, Ranking, reciprocal_rank_fusion, weighted_fusion
from attest.retrieval.index_store import IndexSnapshot
from attest.retrieval.records import ChunkRecord
from attest.text.embedder import Embedder
from attest.text.tokenize import TokenizerConfig

STATS_CACHE_SIZE = 256  # readable sets whose BM25 statistics are kept per version

# Finds the entities a query names (e.g. ``EntityTagger`` texts); used by the entity boost.
QueryEntities = Callable[[str], Iterable[str]]


class Mode(Choice):
    """Which retriever answers a query: BM25 alone, FAISS alone, or both fused."""

    BM25 = "bm25"
    DENSE = "dense"
    HYBRID = "hybrid"

    @classmethod
    def kind(cls) -> str:
        return "retrieval mode"


@dataclass(frozen=True)
class RetrievalConfig:
    """How candidates are gathered and fused (defaults chosen by measurement, see the README)."""

    candidates: int = 100  # taken from each retriever before fusion
    fusion: FusionMode = FusionMode.WEIGHTED
    rrf_k: int = 60
    dense_weight: float = 0.5  # share of the dense retriever in fusion
    entity_boost: float = 0.0  # added to a fused score per share of the query's entities named


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk record of the index version with its fused score and its index vector."""

    chunk: ChunkRecord
    score: float
    row: int  # local: the chunk's row in the version's files; milvus: its chunk id
    vector: np.ndarray | None = None  # the chunk's unit embedding, as indexed; read-only


class HybridRetriever:
    """Searches one immutable index version; safe to share between threads."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        bm25: BM25Index,
        dense: DenseIndex,
        embedder: Embedder,
        config: RetrievalConfig | None = None,
        query_entities: QueryEntities | None = None,
    ) -> None:
        if not bm25.num_docs == dense.index.ntotal == len(snapshot.chunks):
            raise RetrievalError(f"Index version {snapshot.version} is inconsistent; re-run `attest ingest`.")
        self.snapshot = snapshot
        self.bm25 = bm25
        self.dense = dense
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.query_entities = query_entities
        self.tables = FilterTables.of_lines(snapshot.chunks.lines())
        self._stats: OrderedDict[tuple[int, ...], CorpusStats] = OrderedDict()
        self._stats_lock = threading.Lock()

    @property
    def version_id(self) -> int:
        return self.snapshot.version_id

    @property
    def version(self) -> int:
        return self.snapshot.version

    @property
    def backend(self) -> IndexBackendName:
        return IndexBackendName.LOCAL

    def retrieve(
        self, query: str, k: int = 10, filters: Filters | None = None, mode: Mode = Mode.HYBRID
    ) -> list[RetrievedChunk]:
        """The ``k`` best chunks for ``query`` among those ``filters`` allow."""
        check_query(query, k)
        if k == 0:
            return []
        restriction = self.tables.restrict(filters or Filters())
        depth = max(k, self.config.candidates)
        if mode is Mode.BM25:
            ids, scores = self.bm25_top_k(query, k, restriction)
        elif mode is Mode.DENSE:
            ids, scores = self.dense_top_k(query, k, restriction.returnable)
        elif mode is Mode.HYBRID:
            fused = fuse(
                self.bm25_top_k(query, depth, restriction),
                self.dense_top_k(query, depth, restriction.returnable),
                self.config,
            )
            ids, scores = self._boost_entities(query, fused)
        else:
            assert_never(mode)
        return [
            RetrievedChunk(self.snapshot.chunks[int(i)], float(s), int(i), self.dense.embeddings[int(i)])
            for i, s in zip(ids[:k], scores[:k], strict=True)
        ]

    def bm25_top_k(self, query: str, k: int, restriction: Restriction) -> Ranking:
        """BM25 over the returnable chunks, scored with the statistics of the readable ones."""
        stats = self._readable_stats(restriction)
        return self.bm25.top_k(query, k, restriction.returnable, stats)

    def dense_top_k(self, query: str, k: int, mask: np.ndarray | None = None) -> Ranking:
        """FAISS inner-product search, restricted to ``mask`` inside FAISS (before the cut)."""
        return self.dense.search(self.embedder.embed([query])[0], k, mask)

    def _readable_stats(self, restriction: Restriction) -> CorpusStats | None:
        key = restriction.readable_key
        if key is None or restriction.readable is None:
            return None  # everything is readable: the index's own statistics
        with self._stats_lock:
            if key in self._stats:
                self._stats.move_to_end(key)
                return self._stats[key]
        stats = self.bm25.stats_for(restriction.readable)
        with self._stats_lock:
            self._stats[key] = stats
            while len(self._stats) > STATS_CACHE_SIZE:
                self._stats.popitem(last=False)
        return stats

    def _boost_entities(self, query: str, fused: Ranking) -> Ranking:
        """Add ``entity_boost`` times the share of the query's entities each chunk names."""
        if self.config.entity_boost == 0 or self.query_entities is None or not len(fused[0]):
            return fused
        wanted = {e.casefold() for e in self.query_entities(query)}
        return boost_entities(fused, wanted, self.tables.entity_rows, self.config.entity_boost)


def fuse(bm25: Ranking, dense: Ranking, config: RetrievalConfig) -> Ranking:
    """The two candidate lists fused as ``config`` says (every backend)."""
    weights = [1.0 - config.dense_weight, config.dense_weight]
    if config.fusion is FusionMode.RRF:
        return reciprocal_rank_fusion([bm25, dense], k=config.rrf_k, weights=weights)
    return weighted_fusion([bm25, dense], weights)


def check_query(query: str, k: int) -> None:
    """Refuse an empty query or a negative ``k`` (every backend)."""
    if not query.strip():
        raise RetrievalError("The query is empty.")
    if k < 0:
        raise RetrievalError(f"k must be 0 or more, not {k}.")


def boost_entities(
    fused: Ranking, wanted: set[str], named: Callable[[str], np.ndarray], boost: float
) -> Ranking:
    """Add ``boost`` times the share of the ``wanted`` entities (casefolded) each chunk names;
    ``named(entity)`` gives the ids of the chunks that name it."""
    ids, scores = fused
    if boost == 0 or not wanted or not len(ids):
        return fused
    hits = sum(np.isin(ids, named(e)).astype(np.float64) for e in wanted)
    boosted = scores + boost * np.asarray(hits) / len(wanted)
    order = np.lexsort((ids, -boosted))
    return ids[order], boosted[order]


def bm25_config(settings: Settings) -> BM25Config:
    """The BM25 parameters and tokenizer the settings ask for."""
    tokenizer = TokenizerConfig(stopwords=settings.bm25_stopwords, stemming=settings.bm25_stemming)
    return BM25Config(
        k1=settings.bm25_k1, b=settings.bm25_b, epsilon=settings.bm25_epsilon, tokenizer=tokenizer
    )


def dense_config(settings: Settings) -> DenseConfig:
    """When FAISS search goes approximate, as a ``DenseConfig``."""
    return DenseConfig(
        ann_threshold=settings.dense_ann_threshold,
        nprobe=settings.dense_nprobe,
        exact_below=settings.dense_exact_below,
    )


def retrieval_config(settings: Settings) -> RetrievalConfig:
    """The fusion settings as a ``RetrievalConfig``."""
    return RetrievalConfig(
        candidates=settings.retrieval_candidates,
        fusion=settings.retrieval_fusion,
        rrf_k=settings.retrieval_rrf_k,
        dense_weight=settings.retrieval_dense_weight,
        entity_boost=settings.retrieval_entity_boost,
    )


def open_retriever(
    snapshot: IndexSnapshot,
    embedder: Embedder,
    settings: Settings,
    query_entities: QueryEntities | None = None,
) -> HybridRetriever:
    """A retriever over ``snapshot`` with its saved BM25 and FAISS indexes."""
    return HybridRetriever(
        snapshot,
        BM25Index.load(snapshot.path / "bm25"),
        DenseIndex.load(snapshot.path, snapshot.embeddings, dense_config(settings)),
        embedder,
        retrieval_config(settings),
        query_entities,
    )
