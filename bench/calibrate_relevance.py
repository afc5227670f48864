"""Calibrate ``ATTEST_ANSWER_MIN_RELEVANCE``: when is nothing retrieved relevant enough to answer?

Indexes the SQuAD 2.0 dev paragraphs through the normal pipeline and computes, for each
question, the relevance the answering service gates on: the largest cosine between the
question and the chunks hybrid retrieval returns. Three groups of questions:

* answerable SQuAD questions (their paragraph is in the index): should pass the gate;
* unanswerable SQuAD questions: written to look answerable from a real paragraph, so the
  gate cannot catch most of them (the model has to);
* off-topic questions: HaluEval's general-knowledge questions, which this index knows
  nothing about: the gate should stop them.

For each threshold of a grid the script prints the share of each group that is declined,
and picks the highest threshold that still lets at least ``--keep`` of the answerable
questions through. Usage:
    python bench/calibrate_relevance.py [--sample 1000] [--keep 0.98] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from attest.core.settings import get_settings
from attest.eval.beir import index_corpus
from attest.eval.datasets import HALUEVAL_QA, SQUAD_DEV, sample, squad_corpus, squad_questions

GRID = np.round(np.arange(0.10, 0.61, 0.025), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=1000, help="questions per group")
    parser.add_argument("--keep", type=float, default=0.98, help="answerable share that must pass")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for path in (SQUAD_DEV, HALUEVAL_QA):
        if not path.is_file():
            print(f"skipped: {path} not found", file=sys.stderr)
            return
    squad = json.loads(SQUAD_DEV.read_text(encoding="utf-8"))
    questions = squad_questions(squad)
    groups = {
        "answerable": [q.question for q in sample([q for q in questions if q.answerable], args.sample)],
        "unanswerable": [q.question for q in sample([q for q in questions if not q.answerable], args.sample)],
        "off-topic": list(dict.fromkeys(json.loads(line)["question"] for line in HALUEVAL_QA.open()))[
            : args.sample
        ],
    }
    settings = get_settings()
    corpus = squad_corpus(squad)
    with tempfile.TemporaryDirectory(prefix="attest-calibrate-") as tmp:
        retriever, _ = index_corpus(corpus, Path(tmp), settings)
        relevance = {}
        for name, texts in groups.items():
            vectors = retriever.embedder.embed(texts)
            scores = []
            for text, vector in zip(texts, vectors, strict=True):
                rows = [hit.row for hit in retriever.retrieve(text, k=settings.answer_passages)]
                scores.append(float(np.max(np.asarray(retriever.snapshot.embeddings[rows]) @ vector)))
            relevance[name] = np.asarray(scores)
            print(f"{name}: {len(texts)} questions", file=sys.stderr)
    declined = {
        float(t): {name: round(float(np.mean(values < t)), 4) for name, values in relevance.items()}
        for t in GRID
    }
    passing = [t for t, shares in declined.items() if 1 - shares["answerable"] >= args.keep]
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "questions": {name: len(values) for name, values in relevance.items()},
        "percentiles": {
            name: dict(
                zip(
                    ("p5", "p25", "p50", "p75", "p95"),
                    np.round(np.percentile(v, [5, 25, 50, 75, 95]), 3).tolist(),
                    strict=True,
                )
            )
            for name, v in relevance.items()
        },
        "declined_by_threshold": declined,
        "chosen": max(passing) if passing else None,
        "keep": args.keep,
    }
    if args.json:
        print(json.dumps(result))
        return
    print("| threshold | answerable declined | unanswerable declined | off-topic declined |")
    print("|---:|---:|---:|---:|")
    for t, shares in declined.items():
        mark = " **(chosen)**" if t == result["chosen"] else ""
        cells = " | ".join(f"{shares[name]:.3f}" for name in ("answerable", "unanswerable", "off-topic"))
        print(f"| {t}{mark} | {cells} |")
    print(f"\npercentiles of relevance: {json.dumps(result['percentiles'])}")


if __name__ == "__main__":
    main()
