"""Could a model of the whole reading decline better than the best unit's probability?

Reads the readings that ``bench/calibrate_reader.py --dump FILE`` kept (the calibration
questions of SQuAD 2.0 dev's even articles and the held-out ones of the odd articles) and,
for each set of question-level features below, fits a logistic regression of "the question
is answerable" on the calibration questions and reports, on the held-out ones:

* ROC AUC of answerable against unanswerable questions;
* the unanswerable questions declined at the threshold that declines 10 % of the
  answerable ones (chosen on the held-out questions themselves, so this is the best the
  features allow, not a calibrated figure).

Features of one reading, computed from the units' answer probabilities (the answer model
fitted on the calibration questions, as ``bench/calibrate_reader.py`` fits it) and from
the units' feature rows:

* ``best``: the best unit's answer probability (as a logit): the shipped gate;
* ``reader`` / ``reader_second``: the reader's best and second-best logits;
* ``similarity``: the best embedding similarity of a unit to the question;
* ``relevance``: the best retrieved chunk's cosine (the embedding gate's input).

Usage:
    python bench/decline_features.py --readings FILE [--json]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from attest.core import logistic
from attest.reader.features import FEATURES

sys.path.insert(0, str(Path(__file__).parent))
from calibrate_reader import Read, fit  # noqa: E402

Weights = tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], float]

NAMES = ("best", "reader", "reader_second", "similarity", "relevance")
SETS = (
    ("best",),
    ("reader",),
    ("best", "reader", "reader_second"),
    ("best", "reader", "reader_second", "similarity"),
    ("best", "reader", "reader_second", "similarity", "relevance"),
)
NONE = -10.0  # a missing logit (no unit, or no runner-up)


def row(item: Read, weights: Weights) -> list[float]:
    """The question-level features of one reading (:data:`NAMES`)."""
    if not len(item.x):
        return [NONE, NONE, NONE, 0.0, item.relevance]
    best = float(np.clip(logistic.probability(item.x, *weights).max(), 1e-6, 1 - 1e-6))
    readers = np.sort(item.x[:, FEATURES.index("reader")])[::-1]
    second = float(readers[1]) if len(readers) > 1 else NONE
    similarity = float(item.x[:, FEATURES.index("similarity")].max())
    return [float(np.log(best / (1 - best))), float(readers[0]), second, similarity, item.relevance]


def report(calibration: list[Read], held_out: list[Read]) -> list[dict[str, object]]:
    from sklearn.metrics import roc_auc_score

    weights = fit(calibration)
    xc = np.asarray([row(i, weights) for i in calibration])
    yc = np.asarray([i.answerable for i in calibration], dtype=int)
    xh = np.asarray([row(i, weights) for i in held_out])
    yh = np.asarray([i.answerable for i in held_out], dtype=int)
    results = []
    for names in SETS:
        columns = [NAMES.index(n) for n in names]
        mean, scale, coef, intercept = logistic.fit(xc[:, columns], yc)
        scores = logistic.probability(xh[:, columns], mean, scale, coef, intercept)
        threshold = np.quantile(scores[yh == 1], 0.10)
        results.append(
            {
                "features": list(names),
                "coef": dict(zip(names, coef, strict=True)),
                "roc_auc": round(float(roc_auc_score(yh, scores)), 4),
                "unanswerable_declined_at_10": round(float(np.mean(scores[yh == 0] < threshold)), 4),
            }
        )
    return results


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--readings", type=Path, required=True, help="a calibrate_reader.py --dump file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    kept = pickle.loads(args.readings.read_bytes())  # noqa: S301 (a file calibrate_reader.py wrote)
    calibration, held_out = ([Read(**item) for item in kept[half]] for half in ("calibration", "held_out"))
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "questions": {"calibration": len(calibration), "held_out": len(held_out)},
        "sets": report(calibration, held_out),
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
