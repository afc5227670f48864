"""The factuality checker on a held-out set of synthetic claims, kind by kind.

Reads a factuality file written by ``bench/train_consistency.py --write-heldout FILE``
(each row's id ends in its kind: ``same``, ``negation``, ``entity_swap``, ...), checks
every response against its context with the shipped checker, and prints, for each kind,
the share of responses judged supported (every claim supported), with the ROC AUC of the
answer's score overall and without the ``same`` rows (sentences quoted as they stand).
Run it with another checkout's code (``PYTHONPATH=that/tree``) to compare checkers on
the same file. Usage:
    python bench/factuality_kinds.py --data FILE [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sklearn.metrics import roc_auc_score

from attest.core.settings import get_settings
from attest.eval.datasets import read_items
from attest.ingest.entities import EntityTagger
from attest.text.embedder import SentenceTransformerEmbedder
from attest.verify.checker import FactChecker


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.data.is_file():
        print(
            f"factuality_kinds: {args.data} is missing (write it with bench/train_consistency.py)",
            file=sys.stderr,
        )
        return 2
    settings = get_settings()
    checker = FactChecker(
        SentenceTransformerEmbedder(settings.embedding_model),
        entities=EntityTagger(settings.spacy_pipeline).labelled,
    )
    shown, total = Counter[str](), Counter[str]()
    risk, unsupported, kinds = [], [], []
    for item in read_items(args.data):
        verdict = checker.check(item.response, [(1, item.context)], item.question)
        kind = item.id.split("-", 2)[-1]
        total[kind] += 1
        shown[kind] += bool(verdict.claims) and verdict.unsupported == 0
        risk.append(1.0 - verdict.score)
        unsupported.append(not item.supported)
        kinds.append(kind)
    rest = [(r, u) for r, u, k in zip(risk, unsupported, kinds, strict=True) if k != "same"]
    result = {
        "date": f"{datetime.now(UTC):%Y-%m-%d}",
        "n": len(kinds),
        "roc_auc": round(float(roc_auc_score(unsupported, risk)), 4),
        "roc_auc_without_same": round(float(roc_auc_score([u for _, u in rest], [r for r, _ in rest])), 4),
        "judged_supported": {k: [n, round(shown[k] / n, 3)] for k, n in total.most_common()},
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
