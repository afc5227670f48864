"""Retrieval evaluation: BEIR-format readers, ranking metrics, latency percentiles, SQuAD conversion.

BEIR layout (Thakur et al. 2021): ``corpus.jsonl`` (``{"_id", "title", "text"}``), ``queries.jsonl``
(``{"_id", "text"}``) and a qrels TSV with the header ``query-id\\tcorpus-id\\tscore``. Scores are kept
as given; a document is *relevant* when its score is > 0 (the trec_eval convention). Bad input raises
:class:`RetrievalError` naming the file, the line and the problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from attest.core.errors import RetrievalError

QRELS_HEADER = ("query-id", "corpus-id", "score")

Qrels = dict[str, dict[str, int]]


@dataclass(frozen=True)
class CorpusDoc:
    """One BEIR corpus document."""

    id: str
    title: str
    text: str


class Mode(Enum):
    """Retrieval mode a benchmark runs; ``ALL`` stands for every concrete mode."""

    BM25 = "bm25"
    DENSE = "dense"
    HYBRID = "hybrid"
    ALL = "all"

    @classmethod
    def from_str(cls, value: str) -> Mode:
        """The mode named ``value`` (case-insensitive); RetrievalError listing the valid names if none."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise RetrievalError(f"unknown retrieval mode {value!r}; valid modes: {valid}") from None

    def expand(self) -> tuple[Mode, ...]:
        """The concrete modes this mode stands for: all but ``ALL`` for ``ALL``, else itself."""
        if self is Mode.ALL:
            return tuple(m for m in Mode if m is not Mode.ALL)
        return (self,)


# --- readers -------------------------------------------------------------------------------------


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for the non-blank lines of a UTF-8 file, numbered from 1."""
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    yield number, line.rstrip("\r\n")
    except FileNotFoundError:
        raise RetrievalError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise RetrievalError(f"{path.name}: not UTF-8 text ({exc.reason})") from None


def _json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each JSON-object line of a JSONL file."""
    for number, line in _lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RetrievalError(f"{path.name} line {number}: invalid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise RetrievalError(f"{path.name} line {number}: expected a JSON object")
        yield number, obj


def _field(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    """The string field ``key`` of ``obj`` (an int ``_id`` is accepted as its decimal string)."""
    if key not in obj:
        if required:
            raise RetrievalError(f"{where}: missing {key!r}")
        return ""
    value = obj[key]
    if key == "_id" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RetrievalError(f"{where}: {key!r} must be a string")
    if key == "_id" and not value:
        raise RetrievalError(f"{where}: '_id' is empty")
    return value


def read_corpus(path: str | Path) -> list[CorpusDoc]:
    """Read a BEIR ``corpus.jsonl``: one ``{"_id", "title"?, "text"}`` object per line, in file order."""
    path = Path(path)
    docs: list[CorpusDoc] = []
    seen: set[str] = set()
    for number, obj in _json_objects(path):
        where = f"{path.name} line {number}"
        doc_id = _field(obj, "_id", where)
        if doc_id in seen:
            raise RetrievalError(f"{where}: duplicate '_id' {doc_id!r}")
        seen.add(doc_id)
        title = _field(obj, "title", where, required=False)
        docs.append(CorpusDoc(doc_id, title, _field(obj, "text", where)))
    return docs


def read_queries(path: str | Path) -> dict[str, str]:
    """Read a BEIR ``queries.jsonl`` into ``{query_id: text}`` (file order)."""
    path = Path(path)
    queries: dict[str, str] = {}
    for number, obj in _json_objects(path):
        where = f"{path.name} line {number}"
        query_id = _field(obj, "_id", where)
        if query_id in queries:
            raise RetrievalError(f"{where}: duplicate '_id' {query_id!r}")
        queries[query_id] = _field(obj, "text", where)
    return queries


def read_qrels(path: str | Path) -> Qrels:
    """Read a BEIR qrels TSV (header ``query-id\\tcorpus-id\\tscore``) into ``{qid: {doc_id: score}}``.

    Scores are kept as given, zero and negative included; relevance (score > 0) is decided by the metrics.
    """
    path = Path(path)
    qrels: Qrels = {}
    for number, line in _lines(path):
        where = f"{path.name} line {number}"
        fields = line.split("\t")
        if number == 1 and tuple(f.strip() for f in fields) == QRELS_HEADER:
            continue
        if number == 1:
            raise RetrievalError(f"{where}: expected the header 'query-id<TAB>corpus-id<TAB>score'")
        if len(fields) != 3 or not fields[0].strip() or not fields[1].strip():
            raise RetrievalError(f"{where}: expected 3 tab-separated fields, got {len(fields)}")
        query_id, doc_id, raw = (f.strip() for f in fields)
        try:
            score = int(raw)
        except ValueError:
            raise RetrievalError(f"{where}: score {raw!r} is not an integer") from None
        judged = qrels.setdefault(query_id, {})
        if doc_id in judged:
            raise RetrievalError(f"{where}: duplicate judgement for ({query_id!r}, {doc_id!r})")
        judged[doc_id] = score
    return qrels


# --- metrics -------------------------------------------------------------------------------------


def _top_k(ranked_ids: Sequence[str], k: int) -> list[str]:
    """The first ``k`` distinct ids of a ranking (a repeated id counts at its first rank only)."""
    if k < 1:
        raise RetrievalError(f"cut-off k must be at least 1, got {k}")
    top: list[str] = []
    for doc_id in dict.fromkeys(ranked_ids):
        if len(top) == k:
            break
        top.append(doc_id)
    return top


def _relevant(qrel: Mapping[str, int]) -> set[str]:
    """Ids of the judged documents with score > 0."""
    return {doc_id for doc_id, score in qrel.items() if score > 0}


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain (Järvelin & Kekäläinen 2002): sum of gain_i / log2(i + 1), i from 1."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(ranked_ids: Sequence[str], qrel: Mapping[str, int], k: int) -> float:
    """nDCG@k with graded gains as in BEIR/pytrec_eval: gain = relevance score (0 if unjudged or <= 0).

    DCG@k = sum_{i=1..k} rel_i / log2(i + 1); IDCG@k is the DCG of the top k of the judged relevant
    documents sorted by score, descending. 0.0 when no document is relevant.
    """
    top = _top_k(ranked_ids, k)
    ideal = sorted((s for s in qrel.values() if s > 0), reverse=True)[:k]
    if not ideal:
        return 0.0
    return dcg([max(qrel.get(doc_id, 0), 0) for doc_id in top]) / dcg(ideal)


def recall_at_k(ranked_ids: Sequence[str], qrel: Mapping[str, int], k: int) -> float:
    """Recall@k: relevant documents (score > 0) among the top k / all relevant; 0.0 if none relevant."""
    relevant = _relevant(qrel)
    if not relevant:
        return 0.0
    return len(relevant.intersection(_top_k(ranked_ids, k))) / len(relevant)


def mrr_at_k(ranked_ids: Sequence[str], qrel: Mapping[str, int], k: int) -> float:
    """Reciprocal rank (Voorhees 1999, TREC-8 QA) cut at k: 1 / rank of the first relevant doc, else 0."""
    relevant = _relevant(qrel)
    for rank, doc_id in enumerate(_top_k(ranked_ids, k), start=1):
        if doc_id in relevant:
            return 1.0 / rank
    return 0.0


def evaluate_run(
    run: Mapping[str, Sequence[str]], qrels: Qrels, ks: Sequence[int] = (10, 100)
) -> dict[str, float]:
    """Mean metrics of a run (``{query_id: ranked doc ids}``) over the queries with a relevant doc.

    Returns ``ndcg@K`` and ``mrr@K`` for the first cut-off K of ``ks`` and ``recall@k`` for every k in
    ``ks`` (defaults: ndcg@10, recall@10, recall@100, mrr@10). Queries without a relevant judgement are
    left out of the mean, as are run queries absent from qrels; a judged query missing from the run counts
    as an empty ranking (scores 0; pytrec_eval would skip it instead).
    """
    if not ks:
        raise RetrievalError("evaluate_run needs at least one cut-off k")
    judged = [qid for qid, qrel in qrels.items() if _relevant(qrel)]
    if not judged:
        raise RetrievalError("no query in the qrels has a relevant document (score > 0)")
    first = ks[0]
    per_metric: dict[str, list[float]] = {f"ndcg@{first}": []}
    per_metric.update({f"recall@{k}": [] for k in ks})
    per_metric[f"mrr@{first}"] = []
    for qid in judged:
        ranking, qrel = run.get(qid, ()), qrels[qid]
        per_metric[f"ndcg@{first}"].append(ndcg_at_k(ranking, qrel, first))
        per_metric[f"mrr@{first}"].append(mrr_at_k(ranking, qrel, first))
        for k in ks:
            per_metric[f"recall@{k}"].append(recall_at_k(ranking, qrel, k))
    return {name: sum(values) / len(values) for name, values in per_metric.items()}


def latency_percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 of latency samples in ms.

    numpy ``percentile`` with ``method="linear"`` (Hyndman & Fan 1996 definition 7): the value at
    fractional rank (n - 1) * p / 100 of the sorted samples, interpolated linearly between neighbours.
    """
    if len(samples_ms) == 0:
        raise RetrievalError("latency_percentiles needs at least one sample")
    values = np.percentile(np.asarray(samples_ms, dtype=float), [50, 95, 99], method="linear")
    return {"p50": float(values[0]), "p95": float(values[1]), "p99": float(values[2])}


# --- SQuAD -> BEIR -------------------------------------------------------------------------------


def _answerable(qa: Mapping[str, Any]) -> bool:
    """A SQuAD v2 question is answerable when not ``is_impossible`` and it has at least one answer."""
    return not qa.get("is_impossible", False) and bool(qa.get("answers"))


def squad_to_beir(
    squad_json: Mapping[str, Any],
) -> tuple[list[dict[str, str]], list[dict[str, str]], list[tuple[str, str, int]]]:
    """Convert SQuAD (v1.1/v2.0 JSON) to BEIR rows: ``(corpus, queries, qrels)``.

    One document per paragraph, ``_id`` = ``"{article_index}-{paragraph_index}"``, title = article title,
    text = context. Queries are the answerable questions (``_id`` = SQuAD id); each has one qrel, score 1,
    for its own paragraph.
    """
    articles = squad_json.get("data")
    if not isinstance(articles, list):
        raise RetrievalError("SQuAD JSON: missing the 'data' list of articles")
    corpus: list[dict[str, str]] = []
    queries: list[dict[str, str]] = []
    qrels: list[tuple[str, str, int]] = []
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(article.get("paragraphs", [])):
            doc_id = f"{a}-{p}"
            corpus.append({"_id": doc_id, "title": article.get("title", ""), "text": paragraph["context"]})
            for qa in paragraph.get("qas", []):
                if _answerable(qa):
                    queries.append({"_id": qa["id"], "text": qa["question"]})
                    qrels.append((qa["id"], doc_id, 1))
    return corpus, queries, qrels
