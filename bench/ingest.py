"""Benchmark of the ingest pipeline on the 18F handbook (``shared/data/handbook-18f/pages``).

The corpus is copied to a temporary folder and ingested into a temporary SQLite database; the
embedding model is loaded once, before any timing, and shared by every run. Phases:

1. first ingest into an empty database;
2. the encoder alone: ``embedder.embed`` on the chunk texts the first ingest stored, same batch
   size (target: first-ingest chunks/s at least 90% of the encoder's chunks/s);
3. the entity tagger alone (``ATTEST_SPACY_PIPELINE``): ``EntityTagger.tag_many`` on the
   documents' stored text, in one thread, for what entities cost beside the encoder;
4. re-ingest of the unchanged corpus (target: at most 5% of the first ingest's seconds);
5. re-ingest after a paragraph was appended to one page (only that page may be re-embedded).

Per phase: wall seconds, documents/s (files examined), chunks/s and tokens/s (embedded chunks
only; tokens = sum of ``token_end - token_start`` from the chunks table, so overlaps count once
per chunk and [CLS]/[SEP] not at all), the process's peak RSS, model included (VmRSS sampled
every 50 ms) and its ru_maxrss. Usage: python bench/ingest.py [--corpus PATH] [--limit N] [--json|--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from attest.core.db import make_engine, upgrade
from attest.core.models import Chunk, Document
from attest.core.settings import Settings
from attest.eval.datasets import HANDBOOK_PAGES
from attest.ingest.entities import EntityTagger
from attest.ingest.pipeline import IngestPipeline, discover
from attest.text.embedder import SentenceTransformerEmbedder

KB = "bench"
RESCAN_TARGET = 0.05  # unchanged re-ingest seconds / first ingest seconds, at most
ENCODER_TARGET = 0.9  # first ingest chunks/s / encoder chunks/s, at least
NEW_PARAGRAPH = "\n\nBenchmark addendum: a new paragraph, so that this page alone is re-embedded.\n"
COLUMNS = ("seconds", "documents_per_s", "chunks", "chunks_per_s", "tokens_per_s", "peak_rss_mib")
HEADERS = ("seconds", "docs/s", "chunks embedded", "chunks/s", "tokens/s", "peak RSS MiB")


def rss_mib() -> float:
    """Current resident set size in MiB."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def timed(fn: Callable[[], Any], interval: float = 0.05) -> tuple[Any, float, float]:
    """Run ``fn`` while a thread samples RSS; return its value, wall seconds and peak RSS (MiB)."""
    peak = [rss_mib()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            peak[0] = max(peak[0], rss_mib())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    started = time.perf_counter()
    try:
        value = fn()
        seconds = time.perf_counter() - started
    finally:
        stop.set()
        thread.join()
    return value, seconds, round(max(peak[0], rss_mib()), 1)


def metrics(seconds: float, documents: int | None, chunks: int, tokens: int, peak: float) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 3),
        "documents": documents,
        "documents_per_s": None if documents is None else round(documents / seconds, 2),
        "chunks": chunks,
        "tokens": tokens,
        "chunks_per_s": round(chunks / seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
        "peak_rss_mib": peak,
        "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def doc_hashes(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Document.id, Document.content_hash)).all())


def embedded_since(engine: Engine, before: dict[int, str]) -> tuple[int, int]:
    """Chunks and tokens of the documents added or changed since the ``before`` snapshot."""
    changed = [doc for doc, digest in doc_hashes(engine).items() if before.get(doc) != digest]
    query = select(func.count(Chunk.id), func.sum(Chunk.token_end - Chunk.token_start))
    with engine.connect() as conn:
        chunks, tokens = conn.execute(query.where(Chunk.document_id.in_(changed))).one()
    return int(chunks), int(tokens or 0)


def ingest_phase(settings: Settings, engine: Engine, embedder: Any, corpus: Path) -> dict[str, Any]:
    """One job, as ``attest ingest`` runs it but with the model already loaded."""
    pipeline = IngestPipeline(settings, engine=engine, embedder=embedder)
    before = doc_hashes(engine)
    summary, seconds, peak = timed(lambda: pipeline.run(KB, [corpus]))
    s = summary.to_dict()
    documents = sum(s[f"documents_{k}"] for k in ("added", "updated", "unchanged", "failed"))
    return {**metrics(seconds, documents, *embedded_since(engine, before), peak), "summary": s}


def encoder_phase(engine: Engine, embedder: SentenceTransformerEmbedder) -> dict[str, Any]:
    """``embedder.embed`` alone, in one call, on every chunk text the pipeline stored."""
    query = select(Chunk.text, Chunk.token_end - Chunk.token_start)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(Chunk.document_id, Chunk.position)).all()
    _, seconds, peak = timed(lambda: embedder.embed([text for text, _ in rows]))
    tokens = sum(n for _, n in rows)
    return {**metrics(seconds, None, len(rows), tokens, peak), "batch_size": embedder.batch_size}


def tagger_phase(settings: Settings, engine: Engine) -> dict[str, Any]:
    """The ingest pipeline's entity tagger alone, on every stored document's text, after a warm-up."""
    with engine.connect() as conn:
        texts = [text for (text,) in conn.execute(select(Document.text).where(Document.text != ""))]
    tagger = EntityTagger(settings.spacy_pipeline)
    tagger.tag_many(texts[:2])
    _, seconds, peak = timed(lambda: tagger.tag_many(texts))
    characters = sum(map(len, texts))
    return {
        **dict.fromkeys(COLUMNS),
        "seconds": round(seconds, 3),
        "documents": len(texts),
        "documents_per_s": round(len(texts) / seconds, 2),
        "peak_rss_mib": peak,
        "characters": characters,
        "characters_per_s": round(characters / seconds),
        "pipeline": f"{settings.spacy_pipeline} (trained: {tagger.trained})",
    }


def copy_corpus(source: Path, dest: Path, limit: int | None) -> list[Path]:
    """Copy the first ``limit`` files of ``source``, in the pipeline's sorted order; return the copies."""
    files = discover([source])[:limit]
    copies = [dest / path.relative_to(source.resolve()) for path in files]
    for path, copy in zip(files, copies, strict=True):
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    return copies


def append_paragraph(files: list[Path]) -> Path:
    """Append new text to the first Markdown page (or the first file) of the copy."""
    page = next((p for p in files if p.suffix == ".md"), files[0])
    with open(page, "a", encoding="utf-8") as handle:
        handle.write(NEW_PARAGRAPH)
    return page


def machine() -> dict[str, Any]:
    import torch  # already imported by the embedder

    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    cpu = (models or ["unknown"])[0]
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": cpu, "torch_threads": torch.get_num_threads()}


def run(source: Path, limit: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="attest-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        files = copy_corpus(source, corpus, limit)
        settings = Settings(data_dir=Path(tmp) / "data", database_url=None)  # never the configured DB
        settings.data_dir.mkdir(parents=True)
        upgrade(settings.sqlalchemy_url)
        engine = make_engine(settings.sqlalchemy_url)
        embedder = IngestPipeline(settings, engine=engine).embedder  # as configured by settings
        embedder.warm_up()
        model_rss = round(rss_mib(), 1)
        phases = {"first_ingest": ingest_phase(settings, engine, embedder, corpus)}
        phases["encoder_alone"] = encoder_phase(engine, embedder)
        phases["entity_tagger_alone"] = tagger_phase(settings, engine)
        phases["reingest_unchanged"] = ingest_phase(settings, engine, embedder, corpus)
        page = append_paragraph(files)
        phases["reingest_one_page_changed"] = ingest_phase(settings, engine, embedder, corpus)
        engine.dispose()
    first, changed = phases["first_ingest"], phases["reingest_one_page_changed"]
    rescan = phases["reingest_unchanged"]["seconds"] / first["seconds"]
    share = first["chunks_per_s"] / phases["encoder_alone"]["chunks_per_s"]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "command": shlex.join(["python", *sys.argv]),
        "machine": machine(),
        "corpus": str(source),
        "files": len(files),
        "model": settings.embedding_model,
        "rss_after_model_load_mib": model_rss,
        "changed_page": str(page.relative_to(corpus)),
        "phases": phases,
        "checks": {
            "rescan_ratio": round(rescan, 4),
            "rescan_ok": rescan <= RESCAN_TARGET,
            "pipeline_encoder_ratio": round(share, 3),
            "pipeline_encoder_ok": share >= ENCODER_TARGET,
            "only_changed_page_embedded": changed["summary"]["documents_updated"] == 1
            and changed["summary"]["embeddings_computed"] == changed["chunks"],
        },
    }


def report(result: dict[str, Any], markdown: bool = False) -> str:
    """The human-readable report: plain text with aligned columns, or Markdown."""
    m, c, tagger = result["machine"], result["checks"], result["phases"]["entity_tagger_alone"]
    mark = {True: "ok", False: "MISSED"}
    command = f"`{result['command']}`" if markdown else result["command"]
    intro = [
        f"Date (UTC): {result['date']}",
        f"Command: {command}",
        f"Machine: {m['nproc']} CPUs, {m['cpu']}, torch threads {m['torch_threads']}",
        f"Corpus: {result['files']} files of {result['corpus']}; model {result['model']} "
        f"(RSS after loading it: {result['rss_after_model_load_mib']} MiB)",
    ]
    rows = [["phase", *HEADERS]]
    for name, phase in result["phases"].items():
        rows.append([name.replace("_", " "), *("-" if phase[k] is None else str(phase[k]) for k in COLUMNS)])
    checks = [
        f"unchanged/first seconds {c['rescan_ratio']} (<= {RESCAN_TARGET}): {mark[c['rescan_ok']]}",
        f"first/encoder chunks/s {c['pipeline_encoder_ratio']} (>= {ENCODER_TARGET}): "
        f"{mark[c['pipeline_encoder_ok']]}",
        f"only {result['changed_page']} re-embedded: {mark[c['only_changed_page_embedded']]}",
        f"entity tagger alone: {tagger['pipeline']}, {tagger['characters']} characters, "
        f"{tagger['characters_per_s']} characters/s on one thread",
        "chunks, tokens: embedded chunks only; tokens = sum(token_end - token_start) from the chunks table",
    ]
    if markdown:
        table = ["| " + " | ".join(row) + " |" for row in rows]
        table.insert(1, "|---|" + "---:|" * len(COLUMNS))
        return "\n".join([*(f"- {x}" for x in intro), "", *table, "", *(f"- {x}" for x in checks)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = ["  ".join([r[0].ljust(widths[0]), *map(str.rjust, r[1:], widths[1:])]) for r in rows]
    return "\n".join([*intro, "", *table, "", *checks])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HANDBOOK_PAGES, help="folder of pages to ingest")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N files (sorted)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    output.add_argument("--markdown", action="store_true", help="print a Markdown table on stdout")
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if not args.corpus.is_dir() or not discover([args.corpus]):
        print(f"skipped: corpus {args.corpus} not found or empty (use --corpus PATH)", file=sys.stderr)
        return 0
    result = run(args.corpus, args.limit)
    print(report(result), file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
    elif args.markdown:
        print(report(result, markdown=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
