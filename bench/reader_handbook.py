"""Does a reader pick a handbook statement for a question written for it? Held-out pages only.

``bench/handbook_questions.py`` has a local instruct model write an employee's question for
statements of the 18F handbook (public domain). ``bench/train_reader.py --generated`` trains
on the questions of half the pages; this script reads the other half's. For each question, its
statement and the page's other answer units sharing most words with the question (up to
:data:`SHORTLIST` in all, as Attest shortlists units for the reader) are scored, each after
the page's title as Attest reads it, and the script reports:

* ``first``: the share of questions whose statement the reader ranks first on that shortlist
  (units with the statement's text are one unit);
* ``mrr``: the mean reciprocal rank of the statement;
* ``statement_probability`` / ``best_other_probability``: the mean probability of the
  statement, and of the page's best other unit.

Usage:
    python bench/reader_handbook.py [--reader DIR] [--questions FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from attest.core.enums import Precision
from attest.reader.model import Reader
from attest.reader.reading import SHORTLIST, titled
from attest.text.words import content_words

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from handbook_questions import page  # noqa: E402
from train_reader import DATA, held_out_page  # noqa: E402

QUESTIONS = ROOT / "bench/results/handbook_questions.jsonl"


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--reader", type=Path, default=None, help="a reader model folder (default: shipped)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--handbook", type=Path, default=DATA / "handbook-18f/pages")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for path in (args.questions, args.handbook):
        if not path.exists():
            sys.exit(f"reader_handbook: {path} is missing")
    reader = Reader(args.reader, precision=Precision.FLOAT32)
    lines = args.questions.read_text(encoding="utf-8").splitlines()
    rows = [row for row in map(json.loads, filter(None, lines)) if held_out_page(row["page"])]
    pages: dict[str, tuple[str, list[str]]] = {}
    first, reciprocal, own, other = [], [], [], []
    for row in rows:
        if row["page"] not in pages:
            title, units = page(args.handbook, row["page"])
            pages[row["page"]] = (title, list(dict.fromkeys(units)))
        title, units = pages[row["page"]]
        if row["text"] not in units or len(units) < 2:
            continue
        asked = content_words(row["question"])
        others = sorted((u for u in units if u != row["text"]), key=lambda u: -len(asked & content_words(u)))
        units = [row["text"], *others[: SHORTLIST - 1]]
        scores = reader.score(row["question"], [titled(title, u) for u in units])
        mine = units.index(row["text"])
        rank = 1 + int(np.sum(scores > scores[mine]))
        first.append(rank == 1)
        reciprocal.append(1 / rank)
        own.append(float(scores[mine]))
        other.append(float(np.max(np.delete(scores, mine))))
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "reader": str(args.reader or "shipped"),
        "questions": len(first),
        "pages": len({row["page"] for row in rows}),
        "first": round(float(np.mean(first)), 3),
        "mrr": round(float(np.mean(reciprocal)), 3),
        "statement_probability": round(float(np.mean(own)), 3),
        "best_other_probability": round(float(np.mean(other)), 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
