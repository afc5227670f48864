"""Fit the answer model and its thresholds (``attest/reader/calibration.json``); report held out.

Data, public only: SQuAD 2.0 dev. Every paragraph is indexed through the normal ingestion
code and each question is read as the service reads it: retrieve ``answer_passages`` chunks
over all paragraphs, pack the context, cut the passages into answer units, shortlist them,
score them with the reader (each unit after its passage's title, as the service reads
them) and compute the answer model's features. A unit is labelled 1
when it contains a gold answer (SQuAD normalisation); every unit of an unanswerable
question is labelled 0.

* **Calibration**: the questions of the tuning half (even-numbered articles) whose
  paragraph is in the calibration fifth that ``bench/train_reader.py`` leaves out of
  training, answerable and unanswerable, so the reader's scores here are not ones it
  was trained to give.
* **Held out**: questions of the odd-numbered articles, which neither training nor
  calibration saw; every reported figure comes from them.

Fitted on the calibration questions:

* the answer model: a logistic regression of the label on the unit's features
  (:mod:`attest.reader.features`);
* ``answer`` and ``relative``: a unit joins the best one in an extractive answer (at most
  ``cap``) when it scores at least ``answer`` and at least ``relative`` times the best
  unit's score; the pair that finds the most gold answers with answers no longer on
  average than ``--max-units`` units (``--no-relative`` fixes ``relative`` at 0, the
  rule before 2026-12-07). The relative bar spends the length budget where the best unit
  is unsure and keeps a clear answer to one unit;
* ``decline`` and ``decline_reader``: Attest says the documents do not hold the answer
  when the best unit's probability is below ``decline``, or the reader's own best
  probability is below ``decline_reader`` (the answer model's cheap signals can lift an
  on-topic unit the reader doubts); among the pairs that wrongly decline at most
  ``--max-wrongly-declined`` of the answerable questions (the embedding relevance gate's
  declines included), the one that separates them from the unanswerable ones best
  (Youden's J). ``decline_reader`` is fitted only with ``--reader-decline``; otherwise it
  is 0 (off), as shipped: on SQuAD the pair declines more unanswerable questions, but the
  SQuAD-trained reader under-scores handbook table rows, and on the demo handbook it
  declined right answers (benchmarks.md, 2026-12-07);
* ``relevant``: an answer the reader alone scores below it "does not answer the question";
  the highest threshold that flags at most ``--max-flagged-correct`` of the answers that
  hold the gold (each answerable question's best gold unit, read after its passage's
  title, as the verdict reads an answer): a verdict that often calls a right answer
  off-topic would teach users to ignore it.

The report also gives the ceiling: the share of held-out answerable questions with a gold
answer in some shortlisted unit, which no picker can exceed.

Usage:
    python bench/calibrate_reader.py [--held-out 600] [--max-wrongly-declined 0.08]
                                     [--max-units 1.5] [--max-flagged-correct 0.05] [--json]
                                     [--reader DIR] [--out FILE] [--dump FILE]
                                     [--readings FILE] [--no-relative] [--reader-decline]

``--reader`` reads with another reader model (a candidate from ``bench/train_reader.py
--out``), ``--out`` writes the calibration elsewhere than the shipped file, and ``--dump``
keeps every question's reading (pickled); ``--readings FILE`` fits again from such a file
without reading the questions again (seconds instead of about 15 minutes), to try other
settings such as ``--max-units``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from attest.answers import answer_context
from attest.core import logistic
from attest.core.settings import Settings, get_settings
from attest.eval.beir import index_corpus
from attest.eval.datasets import SQUAD_DEV, SquadQuestion, squad_corpus, squad_questions
from attest.eval.metrics import contains_gold
from attest.generation.extractive import ExtractiveGenerator
from attest.reader.features import FEATURES
from attest.reader.model import Reader
from attest.reader.reading import (
    CALIBRATION,
    AnswerModel,
    PassageReader,
    sigmoid,
    unit_features,
)
from attest.text.embedder import QuestionTimeEmbedder

sys.path.insert(0, str(Path(__file__).parent))
from train_reader import calibration_paragraph  # noqa: E402

SEED = 13
GRID = tuple(round(t, 3) for t in np.arange(0.0, 1.0001, 0.005))
RELATIVE = tuple(round(r, 2) for r in np.arange(0.0, 0.951, 0.05))
READER_DECLINE = tuple(round(r, 3) for r in np.arange(0.0, 0.5001, 0.005))
CAP = 3


@dataclass
class Read:
    """One question as the service reads it."""

    answerable: bool
    relevance: float  # the best chunk's cosine (the older, embedding gate)
    x: np.ndarray  # the answer model's features, one row per shortlisted unit
    reader: np.ndarray  # the reader's own probability for each unit
    labels: np.ndarray  # 1 where the unit contains a gold answer
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the answer model's, once fitted


def collect(
    halves: list[list[SquadQuestion]], settings: Settings, tmp: Path, reader: Reader
) -> list[list[Read]]:
    corpus = squad_corpus(json.loads(SQUAD_DEV.read_text(encoding="utf-8")))
    retriever, _id_of = index_corpus(corpus, tmp, settings)
    collected: list[list[Read]] = [[] for _ in halves]
    # What the service packs for the extractive backend: only its token count is used here,
    # so a neutral answer model stands in for the shipped one (which this run replaces, and
    # which may be for other features).
    n = len(FEATURES)
    neutral = AnswerModel((0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0, decline=0.5, answer=0.5, relevant=0.5)
    # Units are embedded as the service embeds them (bfloat16 where the CPU has it).
    question_time = QuestionTimeEmbedder(retriever.embedder, settings.model_precision)
    generator = ExtractiveGenerator(PassageReader(reader, question_time, neutral))
    began = time.perf_counter()
    for half, questions in zip(collected, halves, strict=True):
        for question in questions:
            asked = question.question
            hits = retriever.retrieve(asked, k=settings.answer_passages)
            if not hits:
                empty = np.zeros(0)
                half.append(
                    Read(question.answerable, 0.0, np.zeros((0, len(FEATURES))), empty, empty.astype(bool))
                )
                continue
            vector = retriever.embedder.embed([asked])[0]
            relevance = float(np.max(np.asarray(retriever.dense.embeddings[[h.row for h in hits]]) @ vector))
            context = answer_context(hits, asked, settings, generator)
            passages = [(p.number, p.text) for p in context.passages]
            titles = {p.number: p.title for p in context.passages}
            units, logits, x = unit_features(reader, retriever.embedder, asked, passages, titles)
            labels = np.asarray([contains_gold(u.text, question.answers) for _, u in units], dtype=bool)
            half.append(Read(question.answerable, relevance, x, sigmoid(logits), labels))
        print(f"{len(questions)} questions read ({time.perf_counter() - began:.0f} s)", file=sys.stderr)
    return collected


def declined(item: Read, decline: float, min_relevance: float, decline_reader: float = 0.0) -> bool:
    if item.relevance < min_relevance or not len(item.scores):
        return True
    return float(item.scores.max()) < decline or float(item.reader.max()) < decline_reader


def chosen(item: Read, answer: float, relative: float = 0.0) -> np.ndarray:
    ranked = np.argsort(-item.scores, kind="stable")
    bar = max(answer, relative * float(item.scores[ranked[0]]))
    keep = [ranked[0], *(i for i in ranked[1:CAP] if item.scores[i] >= bar)]
    return np.asarray(keep)


def outcome(
    items: list[Read],
    decline: float,
    answer: float,
    min_relevance: float,
    relative: float = 0.0,
    decline_reader: float = 0.0,
) -> dict[str, float]:
    """The figures of one setting: gold found, declines, answer length."""
    answerable = [i for i in items if i.answerable]
    unanswerable = [i for i in items if not i.answerable]

    def no(item: Read) -> bool:
        return declined(item, decline, min_relevance, decline_reader)

    found, units = [], []
    for item in answerable:
        if no(item):
            found.append(False)
            continue
        keep = chosen(item, answer, relative)
        found.append(bool(item.labels[keep].any()))
        units.append(len(keep))
    return {
        "contains_gold": round(float(np.mean(found)), 4) if found else 0.0,
        "answerable_declined": _share([no(i) for i in answerable]),
        "unanswerable_declined": _share([no(i) for i in unanswerable]),
        "units_per_answer": round(float(np.mean(units)), 3) if units else 0.0,
    }


def fit(items: list[Read]) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], float]:
    x = np.concatenate([i.x for i in items if len(i.x)])
    y = np.concatenate([i.labels for i in items if len(i.x)])
    return logistic.fit(x, y.astype(int))


def score(
    items: list[Read], weights: tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], float]
) -> None:
    mean, scale, coef, intercept = weights
    for item in items:
        item.scores = (
            logistic.probability(item.x, mean, scale, coef, intercept) if len(item.x) else np.zeros(0)
        )


def calibrate(
    items: list[Read],
    settings: Settings,
    max_wrong: float,
    max_units: float,
    max_flagged: float,
    relatives: tuple[float, ...] = RELATIVE,
    reader_declines: tuple[float, ...] = (0.0,),
) -> AnswerModel:
    weights = fit(items)
    score(items, weights)
    floor = settings.answer_min_relevance
    answerable = [i for i in items if i.answerable and len(i.scores)]
    # answer, relative: the most gold with answers no longer than max_units on average
    # (decline off); of equals, the shorter answers
    lengths = {(t, r): outcome(answerable, 0.0, t, floor, r) for t in GRID for r in relatives}
    allowed = [k for k, row in lengths.items() if row["units_per_answer"] <= max_units]
    answer, relative = max(
        allowed, key=lambda k: (lengths[k]["contains_gold"], -lengths[k]["units_per_answer"], k)
    )
    decline, decline_reader = fit_decline(items, floor, max_wrong, reader_declines)
    # relevant: flags at most max_flagged of the answers that hold the gold (the best gold unit)
    good = np.sort([float(i.reader[i.labels].max()) for i in answerable if i.labels.any()])
    relevant = max([t for t in GRID if np.mean(good < t) <= max_flagged], default=0.0)
    about = {
        "script": "bench/calibrate_reader.py",
        "calibration": f"{len(items)} SQuAD 2.0 dev questions of even-numbered articles' calibration "
        "paragraphs (left out of the reader's training)",
        "max_wrongly_declined": max_wrong,
        "max_units": max_units,
        "max_flagged_correct": max_flagged,
        "calibrated_at": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    mean, scale, coef, intercept = weights
    return AnswerModel(
        mean,
        scale,
        coef,
        intercept,
        decline,
        answer,
        relevant,
        cap=CAP,
        relative=relative,
        decline_reader=decline_reader,
        about=about,
    )


def fit_decline(
    items: list[Read], floor: float, max_wrong: float, reader_declines: tuple[float, ...]
) -> tuple[float, float]:
    """``decline`` and ``decline_reader``: Youden's J among the pairs that decline at most
    ``max_wrong`` of the answerable questions; of equals, the lower thresholds."""
    gated = np.asarray([i.relevance < floor or not len(i.scores) for i in items])
    best = np.asarray([float(i.scores.max()) if len(i.scores) else 0.0 for i in items])
    reader = np.asarray([float(i.reader.max()) if len(i.reader) else 0.0 for i in items])
    answerable = np.asarray([i.answerable for i in items])
    chosen, key = (0.0, 0.0), None
    for t in GRID:
        for r in reader_declines:
            no = gated | (best < t) | (reader < r)
            wrong = float(no[answerable].mean()) if answerable.any() else 0.0
            right = float(no[~answerable].mean()) if (~answerable).any() else 0.0
            if wrong <= max_wrong and (key is None or (right - wrong, -t - r) > key):
                chosen, key = (t, r), (right - wrong, -t - r)
    return chosen


def setting(model: AnswerModel, floor: float) -> tuple[float, float, float, float, float]:
    """``outcome``'s arguments after the items for ``model``'s thresholds."""
    return model.decline, model.answer, floor, model.relative, model.decline_reader


def _share(values: list[bool]) -> float:
    return round(float(np.mean(values)), 4) if values else 0.0


def _article(question: SquadQuestion) -> int:
    return int(question.paragraph_id.split("-")[0])


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--held-out", type=int, default=600, help="answerable and as many unanswerable")
    parser.add_argument("--max-wrongly-declined", type=float, default=0.08)
    parser.add_argument("--max-units", type=float, default=1.5)
    parser.add_argument("--max-flagged-correct", type=float, default=0.05)
    parser.add_argument(
        "--calibration-limit", type=int, default=None, help="a smaller run, to try the script"
    )
    parser.add_argument("--reader", type=Path, default=None, help="a reader model's folder")
    parser.add_argument("--out", type=Path, default=CALIBRATION, help="where the calibration goes")
    parser.add_argument("--dump", type=Path, default=None, help="pickle every question's reading here")
    parser.add_argument("--readings", type=Path, default=None, help="fit from a --dump file")
    parser.add_argument(
        "--no-relative", action="store_true", help="no relative bar for an answer's further units"
    )
    parser.add_argument(
        "--reader-decline", action="store_true", help="also decline on the reader's own best unit"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not SQUAD_DEV.is_file():
        print(f"skipped: {SQUAD_DEV} is missing (see ../shared/data/README.md)", file=sys.stderr)
        return 0
    squad = json.loads(SQUAD_DEV.read_text())
    contexts = {
        f"{a}-{p}": paragraph["context"]
        for a, article in enumerate(squad["data"])
        for p, paragraph in enumerate(article["paragraphs"])
    }
    questions = squad_questions(squad)
    random.Random(SEED).shuffle(questions)
    tuning = [
        q for q in questions if _article(q) % 2 == 0 and calibration_paragraph(contexts[q.paragraph_id])
    ]
    tuning = tuning[: args.calibration_limit]
    size = args.held_out
    held_out = [q for q in questions if _article(q) % 2 == 1 and q.answerable][:size]
    held_out += [q for q in questions if _article(q) % 2 == 1 and not q.answerable][:size]
    settings = get_settings()
    reader = Reader(args.reader, precision=settings.model_precision)
    if args.readings:
        kept = pickle.loads(args.readings.read_bytes())  # noqa: S301 (a file this script wrote)
        names = ("calibration", "held_out")
        calibration, evaluation = ([Read(**item) for item in kept[half]] for half in names)
    else:
        with tempfile.TemporaryDirectory(prefix="attest-calibrate-reader-") as tmp:
            calibration, evaluation = collect([tuning, held_out], settings, Path(tmp), reader)
    if args.dump:
        halves = {"calibration": calibration, "held_out": evaluation}
        args.dump.write_bytes(pickle.dumps({k: [vars(i) for i in v] for k, v in halves.items()}))
    model = calibrate(
        calibration,
        settings,
        args.max_wrongly_declined,
        args.max_units,
        args.max_flagged_correct,
        (0.0,) if args.no_relative else RELATIVE,
        READER_DECLINE if args.reader_decline else (0.0,),
    )
    floor = settings.answer_min_relevance
    report: dict[str, object] = {
        "date": datetime.now(UTC).date().isoformat(),
        "questions": {"calibration": len(calibration), "held_out": len(evaluation)},
        "thresholds": {
            "decline": model.decline,
            "decline_reader": model.decline_reader,
            "answer": model.answer,
            "relative": model.relative,
            "relevant": model.relevant,
        },
        "calibration": outcome(calibration, *setting(model, floor)),
    }
    report["coef"] = dict(zip(FEATURES, model.coef, strict=True))
    if evaluation:
        score(evaluation, (model.mean, model.scale, model.coef, model.intercept))
        report["held_out"] = outcome(evaluation, *setting(model, floor))
        report["held_out_ceiling"] = _share([bool(i.labels.any()) for i in evaluation if i.answerable])
        report["held_out_no_reader_gate"] = outcome(evaluation, 0.0, model.answer, floor, model.relative)
        reader_alone = [replace(i, scores=i.reader) for i in evaluation]
        report["held_out_reader_alone_best_unit"] = outcome(reader_alone, 0.0, 1.01, floor)
        report["held_out_answer_model_best_unit"] = outcome(evaluation, 0.0, 1.01, floor)
        report["held_out_curve"] = [  # the trade-off, each threshold moved with the other fixed
            {"decline": t, **outcome(evaluation, *setting(replace(model, decline=t), floor))}
            for t in GRID[::10]
        ] + [
            {"decline_reader": r, **outcome(evaluation, *setting(replace(model, decline_reader=r), floor))}
            for r in READER_DECLINE[::10]
        ]
    print(json.dumps(report, indent=None if args.json else 2))
    model.save(args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
