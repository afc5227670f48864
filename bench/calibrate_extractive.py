"""Fit the extractive backend's sentence model (``attest/generation/extractive_weights.json``).

Data, public only: SQuAD 2.0 dev. Its paragraphs are indexed through the normal ingestion
code, and each answerable question is answered as the service does: retrieve
``answer_passages`` chunks over all paragraphs, pack the context, list the candidate
sentences, shortlist them. A candidate is labelled 1 when it contains a gold answer (SQuAD
normalisation). Questions are split by article: even-numbered articles train, odd ones
are held out, so no paragraph is on both sides.

The logistic regression is fitted on the training half. The second-sentence margin is the
one that finds the most gold answers on the training half without answering with more
sentences on average than the previous rule did (cosine similarity alone, a second
sentence within 0.05), so the gain cannot come from longer answers. The report compares,
on the held-out half: that previous rule, the model's best sentence alone, the model with
its margin, and the ceiling (some shortlisted sentence contains a gold answer).

With ``--unanswerable N`` it also asks N unanswerable questions of the held-out articles
and reports the ROC AUC of the best sentence's probability for telling them apart from the
answerable ones: could the model's confidence decline them?

Usage:
    python bench/calibrate_extractive.py [--train 250] [--held-out 1000] [--unanswerable 0]
                                         [--check] [--json]
250 training questions fitted as well as 1,000 in an exploratory comparison, and keep
the run short. ``--check`` fits again and compares with the shipped file instead of
writing it, without the held-out half (a test runs it).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from attest.answers import answer_context
from attest.core import logistic
from attest.core.settings import Settings, get_settings
from attest.generation.evaluation import SquadQuestion, contains_gold, squad_questions
from attest.generation.extractive import (
    FEATURES,
    WEIGHTS,
    Candidate,
    ExtractiveGenerator,
    SentenceModel,
    candidates_of,
    features,
    shortlist,
    similarity,
)
from attest.retrieval.beir import index_corpus
from attest.retrieval.evaluation import CorpusDoc, squad_to_beir

SQUAD = Path(__file__).resolve().parents[2] / "shared/data/squad-v2-dev/dev-v2.0.json"
SEED = 13
PREVIOUS_MARGIN = 0.05  # the rule before this model: cosine similarity, a second sentence within 0.05
MARGINS = tuple(round(m, 2) for m in np.arange(0.0, 0.51, 0.02))


@dataclass
class Question:
    """One question's shortlisted candidates, their cosine similarities and labels."""

    text: str
    candidates: list[Candidate]
    cosine: np.ndarray
    labels: np.ndarray  # 1 where the candidate contains a gold answer

    @property
    def x(self) -> np.ndarray:
        return features(self.text, self.candidates, self.cosine)

    def answered(self, scores: np.ndarray, margin: float) -> tuple[bool, int]:
        """Whether the best candidate, plus the second within ``margin``, hold a gold answer."""
        order = np.argsort(-scores, kind="stable")
        chosen = [order[0]]
        if len(order) > 1 and scores[order[1]] >= scores[order[0]] - margin:
            chosen.append(order[1])
        return bool(self.labels[chosen].any()), len(chosen)


def collect(halves: list[list[SquadQuestion]], settings: Settings, tmp: Path) -> list[list[Question]]:
    """Each question's candidates, as the service finds them over all SQuAD dev paragraphs."""
    squad = json.loads(SQUAD.read_text(encoding="utf-8"))
    corpus_rows, _queries, _qrels = squad_to_beir(squad)
    corpus = [CorpusDoc(r["_id"], r.get("title", ""), r["text"]) for r in corpus_rows]
    retriever, _id_of = index_corpus(corpus, tmp, settings)
    collected: list[list[Question]] = [[] for _ in halves]
    for half, questions in zip(collected, halves, strict=True):
        for question in questions:
            asked = question.question
            hits = retriever.retrieve(asked, k=settings.answer_passages)
            context = answer_context(hits, asked, settings, ExtractiveGenerator.count_tokens)
            candidates = shortlist(candidates_of(context, asked), asked)
            if candidates:
                cosine = similarity(retriever.embedder, asked, candidates)
                labels = np.asarray([contains_gold(c.text, question.answers) for c in candidates])
                half.append(Question(asked, candidates, cosine, labels))
        print(f"{len(questions)} questions collected", file=sys.stderr)
    return collected


def rates(questions: list[Question], scores: list[np.ndarray], margin: float) -> dict[str, float]:
    results = [q.answered(s, margin) for q, s in zip(questions, scores, strict=True)]
    return {
        "contains_gold": round(float(np.mean([found for found, _ in results])), 4),
        "sentences": round(float(np.mean([count for _, count in results])), 3),
    }


def fit(train: list[Question], about: dict[str, str]) -> SentenceModel:
    x = np.concatenate([q.x for q in train])
    y = np.concatenate([q.labels for q in train])
    mean, scale, coef, intercept = logistic.fit(x, y)
    model = SentenceModel(mean, scale, coef, intercept, second_within=0.0, about=about)
    previous = rates(train, [q.cosine for q in train], PREVIOUS_MARGIN)
    scores = [model.probability(q.x) for q in train]
    allowed = [m for m in MARGINS if rates(train, scores, m)["sentences"] <= previous["sentences"]]
    best = max(allowed, key=lambda m: (rates(train, scores, m)["contains_gold"], -m))
    return SentenceModel(mean, scale, coef, intercept, second_within=best, about=about)


def _article(question: SquadQuestion) -> int:
    return int(question.paragraph_id.split("-")[0])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=int, default=250, help="answerable questions to fit on")
    parser.add_argument("--held-out", type=int, default=1000, help="answerable questions to report on")
    parser.add_argument(
        "--unanswerable",
        type=int,
        default=0,
        help="also collect this many unanswerable held-out questions and report how well the best "
        "sentence's probability tells them from the answerable ones",
    )
    parser.add_argument("--check", action="store_true", help="compare with the shipped weights")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not SQUAD.is_file():
        print(f"skipped: {SQUAD} is missing (see ../shared/data/README.md)", file=sys.stderr)
        return 0
    questions = squad_questions(json.loads(SQUAD.read_text()))
    answerable = [q for q in questions if q.answerable]
    unanswerable = [q for q in questions if not q.answerable and _article(q) % 2 == 1]
    random.Random(SEED).shuffle(answerable)
    random.Random(SEED).shuffle(unanswerable)
    held_out_size, unanswerable_size = (0, 0) if args.check else (args.held_out, args.unanswerable)
    with tempfile.TemporaryDirectory(prefix="attest-calibrate-") as tmp:
        train, held_out, impossible = collect(
            [
                [q for q in answerable if _article(q) % 2 == 0][: args.train],
                [q for q in answerable if _article(q) % 2 == 1][:held_out_size],
                unanswerable[:unanswerable_size],
            ],
            get_settings(),
            Path(tmp),
        )
    about = {
        "command": f"python bench/calibrate_extractive.py --train {args.train}",
        "training": f"{len(train)} answerable SQuAD 2.0 dev questions from even-numbered articles",
    }
    model = fit(train, about)
    report = {
        "date": datetime.now(UTC).date().isoformat(),
        "questions": {"train": len(train), "held_out": len(held_out)},
        "coef": dict(zip(FEATURES, model.coef, strict=True)),
        "second_within": model.second_within,
    }
    if held_out:
        scores = [model.probability(q.x) for q in held_out]
        report["held_out"] = {
            "previous rule (similarity, second within 0.05)": rates(
                held_out, [q.cosine for q in held_out], PREVIOUS_MARGIN
            ),
            "model, best sentence only": rates(held_out, scores, 0.0),
            f"model, second within {model.second_within}": rates(held_out, scores, model.second_within),
            "ceiling (a shortlisted sentence holds the answer)": {
                "contains_gold": round(float(np.mean([q.labels.any() for q in held_out])), 4)
            },
        }
    if held_out and impossible:
        best = [float(model.probability(q.x).max()) for q in held_out + impossible]
        is_unanswerable = [0] * len(held_out) + [1] * len(impossible)
        report["answerability"] = {
            "unanswerable": len(impossible),
            "roc_auc_of_best_probability": round(roc_auc_score(is_unanswerable, [-b for b in best]), 4),
        }
    print(json.dumps(report, indent=None if args.json else 2))
    if args.check:
        shipped = SentenceModel.load()
        same = (
            np.allclose(shipped.coef, model.coef, atol=1e-3) and shipped.second_within == model.second_within
        )
        print("the shipped weights are reproduced" if same else "the shipped weights differ", file=sys.stderr)
        return 0 if same else 1
    model.save(WEIGHTS)
    print(f"wrote {WEIGHTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
