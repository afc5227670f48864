"""The answer backends side by side: extractive and the named local models, on the same
fixed questions, with the relevance and answerability gates on (the defaults).

Two question sets:

* ``squad``: a fixed sample of SQuAD 2.0 dev questions from the held-out (odd-numbered)
  articles, through ``attest eval qa``'s own code (``evaluate_squad``);
* ``demo``: ``bench/data/demo_questions.jsonl``, employee questions about the demo
  knowledge base (facts, two-part and table questions, who-owns-what, and near-topic
  questions it does not answer); an answer is right when it contains every expected
  string, a question without any is right when declined.

For each backend: contains gold (all parts), F1 (SQuAD), declined on unanswerable,
citation precision, the time to the first word and the total time (p50, p95).

``--no-reader-gate`` (demo questions only) asks the model even when the reader finds no
passage that answers, to see what the gate costs a model that reads well.

``--reset-prefix`` clears llama.cpp's cache before each question, so the fixed front of
the prompt is read again every time: the difference to a normal run is what the prefix
cache saves. Usage:
    python bench/local_llms.py --backends extractive,qwen2.5-coder-0.5b-instruct \\
        [--sets squad,demo] [--limit 200] [--source-tokens 0] [--reset-prefix] [--no-reader-gate] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attest.answers import Answer, Answerer
from attest.core import db
from attest.core.enums import GeneratorName
from attest.core.settings import Settings, get_settings
from attest.eval.datasets import SQUAD_DEV
from attest.eval.metrics import latency_percentiles, time_to_first_word
from attest.eval.squad import evaluate_squad
from attest.generation.backends import LlamaCppGenerator
from attest.generation.models import MODELS
from attest.ingest.pipeline import IngestPipeline
from attest.text.embedder import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]
DEMO_KB = ROOT / "attest/demo_kb"
DEMO_QUESTIONS = ROOT / "bench/data/demo_questions.jsonl"


@dataclass(frozen=True)
class DemoQuestion:
    question: str
    expected: tuple[str, ...]  # every part a right answer holds; none: it must be declined
    kind: str


def demo_questions(path: Path = DEMO_QUESTIONS) -> list[DemoQuestion]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [DemoQuestion(r["question"], tuple(r["expected"]), r["kind"]) for r in rows]


def backend_settings(base: Settings, backend: str, source_tokens: int) -> Settings:
    """``extractive``, or ``llama_cpp`` with the named model ``backend``."""
    if backend == "extractive":
        return base.model_copy(update={"generator": GeneratorName.EXTRACTIVE, "answer_cache_size": 0})
    if backend not in MODELS:
        raise SystemExit(f"unknown backend {backend!r}: extractive or one of {', '.join(MODELS)}")
    return base.model_copy(
        update={
            "generator": GeneratorName.LLAMA_CPP,
            "llm_model": backend,
            "llm_source_tokens": source_tokens,
            "answer_cache_size": 0,
        }
    )


@contextmanager
def demo_kb(base: Settings, embedder: SentenceTransformerEmbedder) -> Iterator[Settings]:
    """The demo knowledge base, ingested once into a temporary data directory."""
    with tempfile.TemporaryDirectory(prefix="attest-llms-") as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp) / "data", "database_url": None})
        settings.data_dir.mkdir(parents=True)
        db.upgrade(settings.sqlalchemy_url)
        engine = db.make_engine(settings.sqlalchemy_url)
        IngestPipeline(settings, engine=engine, embedder=embedder).run("demo", [DEMO_KB])
        engine.dispose()
        yield settings


def run_demo(
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    questions: list[DemoQuestion],
    reset: bool,
    reader_gate: bool = True,
) -> dict[str, Any]:
    engine = db.make_engine(settings.sqlalchemy_url)
    answerer = Answerer(engine, settings, embedder=embedder)
    if not reader_gate:  # the model is asked whatever the reader finds (the relevance gate stays)
        answerer = Answerer(engine, settings, embedder=embedder, answer_model=answerer.answer_model.ungated())
    rows = []
    for question in questions:
        generator = answerer.generator
        if reset and isinstance(generator, LlamaCppGenerator):
            generator.llama.reset()  # forget the previous prompt: nothing is reused
        answer = answerer.ask("demo", question.question)
        rows.append(_demo_row(question, answer))
        print(
            f"  {_mark(rows[-1])} {question.question[:60]!r}: {answer.text[:100]!r} ({answer.reason})",
            file=sys.stderr,
        )
    engine.dispose()
    return _demo_report(rows)


def _mark(row: dict[str, Any]) -> str:
    return "ok " if row["right"] else "-- "


def _demo_row(question: DemoQuestion, answer: Answer) -> dict[str, Any]:
    cited = {c.number for c in answer.citations}
    texts = [s.text for s in answer.sources if s.passage is not None and s.passage.number in cited]
    answerable = bool(question.expected)
    right = (
        answer.answered and all(part in answer.text for part in question.expected)
        if answerable
        else not answer.answered
    )
    precise = [any(part in text for part in question.expected) for text in texts] if answerable else []
    return {
        "question": question.question,
        "kind": question.kind,
        "answerable": answerable,
        "answered": answer.answered,
        "right": right,
        "precise": precise,
        "text": answer.text,
        "first_word_ms": time_to_first_word(answer.timings_ms),
        "total_ms": round(sum(answer.timings_ms.values()), 2),
    }


def _demo_report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    precise = [p for r in answerable for p in r["precise"]]
    return {
        "answerable": {
            "n": len(answerable),
            "contains_gold": _share(r["right"] for r in answerable),
            "answered": _share(r["answered"] for r in answerable),
        },
        "unanswerable": {"n": len(unanswerable), "declined": _share(r["right"] for r in unanswerable)},
        "citation_precision": _share(precise),
        "latency_ms": {
            "first_word": latency_percentiles([r["first_word_ms"] for r in rows]),
            "total": latency_percentiles([r["total_ms"] for r in rows]),
        },
        # The questions a backend answered: where a model wrote, not where the gates declined.
        "answered_first_word_ms": latency_percentiles([r["first_word_ms"] for r in rows if r["answered"]])
        if any(r["answered"] for r in rows)
        else {},
        "rows": rows,
    }


def _share(values: Any) -> float:
    values = [bool(v) for v in values]
    return round(sum(values) / len(values), 4) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="extractive," + ",".join(MODELS))
    parser.add_argument("--sets", default="squad,demo", help="squad, demo or both")
    parser.add_argument("--squad", type=Path, default=SQUAD_DEV)
    parser.add_argument("--limit", type=int, default=200, help="SQuAD questions (held-out articles)")
    parser.add_argument(
        "--source-tokens", type=int, default=0, help="ATTEST_LLM_SOURCE_TOKENS for the models"
    )
    parser.add_argument("--reset-prefix", action="store_true", help="no prefix reuse between questions")
    parser.add_argument("--no-reader-gate", action="store_true", help="demo: ask the model regardless")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args()

    base = get_settings()
    embedder = SentenceTransformerEmbedder(base.embedding_model)
    sets = set(args.sets.split(","))
    results: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "command": "python bench/local_llms.py " + " ".join(sys.argv[1:]),
        "backends": {},
    }
    questions = demo_questions()
    with demo_kb(base, embedder) as demo_settings:
        for backend in args.backends.split(","):
            began = time.perf_counter()
            result: dict[str, Any] = {}
            if "demo" in sets:
                print(f"{backend}: demo questions", file=sys.stderr)
                settings = backend_settings(demo_settings, backend, args.source_tokens)
                result["demo"] = run_demo(
                    settings, embedder, questions, args.reset_prefix, reader_gate=not args.no_reader_gate
                )
            if "squad" in sets:
                print(f"{backend}: SQuAD, held-out articles", file=sys.stderr)
                settings = backend_settings(base, backend, args.source_tokens)
                result["squad"] = evaluate_squad(
                    args.squad, settings, limit=args.limit, oracle=False, articles="odd"
                )
            result["seconds"] = round(time.perf_counter() - began, 1)
            results["backends"][backend] = result
            print(json.dumps({backend: _summary(result)}), file=sys.stderr)
    if args.json:
        print(json.dumps(results))
    else:
        for backend, result in results["backends"].items():
            print(backend, json.dumps(_summary(result)))


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """The figures of each set without the per-question rows."""
    out: dict[str, Any] = {}
    for name in ("demo", "squad"):
        if name in result:
            r = result[name]
            out[name] = {
                "contains_gold": r["answerable"]["contains_gold"],
                "f1": r["answerable"].get("f1"),
                "declined_unanswerable": r["unanswerable"]["declined"],
                "citation_precision": r["citation_precision"],
                "first_word_ms": r["latency_ms"]["first_word"],
                "total_ms": r["latency_ms"]["total"],
            }
    return out


if __name__ == "__main__":
    main()
