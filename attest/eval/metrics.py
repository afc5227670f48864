"""Evaluation metrics: ranking (nDCG, recall, MRR), SQuAD answers (EM, F1), detection, latency.

Pure functions over plain values; the runners in this package and the scripts in ``bench/``
compute every figure they report with these. Ranking metrics follow the trec_eval
convention: a judged document is *relevant* when its score is > 0.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, balanced_accuracy_score, f1_score, roc_auc_score

from attest.core.errors import RetrievalError

# --- ranking -------------------------------------------------------------------------------------


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
    run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], ks: Sequence[int] = (10, 100)
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


# --- SQuAD answers -------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_CITATION = re.compile(r"\s*\[\d+(?:\s*[,-]\s*\d+)*\]")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """The official SQuAD normalisation (lower case, no punctuation, no articles ``a an the``,
    single spaces), after removing citation marks such as ``[2]``."""
    text = _CITATION.sub("", text)
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised gold answer (SQuAD EM), else 0.0."""
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def f1(prediction: str, golds: Sequence[str]) -> float:
    """Best token F1 of ``prediction`` against any gold answer (the official SQuAD script's F1)."""
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        expected = normalize_answer(gold).split()
        common = sum((Counter(predicted) & Counter(expected)).values())
        if common:
            precision, recall = common / len(predicted), common / len(expected)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_gold(prediction: str, golds: Sequence[str]) -> bool:
    """Whether a normalised gold answer appears, as whole words, inside the normalised prediction:
    the fairer measure for a generator that answers in sentences."""
    answer = f" {normalize_answer(prediction)} "
    return any(f" {normalize_answer(g)} " in answer for g in golds if normalize_answer(g))


# --- detection -----------------------------------------------------------------------------------


def detection_scores(
    positive: Sequence[bool], risk: Sequence[float], flagged: Sequence[bool]
) -> dict[str, float]:
    """How well ``risk`` ranks and ``flagged`` decides the ``positive`` items, rounded to 4 places.

    ROC AUC and PR AUC (average precision) of the scores, balanced accuracy and F1 of the
    decisions, as scikit-learn computes them.
    """
    truth = np.asarray(positive, dtype=bool)
    scores = np.asarray(risk, dtype=float)
    decided = np.asarray(flagged, dtype=bool)
    return {
        "roc_auc": round(float(roc_auc_score(truth, scores)), 4),
        "pr_auc": round(float(average_precision_score(truth, scores)), 4),
        "balanced_accuracy": round(float(balanced_accuracy_score(truth, decided)), 4),
        "f1": round(float(f1_score(truth, decided)), 4),
    }


# --- latency -------------------------------------------------------------------------------------


def latency_percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 of latency samples in ms.

    numpy ``percentile`` with ``method="linear"`` (Hyndman & Fan 1996 definition 7): the value at
    fractional rank (n - 1) * p / 100 of the sorted samples, interpolated linearly between neighbours.
    """
    if len(samples_ms) == 0:
        raise RetrievalError("latency_percentiles needs at least one sample")
    values = np.percentile(np.asarray(samples_ms, dtype=float), [50, 95, 99], method="linear")
    return {"p50": float(values[0]), "p95": float(values[1]), "p99": float(values[2])}


def time_to_first_word(timings_ms: Mapping[str, float]) -> float:
    """How long the asker waited for the answer's first text: the stages up to the model's
    first piece (``first_token``), or the whole answer when it came at once (a decline)."""
    waited = 0.0
    for stage, ms in timings_ms.items():  # in the order the stages ran
        waited += ms
        if stage == "first_token":
            break
    return round(waited, 2)
