"""``attest ask`` latency and correctness on the demo knowledge base, per answer backend.

Ingests the bundled demo knowledge base into a temporary data directory, then asks the
demo questions (``scripts/demo_kb_questions.json``: answerable ones with their expected
answer, and questions the handbook cannot answer) ``--rounds`` times through the answering
service, as ``attest ask`` does after start-up. Reports p50/p95/p99 of the whole answer
time and the p50 of each stage of an answer (``Answer.timings_ms``: retrieval, reading,
generation, verification, ...), the share of answerable questions whose answer contains the
expected text, and the share of unanswerable ones declined. The answer cache is off, so
every round computes its answers (``bench/answer_cache.py`` measures the cache's hit path).
Usage:
    python bench/ask_latency.py [--backends extractive llama_cpp] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from attest.answers import Answerer
from attest.core import db
from attest.core.settings import get_settings
from attest.eval.metrics import latency_percentiles, normalize_answer
from attest.ingest.pipeline import IngestPipeline
from attest.text.embedder import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "scripts/demo_kb_questions.json"
DEMO = ROOT / "attest/demo_kb"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["extractive", "llama_cpp"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    questions = json.loads(QUESTIONS.read_text())
    results: dict[str, Any] = {"date": datetime.now(UTC).date().isoformat(), "questions": len(questions)}
    with tempfile.TemporaryDirectory(prefix="attest-ask-") as tmp:
        settings = get_settings().model_copy(
            update={"data_dir": Path(tmp), "database_url": None, "answer_cache_size": 0}
        )
        db.upgrade(settings.sqlalchemy_url)
        engine = db.make_engine(settings.sqlalchemy_url)
        embedder = SentenceTransformerEmbedder(settings.embedding_model)
        IngestPipeline(settings, engine=engine, embedder=embedder).run("demo", [DEMO])
        for backend in args.backends:
            answerer = Answerer(engine, settings.model_copy(update={"generator": backend}), embedder=embedder)
            # Loads the models, as the first ask would; not a timed question, whose question
            # and answer units would then be embedded already (they are kept between questions).
            answerer.ask("demo", "Which documents does this knowledge base hold?")
            answerer.warm_up()  # every model, as the server's start-up does
            results[backend] = run(answerer, questions, args.rounds)
            print(f"{backend}: {json.dumps(results[backend])}", file=sys.stderr)
    print(json.dumps(results, indent=None if args.json else 2))


def run(answerer: Answerer, questions: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    times, found, declined = [], [], []
    stages: dict[str, list[float]] = {}
    for _ in range(rounds):
        for item in questions:
            began = time.perf_counter()
            answer = answerer.ask("demo", item["question"])
            times.append((time.perf_counter() - began) * 1000)
            for stage, ms in answer.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
            if item["answer"] is None:
                declined.append(not answer.answered)
            else:
                found.append(
                    answer.answered and normalize_answer(item["answer"]) in normalize_answer(answer.text)
                )
    return {
        "latency_ms": {k: round(v, 1) for k, v in latency_percentiles(times).items()},
        "stages_p50_ms": {k: round(float(np.median(v)), 1) for k, v in stages.items()},
        "answer_found": round(sum(found) / len(found), 3),
        "unanswerable_declined": round(sum(declined) / len(declined), 3),
        "asks": len(times),
    }


if __name__ == "__main__":
    main()
