"""The answer cache's hit path against a miss, in process, on the demo knowledge base.

Asks each demo question (``scripts/demo_kb_questions.json``) once with the cache empty
(a miss: retrieve, generate, verify) and then ``--repeats`` more times (hits), through
the answering service with the extractive generator. Reports p50/p95 of both. Usage:
    python bench/answer_cache.py [--repeats 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from attest.answers import Answerer
from attest.core import db
from attest.core.settings import get_settings
from attest.eval.metrics import latency_percentiles
from attest.ingest.pipeline import IngestPipeline
from attest.text.embedder import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [q["question"] for q in json.loads((ROOT / "scripts/demo_kb_questions.json").read_text())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="attest-cache-") as tmp:
        settings = get_settings().model_copy(
            update={"data_dir": Path(tmp), "database_url": None, "generator": "extractive"}
        )
        db.upgrade(settings.sqlalchemy_url)
        engine = db.make_engine(settings.sqlalchemy_url)
        embedder = SentenceTransformerEmbedder(settings.embedding_model)
        IngestPipeline(settings, engine=engine, embedder=embedder).run("demo", [ROOT / "attest/demo_kb"])
        answerer = Answerer(engine, settings, embedder=embedder)
        answerer.ask("demo", "warm up the models")
        misses, hits = [], []
        for question in QUESTIONS:
            began = time.perf_counter()
            assert not answerer.ask("demo", question).cached
            misses.append((time.perf_counter() - began) * 1000)
        for _ in range(args.repeats):
            for question in QUESTIONS:
                began = time.perf_counter()
                assert answerer.ask("demo", question).cached
                hits.append((time.perf_counter() - began) * 1000)
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "questions": len(QUESTIONS),
        "miss_ms": latency_percentiles(misses),
        "hit_ms": latency_percentiles(hits),
    }
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
