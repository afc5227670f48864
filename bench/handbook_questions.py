"""Write questions that sentences of the 18F handbook answer (``bench/results/handbook_questions.jsonl``).

The reader learnt what an answer looks like from SQuAD, whose answer sentences are long
encyclopaedia sentences; it distrusts the short statements a company's handbook answers
in (``bench/reader_length_probe.py``). This script makes training questions for such
statements from a public staff handbook (the 18F handbook, CC0), the way doc2query and
GPL adapt a ranker to a new kind of text: a local instruction-tuned model reads one
statement and writes one question that it answers.

* Statements: the answer units of every page (:func:`attest.text.units.answer_units` on
  the text as Attest ingests it, front matter removed, each list item read after its
  lead-in), of 6 to 35 words, holding a fact or a rule (a number, or a word such as
  "must", "may", "should", "required"), without links, code or table cells. A seeded
  sample of ``--limit`` of them, at most ``--per-page`` from a page.
* Questions: ``qwen2.5-coder-1.5b-instruct`` (installed by ``scripts/setup.sh --model
  qwen2.5-coder-1.5b-instruct``) through its chat template, greedy, one question per
  statement, as an employee would ask it, in its own words. A question is kept when:
  - it is one question of 4 to 30 words that holds none of the statement's numbers, does
    not speak of "the sentence" or "the text", and shares a content word with it;
  - round trip: the statement is among the page's :data:`CLOSEST` units to the question in
    Attest's embedding space (a vague question that many statements fit is dropped);
  - judged: the same model, shown the statement and the question, says the statement by
    itself answers it (it drops questions on the statement's topic that it does not answer).

Each line: ``{"question", "page", "title", "text"}``, ``text`` being the statement as the
reader reads it. ``bench/train_reader.py --generated`` turns each line of half the pages
into a positive pair and the page's closest other units into negatives;
``bench/reader_handbook.py`` reads the other half's. The file is not committed
(``bench/results/`` is ignored by git): it quotes the handbook, and the shared data stays
out of the repository.

The file measured on 2026-12-07 was written in two steps: a run before the judge existed
(1,000 statements, 870 questions written, 655 kept by the round trip, 1,343 s), then
``--refilter`` on its output (466 kept by the judge, 612 s). A plain run does the same in one.

Usage:
    python bench/handbook_questions.py [--handbook DIR] [--limit 1000] [--per-page 12]
                                       [--out bench/results/handbook_questions.jsonl]
                                       [--refilter FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared/data"
OUT = ROOT / "bench/results/handbook_questions.jsonl"
MODEL = "qwen2.5-coder-1.5b-instruct"
SEED = 20261206
CLOSEST = 3
SYSTEM = (
    "You write the questions employees ask. Given one statement from a staff handbook, write one "
    "short question that an employee might ask and that the statement answers. Use your own words, "
    "do not copy the statement, and do not put its answer in the question. Reply with the question only."
)
# two worked examples, written here (not from the handbook), shown before each statement
EXAMPLES = (
    (
        "Page: Remote work\nStatement: Remote employees receive a one-off home-office allowance of $400.",
        "How much money do I get to set up a home office if I work remotely?",
    ),
    (
        "Page: Visitors\nStatement: Visitors must sign in at reception and wear a badge at all times.",
        "What does a visitor have to do when they arrive?",
    ),
)
_NAMED_NUMBER = re.compile(r"\b\d+(?:[A-Za-z]\w*|:\d+s?)\b")  # 18F, 10x, 1:1s: names, not quantities
# links, code, markup, front matter the loader kept, and statements pointing elsewhere for their answer
_NOISE = re.compile(
    r"https?:|\]\(|\{%|`|\||<|>|\b(?:see|click|following|below|above)\b|\b(?:title|sidebar|cSpell):",
    re.IGNORECASE,
)
_META = re.compile(r"\b(?:sentence|statement|text|document|passage|paragraph)\b", re.IGNORECASE)
_RULE = re.compile(
    r"\b(?:must|may|should|shall|required?|need to|allowed|cannot|can't|eligible|entitled|only|every|each)\b",
    re.IGNORECASE,
)


def quantities(text: str) -> set[str]:
    """The numbers of ``text`` that are quantities, not parts of names ("18F", "10x", "1:1s")."""
    from attest.text.words import numbers

    return numbers(_NAMED_NUMBER.sub(" ", text))


def statements(folder: Path) -> list[tuple[str, str, str]]:
    """Every page's fact-holding units as ``(page, title, text)``, in page order."""
    from attest.ingest.formats import md
    from attest.text.units import UnitKind, answer_units

    found = []
    for page in sorted(folder.rglob("*.md")):
        extracted = md.extract(page.read_bytes(), page.name, max_bytes=10_000_000)
        title = extracted.title or page.stem
        for unit in answer_units(extracted.text):
            text = unit.read_as
            if unit.kind is UnitKind.ROW or not 6 <= len(text.split()) <= 35:
                continue
            fact = quantities(text) or _RULE.search(text)
            if fact and not _NOISE.search(text) and not text.endswith(":"):
                found.append((str(page.relative_to(folder)), title, text))
    return found


def sample(found: list[tuple[str, str, str]], limit: int, per_page: int) -> list[tuple[str, str, str]]:
    """A seeded sample of ``limit`` statements, at most ``per_page`` from a page."""
    rng = random.Random(SEED)
    order = found[:]
    rng.shuffle(order)
    taken: dict[str, int] = {}
    chosen = []
    for item in order:
        if taken.get(item[0], 0) < per_page:
            taken[item[0]] = taken.get(item[0], 0) + 1
            chosen.append(item)
        if len(chosen) == limit:
            break
    return chosen


def usable(question: str, text: str) -> bool:
    """One question of 4 to 30 words that holds none of ``text``'s numbers, is not about
    "the sentence", and shares a content word with ``text``."""
    from attest.text.words import content_words, numbers

    return (
        question.endswith("?")
        and question.count("?") == 1
        and 4 <= len(question.split()) <= 30
        and not numbers(question) & quantities(text)
        and not _META.search(question)
        and bool(content_words(question) & content_words(text))
    )


def page(folder: Path, name: str) -> tuple[str, list[str]]:
    """A handbook page's title and its answer units as the reader reads them."""
    from attest.ingest.formats import md
    from attest.text.units import answer_units

    extracted = md.extract((folder / name).read_bytes(), name, max_bytes=10_000_000)
    return extracted.title or Path(name).stem, [u.read_as for u in answer_units(extracted.text)]


def consistent(rows: list[dict[str, str]], folder: Path) -> list[dict[str, str]]:
    """The rows whose statement is among the :data:`CLOSEST` units of its page to the question
    in Attest's embedding space (round-trip consistency: a vague question, which many other
    statements of the page fit as well, is dropped)."""
    import numpy as np

    from attest.core.settings import Settings
    from attest.text.embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(Settings().embedding_model, batch_size=32)
    kept = []
    for name in dict.fromkeys(row["page"] for row in rows):
        _, units = page(folder, name)
        unit_vectors = embedder.embed(units)
        asked = [row for row in rows if row["page"] == name]
        question_vectors = embedder.embed([row["question"] for row in asked])
        for row, vector in zip(asked, question_vectors, strict=True):
            closest = np.argsort(-(unit_vectors @ vector))[:CLOSEST]
            if row["text"] in {units[int(i)] for i in closest}:
                kept.append(row)
    return kept


JUDGE = (
    "You check questions written for a staff handbook. Given a statement and a question, say whether "
    "the statement by itself answers the question. Reply with yes or no only."
)


def load_model():  # noqa: ANN201
    """The question writer, through llama.cpp (greedy, so a run is repeatable on one build)."""
    from llama_cpp import Llama

    from attest.generation.models import resolve

    return Llama(model_path=str(resolve(MODEL)), n_ctx=1024, n_threads=2, seed=0, verbose=False)


def reply(llm, messages: list[dict[str, str]], max_tokens: int) -> str:  # noqa: ANN001
    """The model's greedy reply to ``messages``, its whitespace collapsed."""
    answer = llm.create_chat_completion(messages=messages, temperature=0, max_tokens=max_tokens, seed=0)
    return " ".join(str(answer["choices"][0]["message"]["content"]).split())


def written(llm, chosen: list[tuple[str, str, str]]) -> list[dict[str, str]]:  # noqa: ANN001
    """One usable question for each statement the model writes one for."""
    began, rows = time.perf_counter(), []
    for n, (page, title, text) in enumerate(chosen, 1):
        examples = [
            {"role": role, "content": content}
            for example in EXAMPLES
            for role, content in zip(("user", "assistant"), example, strict=True)
        ]
        question = reply(
            llm,
            [
                {"role": "system", "content": SYSTEM},
                *examples,
                {"role": "user", "content": f"Page: {title}\nStatement: {text}"},
            ],
            max_tokens=48,
        )
        if usable(question, text):
            rows.append({"question": question, "page": page, "title": title, "text": text})
        if n % 100 == 0:
            print(f"{n}/{len(chosen)} kept {len(rows)} {time.perf_counter() - began:.0f}s", file=sys.stderr)
    return rows


def judged(llm, rows: list[dict[str, str]]) -> list[dict[str, str]]:  # noqa: ANN001
    """The rows whose statement, the model says, answers the question by itself (a second
    read by the same model, in the other direction: it drops questions about the statement's
    topic that the statement does not answer)."""
    kept = []
    for row in rows:
        asked = f"Statement: {row['text']}\nQuestion: {row['question']}"
        verdict = reply(llm, [{"role": "system", "content": JUDGE}, {"role": "user", "content": asked}], 2)
        if verdict.lower().startswith("yes"):
            kept.append(row)
    return kept


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--handbook", type=Path, default=DATA / "handbook-18f/pages")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--per-page", type=int, default=12)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--refilter", type=Path, help="filter (and judge) an earlier run's questions again")
    args = parser.parse_args()
    if not args.handbook.exists():
        sys.exit(f"handbook_questions: {args.handbook} is missing (the public data lives in ../shared/data)")
    began = time.perf_counter()
    llm = load_model()
    if args.refilter:
        rows = [json.loads(line) for line in args.refilter.read_text(encoding="utf-8").splitlines()]
        rows = [r for r in rows if not _NOISE.search(r["text"]) and usable(r["question"], r["text"])]
        chosen = [(r["page"], r["title"], r["text"]) for r in rows]
    else:
        chosen = sample(statements(args.handbook), args.limit, args.per_page)
        rows = written(llm, chosen)
    counts = {"statements": len(chosen), "questions_written": len(rows)}
    rows = consistent(rows, args.handbook)
    counts["round_trip_kept"] = len(rows)
    rows = judged(llm, rows)
    counts["questions_kept"] = len(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).date().isoformat(),
                "model": MODEL,
                **counts,
                "seconds": round(time.perf_counter() - began, 1),
                "out": str(args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out),
            }
        )
    )


if __name__ == "__main__":
    main()
