"""Does the reader distrust short answers? Its score for an answer sentence against the same
answer cut to its clause.

For held-out answerable questions of SQuAD 2.0 dev (odd-numbered articles), the unit holding
the gold answer is scored by the shipped reader as it stands and cut to the clause holding
the answer (the sentence split at commas, semicolons and dashes; only where the cut is at
least 3 words shorter and keeps the answer). Both texts answer the question equally; a
reader that judges meaning scores them alike. Reports the mean probability of each, the
share of questions where the clause scores lower, and the same split by the clause's length;
then two handbook-style examples, each answer written short and longer.

Usage:
    python bench/reader_length_probe.py [--questions 400] [--reader DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from attest.eval.datasets import SQUAD_DEV
from attest.reader.model import Reader
from attest.text.units import answer_units

_CUT = re.compile(r"\s*(?:[,;:]|\s[-–—]\s)\s*")
SEED = 13
# Handbook-style answers, short and longer, to the same question (written here, not data).
EXAMPLES = (
    (
        "How long is the probation period for new employees?",
        "The probation period is 6 months.",
        "The probation period for new employees is 6 months.",
    ),
    (
        "How many days of annual leave do full-time employees get?",
        "Annual leave is 27 days.",
        "Full-time employees receive 27 days of paid annual leave.",
    ),
)


def clause(sentence: str, answer: str) -> str | None:
    """The piece of ``sentence`` between cuts that holds ``answer``, as a sentence."""
    pieces = [p for p in _CUT.split(sentence) if p]
    holding = [p for p in pieces if answer in p]
    if not holding:
        return None
    piece = holding[0].rstrip(".")
    if len(piece.split()) > len(sentence.split()) - 3 or len(piece.split()) < 3:
        return None
    return piece[0].upper() + piece[1:] + "."


def pairs(limit: int) -> list[tuple[str, str, str]]:
    """(question, answer unit, its clause) for held-out answerable questions."""
    squad = json.loads(SQUAD_DEV.read_text())["data"]
    found = []
    for index, article in enumerate(squad):
        if index % 2 == 0:
            continue
        for paragraph in article["paragraphs"]:
            units = answer_units(paragraph["context"])
            for qa in paragraph["qas"]:
                if qa["is_impossible"]:
                    continue
                answer = qa["answers"][0]
                start = answer["answer_start"]
                unit = next((u for u in units if u.start <= start < u.end), None)
                cut = clause(unit.text, answer["text"]) if unit else None
                if unit and cut:
                    found.append((qa["question"], unit.text, cut))
    random.Random(SEED).shuffle(found)
    return found[:limit]


def example(reader: Reader, question: str, texts: list[str]) -> dict[str, object]:
    scores = reader.score(question, texts)
    return {"question": question, **{t: round(float(p), 3) for t, p in zip(texts, scores, strict=True)}}


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--reader", type=Path, default=None, help="a reader model folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not SQUAD_DEV.is_file():
        print(f"skipped: {SQUAD_DEV} is missing (see ../shared/data/README.md)", file=sys.stderr)
        return 0
    reader = Reader(args.reader)
    chosen = pairs(args.questions)
    whole = np.asarray([reader.score(q, [unit])[0] for q, unit, _ in chosen])
    cut = np.asarray([reader.score(q, [piece])[0] for q, _, piece in chosen])
    words = np.asarray([len(piece.split()) for _, _, piece in chosen])
    by_length = {}
    for name, keep in (("clause of 3-7 words", words < 8), ("clause of 8 words or more", words >= 8)):
        by_length[name] = {
            "pairs": int(keep.sum()),
            "sentence": round(float(whole[keep].mean()), 3),
            "clause": round(float(cut[keep].mean()), 3),
        }
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "pairs": len(chosen),
        "mean_probability": {
            "sentence": round(float(whole.mean()), 3),
            "clause": round(float(cut.mean()), 3),
        },
        "clause_scores_lower": round(float(np.mean(cut < whole)), 3),
        "sentence_words": round(float(np.mean([len(u.split()) for _, u, _ in chosen])), 1),
        "clause_words": round(float(words.mean()), 1),
        "by_clause_length": by_length,
        "examples": [example(reader, question, texts) for question, *texts in EXAMPLES],
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
