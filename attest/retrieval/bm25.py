"""Sparse BM25 index with the exact scores of ``rank_bm25.BM25Okapi``.

Scoring is the Okapi BM25 of Robertson et al. ("Okapi at TREC-3", 1994) with the
``(k1 + 1)`` numerator and the idf floor of ``rank_bm25.BM25Okapi`` (for how such variants
differ, see Kamphuis et al. 2020, "Which BM25 do you mean? A large-scale reproducibility
study of scoring variants"):

* ``idf(t) = log(N - n_t + 0.5) - log(n_t + 0.5)``; a negative idf is replaced by
  ``epsilon * mean(idf)`` where the mean is over the raw idfs of the whole vocabulary;
* ``score(q, d) = sum over query tokens t (repeats counted) of
  idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))``;
* query tokens that are not in the vocabulary contribute 0.

All per-(document, term) weights are computed once at build time and kept in a
``scipy.sparse`` CSC matrix (documents x terms), so a query is a weighted sum of a few
columns. Scores are ``float64``.
"""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from attest.core.errors import ConfigurationError, RetrievalError
from attest.retrieval.tokenize import Tokenizer, TokenizerConfig

FORMAT = 1
MANIFEST_FILE = "bm25.json"
WEIGHTS_FILE = "bm25_weights.npz"


@dataclass(frozen=True)
class BM25Config:
    """BM25 Okapi parameters (defaults of ``rank_bm25.BM25Okapi``) and the tokenizer."""

    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)

    def __post_init__(self) -> None:
        for name in ("k1", "b", "epsilon"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigurationError(f"bm25.{name} must be a finite number, not {value!r}")
        if self.k1 < 0:
            raise ConfigurationError(f"bm25.k1 must be >= 0, not {self.k1}")
        if not 0 <= self.b <= 1:
            raise ConfigurationError(f"bm25.b must be between 0 and 1, not {self.b}")
        if not isinstance(self.tokenizer, TokenizerConfig):
            raise ConfigurationError(f"bm25.tokenizer must be a TokenizerConfig, not {self.tokenizer!r}")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-compatible dict."""
        return {"k1": self.k1, "b": self.b, "epsilon": self.epsilon, "tokenizer": self.tokenizer.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BM25Config:
        """Parse :meth:`to_dict` output; unknown keys are a :class:`ConfigurationError`."""
        valid = ["k1", "b", "epsilon", "tokenizer"]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ConfigurationError(
                f"unknown bm25 setting(s) {', '.join(unknown)}; valid settings: {', '.join(valid)}"
            )
        values = dict(data)
        if "tokenizer" in values:
            values["tokenizer"] = TokenizerConfig.from_dict(values["tokenizer"])
        return cls(**values)


def okapi_idf(doc_freq: np.ndarray, num_docs: int, epsilon: float) -> np.ndarray:
    """Okapi idf with ``rank_bm25``'s floor: negative values become ``epsilon * mean(idf)``."""
    idf = np.log(num_docs - doc_freq + 0.5) - np.log(doc_freq + 0.5)
    if idf.size:
        idf[idf < 0] = epsilon * float(np.mean(idf))
    return idf


def okapi_weights(
    tf: np.ndarray, idf: np.ndarray, doc_len: np.ndarray, avgdl: float, k1: float, b: float
) -> np.ndarray:
    """Per-(term, document) BM25 weight ``idf * tf(k1+1) / (tf + k1(1 - b + b dl/avgdl))``."""
    norm = k1 * (1 - b + b * doc_len / avgdl) if avgdl > 0 else np.full_like(doc_len, k1)
    return idf * (tf * (k1 + 1) / (tf + norm))


def _count_terms(
    docs: Iterable[Sequence[str]],
) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One pass over token lists: vocabulary (first-seen order) and COO triples.

    Returns ``(vocabulary, rows, cols, tf, doc_len)``.
    """
    vocab: dict[str, int] = {}
    rows, cols, tfs, lengths = array("q"), array("q"), array("q"), array("q")
    for doc_id, tokens in enumerate(docs):
        lengths.append(len(tokens))
        for term, tf in Counter(tokens).items():
            cols.append(vocab.setdefault(term, len(vocab)))
            rows.append(doc_id)
            tfs.append(tf)
    as_np = [np.frombuffer(a, dtype=np.int64) if len(a) else np.zeros(0, np.int64) for a in (rows, cols)]
    tf_np = np.frombuffer(tfs, dtype=np.int64).astype(np.float64) if len(tfs) else np.zeros(0)
    len_np = np.frombuffer(lengths, dtype=np.int64).astype(np.float64) if len(lengths) else np.zeros(0)
    return vocab, as_np[0], as_np[1], tf_np, len_np


class BM25Index:
    """An immutable BM25 Okapi index: a CSC matrix of weights plus the vocabulary.

    Document ids are the positions of the texts given to :meth:`build` (0-based).
    """

    def __init__(
        self, config: BM25Config, vocabulary: Sequence[str], weights: sp.csc_matrix, avgdl: float
    ) -> None:
        if weights.shape[1] != len(vocabulary):
            raise RetrievalError(
                f"BM25 index is inconsistent: {weights.shape[1]} weight columns "
                f"but {len(vocabulary)} vocabulary terms; rebuild the index"
            )
        self.config = config
        self.vocabulary: dict[str, int] = {t: i for i, t in enumerate(vocabulary)}
        self.weights = sp.csc_matrix(weights, dtype=np.float64)
        self.weights.sort_indices()
        self.avgdl = avgdl
        self.tokenizer = Tokenizer(config.tokenizer)

    @property
    def num_docs(self) -> int:
        """Number of documents in the index."""
        return int(self.weights.shape[0])

    @classmethod
    def build(cls, texts: Iterable[str], config: BM25Config | None = None) -> BM25Index:
        """Index ``texts`` (document id = position) with ``config`` (defaults if omitted)."""
        config = config or BM25Config()
        tokenizer = Tokenizer(config.tokenizer)
        return cls.from_tokens((tokenizer(t) for t in texts), config)

    @classmethod
    def from_tokens(cls, docs: Iterable[Sequence[str]], config: BM25Config | None = None) -> BM25Index:
        """Index already tokenized documents, exactly as ``rank_bm25.BM25Okapi(docs)`` would."""
        config = config or BM25Config()
        vocab, rows, cols, tf, doc_len = _count_terms(docs)
        num_docs = len(doc_len)
        avgdl = float(doc_len.sum()) / num_docs if num_docs else 0.0
        idf = okapi_idf(np.bincount(cols, minlength=len(vocab)).astype(np.float64), num_docs, config.epsilon)
        data = okapi_weights(tf, idf[cols], doc_len[rows], avgdl, config.k1, config.b)
        weights = sp.csc_matrix((data, (rows, cols)), shape=(num_docs, len(vocab)), dtype=np.float64)
        return cls(config, list(vocab), weights, avgdl)

    def score_tokens(self, tokens: Iterable[str]) -> np.ndarray:
        """BM25 scores (``float64``, one per document) of an already tokenized query.

        A repeated token counts once per occurrence; unknown tokens add nothing.
        """
        counts = Counter(tokens)
        pairs = [(self.vocabulary[t], c) for t, c in counts.items() if t in self.vocabulary]
        if not pairs:
            return np.zeros(self.num_docs, dtype=np.float64)
        indptr, indices, data = self.weights.indptr, self.weights.indices, self.weights.data
        spans = [(indptr[j], indptr[j + 1], c) for j, c in pairs]
        docs = np.concatenate([indices[s:e] for s, e, _ in spans])
        vals = np.concatenate([data[s:e] * c for s, e, c in spans])
        return np.bincount(docs, weights=vals, minlength=self.num_docs)

    def scores(self, query: str) -> np.ndarray:
        """BM25 scores (``float64``, shape ``(num_docs,)``) of ``query`` against every document."""
        return self.score_tokens(self.tokenizer(query))

    def top_k(self, query: str, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best documents for ``query`` as ``(ids, scores)``, best first.

        ``mask`` (boolean, one entry per document) lists the allowed documents; it is applied
        before the cut, so a disallowed document never appears and never takes a slot.
        Only documents with a positive score are candidates, so fewer than ``k`` results
        come back when fewer match. Ties are broken by ascending document id.
        """
        return select_top_k(self.scores(query), k, mask)

    def save(self, directory: Path) -> None:
        """Write the index to ``directory`` (created if needed): weights ``.npz`` + JSON manifest."""
        directory.mkdir(parents=True, exist_ok=True)
        sp.save_npz(directory / WEIGHTS_FILE, self.weights, compressed=False)
        manifest = {
            "format": FORMAT,
            "config": self.config.to_dict(),
            "num_docs": self.num_docs,
            "avgdl": self.avgdl,
            "vocabulary": list(self.vocabulary),
        }
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        """Read an index written by :meth:`save`."""
        try:
            manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
            weights = sp.load_npz(directory / WEIGHTS_FILE)
        except (OSError, ValueError) as exc:
            raise RetrievalError(f"cannot read the BM25 index in {directory}: {exc}; rebuild it") from exc
        if manifest.get("format") != FORMAT:
            raise RetrievalError(
                f"BM25 index in {directory} has format {manifest.get('format')!r}, "
                f"this version reads format {FORMAT}; rebuild it"
            )
        missing = sorted({"config", "num_docs", "avgdl", "vocabulary"} - set(manifest))
        if missing or weights.shape[0] != manifest["num_docs"]:
            raise RetrievalError(
                f"BM25 index in {directory} is inconsistent ({', '.join(missing) or 'document count'}); "
                "rebuild it"
            )
        config = BM25Config.from_dict(manifest["config"])
        return cls(config, manifest["vocabulary"], sp.csc_matrix(weights), float(manifest["avgdl"]))


def select_top_k(scores: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ids and scores of the ``k`` highest positive ``scores`` allowed by ``mask``.

    Uses ``np.argpartition`` on the candidate set, then orders by (score desc, id asc);
    all candidates tied with the k-th score are kept through the partition so the cut is
    deterministic.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, not {k}")
    allowed = scores > 0
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != scores.shape:
            raise ValueError(
                f"mask must be a boolean array of shape {scores.shape}, not {mask.dtype} {mask.shape}"
            )
        allowed &= mask
    cand = np.flatnonzero(allowed)
    if k == 0 or cand.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=scores.dtype)
    cand_scores = scores[cand]
    if cand.size > k:
        kth = cand_scores[np.argpartition(cand_scores, cand.size - k)[cand.size - k]]
        keep = cand_scores >= kth
        cand, cand_scores = cand[keep], cand_scores[keep]
    order = np.lexsort((cand, -cand_scores))[:k]
    return cand[order].astype(np.int64), cand_scores[order]
