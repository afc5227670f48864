"""Factuality checker latency for a five-sentence answer over eight passages (issue #5's goal: ≤ 100 ms).

Builds ``--answers`` answers from SQuAD 2.0 dev: eight paragraphs of one article are the
passages; the answer is five sentences, three copied from the passages (lightly reworded:
the first word dropped) with a citation and two taken from another article, also cited.
The passages' vectors are embedded beforehand, as the index holds them when Attest
answers (the answering service passes its chunks' vectors). Each answer is checked once
to warm up and then timed, as the service checks it: with the question (the first question
of the article's first paragraph), so the reader also judges whether the answer answers it.
Prints p50/p95/p99 in
milliseconds and how many claims were judged unsupported (two per answer expected).
The checker settles claims as the answering service does (claims whose decisions the
word signals already settle are not read by the consistency model); ``--no-settle``
reads every claim.
Usage:
    python bench/verify_latency.py [--answers 50] [--no-settle] [--json]
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

import numpy as np

from attest.core.settings import get_settings
from attest.eval.metrics import latency_percentiles
from attest.ingest.entities import EntityTagger
from attest.reader.model import shipped_reader
from attest.reader.reading import shipped_answer_model
from attest.text.embedder import QuestionTimeEmbedder, SentenceTransformerEmbedder
from attest.verify.checker import FactChecker

SQUAD = Path(__file__).resolve().parents[1].parent / "shared/data/squad-v2-dev/dev-v2.0.json"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if 8 <= len(s.split()) <= 40]


def answers(count: int, seed: int = 13) -> list[tuple[str, str, list[tuple[int, str]]]]:
    articles = [a for a in json.loads(SQUAD.read_text())["data"] if len(a["paragraphs"]) >= 8]
    rng = random.Random(seed)
    built = []
    while len(built) < count:
        article, other = rng.sample(articles, 2)
        passages = [(n + 1, p["context"]) for n, p in enumerate(article["paragraphs"][:8])]
        own = [(n, s) for n, text in passages for s in sentences(text)]
        foreign = [s for p in other["paragraphs"] for s in sentences(p["context"])]
        if len(own) < 3 or len(foreign) < 2:
            continue
        picked = [f"{' '.join(s.split()[1:])} [{n}]" for n, s in rng.sample(own, 3)]
        picked += [f"{s} [{rng.randint(1, 8)}]" for s in rng.sample(foreign, 2)]
        question = article["paragraphs"][0]["qas"][0]["question"]
        built.append((question, " ".join(picked), passages))
    return built


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--answers", type=int, default=50)
    parser.add_argument(
        "--no-settle", action="store_true", help="read every claim with the consistency model"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not SQUAD.is_file():
        print(f"skipped: {SQUAD} is missing", file=sys.stderr)
        return 0
    embedder = QuestionTimeEmbedder(  # as the service checks
        SentenceTransformerEmbedder(get_settings().embedding_model), get_settings().model_precision
    )
    tagger = EntityTagger(get_settings().spacy_pipeline)
    checker = FactChecker(
        embedder,
        reader=shipped_reader(),
        relevant=shipped_answer_model().relevant,
        entities=tagger.labelled,
        settle=not args.no_settle,
    )
    read = checker.consistency.logits
    pairs = []  # how many claims the consistency model read in each timed check

    def counted(evidence: list[str], statements: list[str]) -> np.ndarray:
        pairs[-1] += len(statements)
        return read(evidence, statements)

    checker.consistency.logits = counted  # type: ignore[method-assign]
    timings, unsupported, claims = [], [], []
    for question, answer, passages in answers(args.answers):
        vectors = checker.embedder.embed([text for _, text in passages])  # in the index already
        pairs.append(0)
        checker.check(answer, passages, question, passage_vectors=vectors)  # warm-up
        pairs[-1] = 0
        began = time.perf_counter()
        verdict = checker.check(answer, passages, question, passage_vectors=vectors)
        timings.append((time.perf_counter() - began) * 1000)
        unsupported.append(verdict.unsupported)
        claims.append(len(verdict.claims))
    result = {
        "date": f"{datetime.now(UTC):%Y-%m-%d}",
        "answers": args.answers,
        "claims_per_answer": round(float(np.mean(claims)), 2),
        "unsupported_per_answer": round(float(np.mean(unsupported)), 2),
        "consistency_pairs_per_answer": round(float(np.mean(pairs)), 2),
        "latency_ms": {k: round(v, 1) for k, v in latency_percentiles(timings).items()},
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
