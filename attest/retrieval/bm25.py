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

The index keeps raw term frequencies in a ``scipy.sparse`` CSC matrix (documents x terms)
and the document lengths, not precomputed weights. ``N``, ``n_t``, ``avgdl`` and the idf
floor are :class:`CorpusStats` over a set of documents: the whole index, or only the
documents a user may read. Scoring with the stats of the readable set gives exactly the
scores an index built from those documents alone would give, so documents a user may not
read never shift their ranking. A query touches only the postings of its own terms.
Scores are ``float64``.
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
from attest.text.tokenize import Tokenizer, TokenizerConfig

FORMAT = 2
MANIFEST_FILE = "bm25.json"
ARRAY_FILES = ("indptr", "indices", "tf", "doc_len")  # each saved as NAME.npy, memory-mapped on load


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
    as_np = [np.frombuffer(a, dtype=np.int64) if len(a) else np.zeros(0, np.int64) for a in (rows, cols, tfs)]
    len_np = np.frombuffer(lengths, dtype=np.int64).astype(np.float64) if len(lengths) else np.zeros(0)
    return vocab, as_np[0], as_np[1], as_np[2], len_np


@dataclass(frozen=True)
class CorpusStats:
    """What BM25 scores depend on besides term frequencies, over one set of documents."""

    num_docs: int
    avgdl: float
    idf: np.ndarray  # per vocabulary term, floor applied; terms absent from the set: 0


class BM25Index:
    """An immutable BM25 Okapi index: term frequencies (CSC), document lengths, vocabulary.

    Document ids are the positions of the texts given to :meth:`build` (0-based).
    """

    def __init__(
        self, config: BM25Config, vocabulary: Sequence[str], tf: sp.csc_matrix, doc_len: np.ndarray
    ) -> None:
        if tf.shape != (len(doc_len), len(vocabulary)):
            raise RetrievalError(
                f"BM25 index is inconsistent: a {tf.shape} frequency matrix for {len(doc_len)} "
                f"documents and {len(vocabulary)} terms; rebuild the index"
            )
        self.config = config
        self.vocabulary: dict[str, int] = {t: i for i, t in enumerate(vocabulary)}
        self.tf = tf
        self.doc_len = doc_len
        self.tokenizer = Tokenizer(config.tokenizer)
        self.stats = self.stats_for(None)

    @property
    def num_docs(self) -> int:
        """Number of documents in the index."""
        return int(self.tf.shape[0])

    @property
    def avgdl(self) -> float:
        """Average document length (in tokens) over the whole index."""
        return float(self.doc_len.mean()) if self.num_docs else 0.0

    @classmethod
    def build(cls, texts: Iterable[str], config: BM25Config | None = None) -> BM25Index:
        """Index ``texts`` (document id = position) with ``config`` (defaults if omitted)."""
        config = config or BM25Config()
        tokenizer = Tokenizer(config.tokenizer)
        return cls.from_tokens((tokenizer(t) for t in texts), config)

    @classmethod
    def from_tokens(cls, docs: Iterable[Sequence[str]], config: BM25Config | None = None) -> BM25Index:
        """Index already tokenized documents, exactly as ``rank_bm25.BM25Okapi(docs)`` would."""
        vocab, rows, cols, tf, doc_len = _count_terms(docs)
        dtype = np.uint16 if not tf.size or tf.max() <= np.iinfo(np.uint16).max else np.uint32
        matrix = sp.csc_matrix((tf.astype(dtype), (rows, cols)), shape=(len(doc_len), len(vocab)))
        matrix.sort_indices()
        return cls(config or BM25Config(), list(vocab), matrix, doc_len)

    def stats_for(self, mask: np.ndarray | None) -> CorpusStats:
        """Corpus statistics over the documents ``mask`` allows (all when ``None``).

        Costs one pass over the postings when ``mask`` is given; callers cache the result
        per distinct set of readable documents.
        """
        if mask is None:
            num_docs, lengths = self.num_docs, self.doc_len
            doc_freq = np.diff(self.tf.indptr)
        else:
            num_docs, lengths = int(mask.sum()), self.doc_len[mask]
            doc_freq = _masked_column_counts(self.tf, mask)
        present = doc_freq > 0
        idf = np.zeros(len(doc_freq), dtype=np.float64)
        idf[present] = okapi_idf(doc_freq[present].astype(np.float64), num_docs, self.config.epsilon)
        return CorpusStats(num_docs, float(lengths.mean()) if num_docs else 0.0, idf)

    def score_tokens(
        self, tokens: Iterable[str], stats: CorpusStats | None = None, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """BM25 scores (``float64``, one per document) of an already tokenized query.

        A repeated token counts once per occurrence; unknown tokens add nothing. With
        ``mask``, documents outside it score 0; ``stats`` defaults to the whole index.
        """
        stats = stats or self.stats
        counts = Counter(tokens)
        scores = np.zeros(self.num_docs, dtype=np.float64)
        indptr, indices, data = self.tf.indptr, self.tf.indices, self.tf.data
        k1, b = self.config.k1, self.config.b
        for term, count in counts.items():
            j = self.vocabulary.get(term)
            if j is None or stats.idf[j] == 0:
                continue
            docs, tf = indices[indptr[j] : indptr[j + 1]], data[indptr[j] : indptr[j + 1]]
            if mask is not None:
                keep = mask[docs]
                docs, tf = docs[keep], tf[keep]
            tf = tf.astype(np.float64)
            if stats.avgdl > 0:
                norm = k1 * (1 - b + b * self.doc_len[docs] / stats.avgdl)
            else:
                norm = np.full(len(docs), k1)
            scores[docs] += (count * stats.idf[j]) * (tf * (k1 + 1) / (tf + norm))
        return scores

    def scores(self, query: str) -> np.ndarray:
        """BM25 scores (``float64``, shape ``(num_docs,)``) of ``query`` against every document."""
        return self.score_tokens(self.tokenizer(query))

    def top_k(
        self, query: str, k: int, mask: np.ndarray | None = None, stats: CorpusStats | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best documents for ``query`` as ``(ids, scores)``, best first.

        ``mask`` (boolean, one entry per document) lists the allowed documents; it is applied
        before the cut, so a disallowed document never appears and never takes a slot.
        ``stats`` are the corpus statistics to score with (see :meth:`stats_for`).
        Only documents with a positive score are candidates, so fewer than ``k`` results
        come back when fewer match. Ties are broken by ascending document id.
        """
        if mask is not None and (mask.dtype != np.bool_ or mask.shape != (self.num_docs,)):
            raise ValueError(f"mask must be a boolean array of shape ({self.num_docs},)")
        return select_top_k(self.score_tokens(self.tokenizer(query), stats, mask), k, mask)

    def save(self, directory: Path) -> None:
        """Write the index to ``directory`` (created if needed): one ``.npy`` per array + manifest."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {"indptr": self.tf.indptr, "indices": self.tf.indices, "tf": self.tf.data}
        for name, values in {**arrays, "doc_len": self.doc_len}.items():
            np.save(directory / f"{name}.npy", values)
        manifest = {
            "format": FORMAT,
            "config": self.config.to_dict(),
            "num_docs": self.num_docs,
            "vocabulary": list(self.vocabulary),
        }
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        """Read an index written by :meth:`save`; the arrays are memory-mapped, not copied."""
        try:
            manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
            if manifest.get("format") != FORMAT:
                raise RetrievalError(
                    f"BM25 index in {directory} has format {manifest.get('format')!r}, "
                    f"this version reads format {FORMAT}; rebuild it"
                )
            missing = sorted({"config", "num_docs", "vocabulary"} - set(manifest))
            if missing:
                raise RetrievalError(f"BM25 index in {directory} lacks {', '.join(missing)}; rebuild it")
            arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in ARRAY_FILES}
            shape = (int(manifest["num_docs"]), len(manifest["vocabulary"]))
            tf = sp.csc_matrix((arrays["tf"], arrays["indices"], arrays["indptr"]), shape=shape, copy=False)
        except (OSError, ValueError) as exc:
            raise RetrievalError(f"cannot read the BM25 index in {directory}: {exc}; rebuild it") from exc
        config = BM25Config.from_dict(manifest["config"])
        return cls(config, manifest["vocabulary"], tf, np.asarray(arrays["doc_len"]))


def _masked_column_counts(matrix: sp.csc_matrix, mask: np.ndarray) -> np.ndarray:
    """Per column, how many of its stored rows ``mask`` allows (every column is non-empty)."""
    if matrix.nnz == 0:
        return np.zeros(matrix.shape[1], dtype=np.int64)
    allowed = mask[matrix.indices]
    return np.add.reduceat(allowed, matrix.indptr[:-1], dtype=np.int64)


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
