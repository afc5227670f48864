"""Choose the hybrid fusion defaults by measurement, on a tuning half of the queries.

Indexes a BEIR data set through the normal pipeline (default: SQuAD 2.0 dev converted
with ``squad_to_beir``), retrieves BM25 and dense rankings once per query, then fuses them
offline under a grid of settings: RRF with several k and dense weights, and weighted
min-max fusion with several dense weights. Queries are split by a hash of their id into a
tuning half and a test half; the best setting on the tuning half is reported with its
test-half metrics next to BM25 alone and dense alone, so the choice is not judged on the
data that chose it. Usage:
    python bench/tune_fusion.py [--squad FILE | --corpus C --queries Q --qrels R] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attest.core.settings import get_settings
from attest.eval.beir import CHUNK_DEPTH, doc_ranking, index_corpus
from attest.eval.datasets import (
    SQUAD_DEV,
    CorpusDoc,
    Qrels,
    read_corpus,
    read_qrels,
    read_queries,
    squad_to_beir,
)
from attest.eval.metrics import evaluate_run
from attest.retrieval.fusion import Ranking, reciprocal_rank_fusion, weighted_fusion
from attest.retrieval.records import ChunkRecord

RRF_KS = (5, 10, 20, 40, 60, 100)
DENSE_WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def load_data(args: argparse.Namespace) -> tuple[list[CorpusDoc], dict[str, str], Qrels]:
    """The BEIR data named on the command line, or SQuAD dev converted in memory."""
    if args.corpus:
        return read_corpus(args.corpus), read_queries(args.queries), read_qrels(args.qrels)
    if not args.squad.is_file():
        print(f"skipped: SQuAD file not found: {args.squad}", file=sys.stderr)
        sys.exit(0)
    corpus_rows, query_rows, qrel_rows = squad_to_beir(json.loads(args.squad.read_text()))
    corpus = [CorpusDoc(r["_id"], r.get("title", ""), r["text"]) for r in corpus_rows]
    qrels: Qrels = {}
    for qid, doc, score in qrel_rows:
        qrels.setdefault(qid, {})[doc] = score
    return corpus, {r["_id"]: r["text"] for r in query_rows}, qrels


def in_tuning_half(qid: str) -> bool:
    return hashlib.sha256(qid.encode()).digest()[0] % 2 == 0


def fused_run(
    rankings: dict[str, tuple[Ranking, Ranking]],
    chunks: Sequence[ChunkRecord],
    id_of: dict[str, str],
    how: dict,
) -> dict[str, list[str]]:
    """Document rankings per query for one fusion setting."""
    run = {}
    for qid, (bm25, dense) in rankings.items():
        weights = [1 - how["dense_weight"], how["dense_weight"]]
        if how["fusion"] == "rrf":
            ids, _ = reciprocal_rank_fusion([bm25, dense], k=how["rrf_k"], weights=weights)
        elif how["fusion"] == "weighted":
            ids, _ = weighted_fusion([bm25, dense], weights)
        else:
            ids = (bm25 if how["fusion"] == "bm25" else dense)[0]
        run[qid] = doc_ranking([chunks[int(i)] for i in ids], id_of)
    return run


def grid() -> list[dict[str, Any]]:
    settings: list[dict[str, Any]] = [
        {"fusion": "bm25", "dense_weight": 0.0},
        {"fusion": "dense", "dense_weight": 1.0},
    ]
    settings += [{"fusion": "rrf", "rrf_k": k, "dense_weight": w} for k in RRF_KS for w in DENSE_WEIGHTS]
    settings += [{"fusion": "weighted", "dense_weight": w} for w in DENSE_WEIGHTS]
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD_DEV)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--queries", type=Path)
    parser.add_argument("--qrels", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus, queries, qrels = load_data(args)
    queries = {q: t for q, t in queries.items() if q in qrels}
    with tempfile.TemporaryDirectory(prefix="attest-tune-") as tmp:
        retriever, id_of = index_corpus(corpus, Path(tmp), get_settings())
        rankings = {}
        for n, (qid, text) in enumerate(queries.items(), 1):
            rankings[qid] = (
                retriever.bm25.top_k(text, CHUNK_DEPTH),
                retriever.dense_top_k(text, CHUNK_DEPTH),
            )
            if n % 1000 == 0:
                print(f"retrieved {n}/{len(queries)}", file=sys.stderr)
    chunks = retriever.snapshot.chunks
    halves = {
        name: {q: r for q, r in rankings.items() if in_tuning_half(q) == (name == "tune")}
        for name in ("tune", "test")
    }
    results = []
    for how in grid():
        row = {"setting": how}
        for half, subset in halves.items():
            metrics = evaluate_run(fused_run(subset, chunks, id_of, how), {q: qrels[q] for q in subset})
            row[half] = {k: round(v, 4) for k, v in metrics.items()}
        results.append(row)
    fused = [r for r in results if r["setting"]["fusion"] in ("rrf", "weighted")]
    best = max(fused, key=lambda r: r["tune"]["ndcg@10"])
    report = {
        "date": datetime.now(UTC).date().isoformat(),
        "command": " ".join(["python", *sys.argv]),
        "queries": {half: len(subset) for half, subset in halves.items()},
        "best_on_tune": best,
        "bm25": results[0],
        "dense": results[1],
        "grid": results,
    }
    if args.json:
        print(json.dumps(report))
    for row in [results[0], results[1], best]:
        print(
            f"{row['setting']}: test nDCG@10 {row['test']['ndcg@10']} R@100 {row['test']['recall@100']}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
