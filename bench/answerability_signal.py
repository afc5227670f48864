"""How much can word overlap tell an answerable SQuAD 2.0 question from an unanswerable one?

The extractive backend, and the factuality checker that follows it, judge whether the
answer is supported by its passage, not whether the passage answers the *question*. This
script measures the cheapest signal for the second judgement, with no retrieval in the way:
each question against its own gold paragraph (the best case), two lexical features:

* coverage: the IDF-weighted share of the question's content words found in the paragraph;
* missing: the largest IDF among the question's content words the paragraph lacks.

It prints each feature's ROC AUC for telling unanswerable questions apart (0.5 is chance),
and, for coverage thresholds, the share of unanswerable and of answerable questions that
would be declined. Usage:
    python bench/answerability_signal.py [--squad PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sklearn.metrics import roc_auc_score

from attest.eval.datasets import SQUAD_DEV
from attest.text.tokenize import ENGLISH_STOPWORDS


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD_DEV)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.squad.is_file():
        sys.exit(f"{args.squad} is missing: this benchmark needs ../shared/data (see its README)")
    articles = json.loads(args.squad.read_text())["data"]
    paragraphs = [p for article in articles for p in article["paragraphs"]]
    df = Counter(w for p in paragraphs for w in set(words(p["context"])))

    def idf(word: str) -> float:
        return math.log((len(paragraphs) + 1) / (df.get(word, 0) + 0.5))

    labels, coverage, missing = [], [], []
    for paragraph in paragraphs:
        present = set(words(paragraph["context"]))
        for qa in paragraph["qas"]:
            content = [w for w in words(qa["question"]) if w not in ENGLISH_STOPWORDS] or ["?"]
            lacking = [w for w in content if w not in present]
            labels.append(int(qa["is_impossible"]))
            coverage.append(1 - sum(map(idf, lacking)) / sum(map(idf, content)))
            missing.append(max(map(idf, lacking), default=0.0))
    unanswerable = [c for c, y in zip(coverage, labels, strict=True) if y]
    answerable = [c for c, y in zip(coverage, labels, strict=True) if not y]
    report = {
        "date": datetime.now(UTC).date().isoformat(),
        "questions": {"unanswerable": len(unanswerable), "answerable": len(answerable)},
        "roc_auc": {
            "coverage": round(roc_auc_score(labels, [-c for c in coverage]), 4),
            "missing": round(roc_auc_score(labels, missing), 4),
        },
        "declined_below_coverage": {
            str(t): {
                "unanswerable": round(sum(c < t for c in unanswerable) / len(unanswerable), 3),
                "answerable": round(sum(c < t for c in answerable) / len(answerable), 3),
            }
            for t in (0.5, 0.7, 0.8, 0.9)
        },
    }
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
