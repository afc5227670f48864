"""Fit the factuality checker's support model and write ``attest/verify/weights.json``.

Training data, from the public files only, so anyone can reproduce the weights:

* HaluEval QA (``halueval-qa/qa-one-turn.factuality.jsonl``), the *training half* only:
  questions with an even number in their id. The odd half is held out and reported.
* Synthetic sentence claims made from those rows' contexts, as the consistency model's
  training data is made (``bench/train_consistency.py``): a sentence as it stands
  (supported), or with an entity, number, date, negation or pronoun changed (not). They
  teach generic "changed fact" errors in statements rather than HaluEval's habits in
  short answers, on text the consistency model was not trained on.

Each response gets the checker's own signals (``FactChecker.signals``; the weakest claim
counts for the whole response), the shipped consistency model's among them; a logistic
regression is fitted on standardised signals, and the threshold is the one with the best
balanced accuracy on the training data. Deterministic: the same data gives the same file.
Usage:
    python bench/calibrate_verifier.py [--synthetic 600] [--check]
``--check`` compares the result with the shipped file instead of writing it (a test runs it).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from attest.core import logistic
from attest.core.enums import Precision
from attest.core.settings import get_settings
from attest.eval.datasets import HALUEVAL_QA, SHARED_DATA, Item, half
from attest.ingest.entities import EntityTagger
from attest.text.embedder import SentenceTransformerEmbedder
from attest.verify.checker import FactChecker
from attest.verify.consistency import ConsistencyModel
from attest.verify.model import WEIGHTS, SupportModel
from attest.verify.signals import SIGNALS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_consistency import claim_pairs, tag_paragraphs  # noqa: E402  (the synthetic claims)

SEED = 13


def halueval_rows(path: Path = HALUEVAL_QA) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def is_training(row: dict[str, Any]) -> bool:
    """HaluEval rows of even-numbered questions train; odd ones are held out."""
    item = Item(row["id"], row["context"], row.get("question"), row["response"], row["supported"])
    return half(item) == "even"


def synthetic_rows(rows: list[dict[str, Any]], tagger: EntityTagger, count: int) -> list[dict[str, Any]]:
    """Sentence claims made from the training rows' contexts the way the consistency model's
    training data is made (``bench/train_consistency.py``: a sentence as it is, or with an
    entity, number, date, negation or pronoun changed), each checked against its context.
    Statements, where HaluEval's responses are short answers; contexts the consistency model
    never saw, so its score is weighed as it will be on new text."""
    contexts = list(dict.fromkeys(row["context"] for row in rows))
    paragraphs = [(f"context-{n}", context, []) for n, context in enumerate(contexts)]
    tagged, pool = tag_paragraphs(paragraphs, tagger.labelled)
    whole = {id(entry): " ".join(p[1].split()) for entry, p in zip(tagged, paragraphs, strict=True)}
    pairs = claim_pairs(tagged, pool, random.Random(SEED), count, source=whole)
    return [
        {"id": f"synthetic-{n}-{p.kind}", "context": p.question, "question": None, "response": p.text}
        | {"supported": bool(p.label)}
        for n, p in enumerate(pairs)
    ]


class BatchedEmbedder:
    """Embeds every text the checker will ask for in large batches first (a dry run records
    them), then answers from that table: the same vectors, many times faster than one small
    batch per response."""

    def __init__(self, embedder: SentenceTransformerEmbedder) -> None:
        self.embedder = embedder
        self.table: dict[str, np.ndarray] = {}
        self.recording = True

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.recording:
            self.table.update(dict.fromkeys(texts, np.zeros(1)))
            return np.zeros((len(texts), 1))
        return np.stack([self.table[text] for text in texts])

    def fill(self) -> None:
        texts = list(self.table)
        self.table = dict(zip(texts, self.embedder.embed(texts), strict=True))
        self.recording = False


def features(checker: FactChecker, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """One signal row per response (its weakest claim, signal by signal) and the labels."""
    batched = BatchedEmbedder(checker.embedder)  # type: ignore[arg-type]
    model = checker.model if checker._model else None
    recorder = FactChecker(
        batched,  # type: ignore[arg-type]
        model,
        entities=checker.entities,
        consistency=checker.consistency,
    )
    for row in rows:
        recorder.signals(row["response"], [(1, row["context"])], row.get("question"))
    batched.fill()
    checker = recorder
    x, y = [], []
    for row in rows:
        signals = checker.signals(row["response"], [(1, row["context"])], row.get("question"))
        x.append(signals.min(axis=0) if len(signals) else np.zeros(len(SIGNALS)))
        y.append(bool(row["supported"]))
    return np.asarray(x), np.asarray(y)


def fit(x: np.ndarray, y: np.ndarray, about: dict[str, Any]) -> SupportModel:
    mean, scale, coef, intercept = logistic.fit(x, y)
    model = SupportModel(mean=mean, scale=scale, coef=coef, intercept=intercept, threshold=0.5, about=about)
    probability = model.probability(x)
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    accuracy = [balanced_accuracy_score(y, probability >= t) for t in grid]
    return replace(model, threshold=float(grid[int(np.argmax(accuracy))]))


def evaluate(model: SupportModel, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    probability = model.probability(x)
    return {
        "n": len(y),
        "roc_auc": round(float(roc_auc_score(~y, 1 - probability)), 4),
        "balanced_accuracy": round(float(balanced_accuracy_score(y, probability >= model.threshold)), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--synthetic", type=int, default=600, help="synthetic sentence claims")
    parser.add_argument("--check", action="store_true", help="compare with the shipped weights")
    args = parser.parse_args()
    if not HALUEVAL_QA.is_file():
        print(f"skipped: {SHARED_DATA} has no HaluEval file", file=sys.stderr)
        return 0
    settings = get_settings()
    tagger = EntityTagger(settings.spacy_pipeline)
    checker = FactChecker(
        SentenceTransformerEmbedder(settings.embedding_model),
        entities=tagger.labelled,
        # Fitted on float32's signals, whatever ATTEST_MODEL_PRECISION says, so that the fit
        # reproduces on any CPU; bfloat16's differ from them by a few hundredths of a logit.
        consistency=ConsistencyModel(precision=Precision.FLOAT32),
    )
    halueval = halueval_rows()
    training = [row for row in halueval if is_training(row)]
    train = training + synthetic_rows(training, tagger, args.synthetic)
    held_out = [row for row in halueval if not is_training(row)]
    x, y = features(checker, train)
    about = {
        "command": f"python bench/calibrate_verifier.py --synthetic {args.synthetic}",
        "training": f"{len(y)} responses: HaluEval QA even-numbered questions, and synthetic sentence "
        "claims made from their contexts",
        "entities": f"{settings.spacy_pipeline} (trained: {tagger.trained})",
        "consistency_sha256": checker.consistency.manifest["sha256"],
    }
    model = fit(x, y, about)
    x_held, y_held = features(checker, held_out)
    report = {"train": evaluate(model, x, y), "halueval_held_out": evaluate(model, x_held, y_held)}
    print(json.dumps(report | {"coef": dict(zip(SIGNALS, model.coef, strict=True))}, indent=2))
    if args.check:
        shipped = SupportModel.load()
        same = (
            np.allclose(shipped.coef, model.coef, atol=1e-4)
            and abs(shipped.threshold - model.threshold) < 1e-9
        )
        print("the shipped weights are reproduced" if same else "the shipped weights differ", file=sys.stderr)
        return 0 if same else 1
    model.save(WEIGHTS)
    print(f"wrote {WEIGHTS} ({datetime.now(UTC):%Y-%m-%d})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
