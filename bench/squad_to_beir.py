"""Convert SQuAD v2.0 (``shared/data/squad-v2-dev/dev-v2.0.json``) to a BEIR retrieval dataset.

Writes ``OUT/corpus.jsonl`` (one document per paragraph, ``_id`` = ``{article}-{paragraph}``),
``OUT/queries.jsonl`` (answerable questions only) and the qrels twice, as ``OUT/qrels/test.tsv`` (BEIR
layout) and ``OUT/qrels.tsv`` (same content; score 1 for the question's own paragraph). The conversion
is :func:`attest.eval.datasets.squad_to_beir`. Counts go to stderr; a missing SQuAD file prints
``skipped: ...`` and exits 0.

Usage: python bench/squad_to_beir.py [--squad PATH] --out DIR [--limit-articles N]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from attest.eval.datasets import QRELS_HEADER, SQUAD_DEV, squad_to_beir


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write one JSON object per line, UTF-8, non-ASCII kept as is."""
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_qrels(path: Path, rows: Iterable[tuple[str, str, int]]) -> None:
    """Write a BEIR qrels TSV with the header ``query-id\\tcorpus-id\\tscore``."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write("\t".join(QRELS_HEADER) + "\n")
        for query_id, doc_id, score in rows:
            fh.write(f"{query_id}\t{doc_id}\t{score}\n")


def convert(squad_path: Path, out: Path, limit_articles: int | None = None) -> dict[str, int]:
    """Convert the SQuAD file at ``squad_path`` into a BEIR dataset in ``out``; return the counts."""
    squad = json.loads(squad_path.read_text(encoding="utf-8"))
    if limit_articles is not None:
        squad = {**squad, "data": squad.get("data", [])[:limit_articles]}
    corpus, queries, qrels = squad_to_beir(squad)
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "corpus.jsonl", corpus)
    write_jsonl(out / "queries.jsonl", queries)
    write_qrels(out / "qrels" / "test.tsv", qrels)
    write_qrels(out / "qrels.tsv", qrels)
    articles = len({row["_id"].split("-")[0] for row in corpus})
    return {"articles": articles, "documents": len(corpus), "queries": len(queries), "qrels": len(qrels)}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, convert, print the counts to stderr."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--squad", type=Path, default=SQUAD_DEV, help="SQuAD JSON file")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--limit-articles", type=int, default=None, help="convert the first N articles")
    args = parser.parse_args(argv)
    if args.limit_articles is not None and args.limit_articles < 1:
        parser.error("--limit-articles must be at least 1")
    if not args.squad.is_file():
        print(f"skipped: SQuAD file not found: {args.squad}", file=sys.stderr)
        return 0
    counts = convert(args.squad, args.out, args.limit_articles)
    print(" ".join(f"{name}={value}" for name, value in counts.items()) + f" -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
