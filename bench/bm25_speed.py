"""BM25 query speed: Attest's sparse index against ``rank_bm25.BM25Okapi`` on the same corpus.

Synthetic corpus: documents of 40-200 tokens drawn from a Zipf-distributed vocabulary, and
five-token queries drawn the same way. Both indexes see the same token lists, so only the
scoring differs. Usage: python bench/bm25_speed.py [--docs 5000] [--queries 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime

import numpy as np
from rank_bm25 import BM25Okapi

from attest.retrieval.bm25 import BM25Index


def synthetic(
    docs: int, queries: int, vocab: int = 20_000, seed: int = 7
) -> tuple[list[list[str]], list[list[str]]]:
    """Token lists for documents and queries from a Zipf(1.1) vocabulary."""
    rng = np.random.default_rng(seed)

    def words(n: int) -> list[str]:
        return [f"w{i}" for i in np.minimum(rng.zipf(1.1, n), vocab)]

    return [words(int(rng.integers(40, 200))) for _ in range(docs)], [words(5) for _ in range(queries)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus, queries = synthetic(args.docs, args.queries)
    ours = BM25Index.from_tokens(corpus)
    reference = BM25Okapi(corpus)

    started = time.perf_counter()
    ours_scores = [ours.score_tokens(q) for q in queries]
    ours_ms = (time.perf_counter() - started) * 1000 / len(queries)
    started = time.perf_counter()
    ref_scores = [reference.get_scores(q) for q in queries]
    ref_ms = (time.perf_counter() - started) * 1000 / len(queries)
    max_diff = max(float(np.abs(a - b).max()) for a, b in zip(ours_scores, ref_scores, strict=True))

    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "docs": args.docs,
        "queries": args.queries,
        "attest_ms_per_query": round(ours_ms, 3),
        "rank_bm25_ms_per_query": round(ref_ms, 3),
        "speedup": round(ref_ms / ours_ms, 1),
        "max_score_difference": max_diff,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}", file=sys.stderr)


if __name__ == "__main__":
    main()
