"""``attest eval retrieval``: index a BEIR data set through the normal pipeline and score it per mode."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from attest.core import db
from attest.core.enums import IndexBackendName
from attest.core.errors import InvalidInput
from attest.core.settings import Settings
from attest.eval.datasets import CorpusDoc, Qrels
from attest.eval.metrics import evaluate_run, latency_percentiles
from attest.ingest.pipeline import IngestPipeline
from attest.ingest.progress import BarProgress
from attest.retrieval.backend import Searcher
from attest.retrieval.hybrid import Mode
from attest.retrieval.records import ChunkRecord
from attest.retrieval.service import Retrievers
from attest.text.embedder import SentenceTransformerEmbedder

DOC_DEPTH = 100  # documents ranked per query (Recall@100)
CHUNK_DEPTH = 300  # chunks retrieved to fill DOC_DEPTH distinct documents
ALL_MODES = "all"  # what ``--mode`` accepts for every retrieval mode in turn


def parse_modes(value: str) -> list[Mode]:
    """The modes ``--mode value`` runs: every :class:`Mode` for ``all``, else the one named."""
    if value.strip().lower() == ALL_MODES:
        return list(Mode)
    try:
        return [Mode.from_str(value)]
    except InvalidInput:
        valid = ", ".join([*(m.value for m in Mode), ALL_MODES])
        raise InvalidInput(f"unknown retrieval mode {value!r}; valid values: {valid}.") from None


def parse_backends(value: str | None, settings: Settings) -> list[IndexBackendName]:
    """The index backends ``--backend value`` runs: both for ``all``, the configured one for None."""
    if value is None:
        return [settings.index_backend]
    if value.strip().lower() == ALL_MODES:
        return list(IndexBackendName)
    return [IndexBackendName.from_str(value, name="--backend")]


def evaluate_beir(
    corpus: list[CorpusDoc], queries: dict[str, str], qrels: Qrels, modes: list[Mode], settings: Settings
) -> dict[str, Any]:
    """Metrics and latency per mode, keyed by the mode's name (on ``settings.index_backend``)."""
    with tempfile.TemporaryDirectory(prefix="attest-eval-") as tmp:
        retriever, id_of = index_corpus(corpus, Path(tmp), settings)
        judged = {q: text for q, text in queries.items() if q in qrels}
        return {mode.value: _run_mode(retriever, id_of, judged, qrels, mode) for mode in modes}


def evaluate_backends(
    corpus: list[CorpusDoc],
    queries: dict[str, str],
    qrels: Qrels,
    modes: list[Mode],
    settings: Settings,
    backends: list[IndexBackendName],
) -> dict[str, Any]:
    """:func:`evaluate_beir` on each backend in turn, keyed by the backend's name."""
    return {
        backend.value: evaluate_beir(
            corpus, queries, qrels, modes, settings.model_copy(update={"index_backend": backend})
        )
        for backend in backends
    }


def index_corpus(
    corpus: list[CorpusDoc],
    tmp: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder | None = None,
) -> tuple[Searcher, dict[str, str]]:
    """Ingest the corpus, written as text files, into a data directory under ``tmp``, in the
    index backend ``settings`` names (Milvus: an embedded milvus-lite database there, unless
    ``ATTEST_MILVUS_URI`` names a server).

    Returns the searcher and a map from file stem to corpus id (see ``doc_ranking``).
    """
    folder = tmp / "corpus"
    folder.mkdir()
    id_of: dict[str, str] = {}
    for n, doc in enumerate(corpus):
        name = f"d{n:08d}"
        id_of[name] = doc.id
        body = f"{doc.title}\n\n{doc.text}\n" if doc.title else f"{doc.text}\n"
        (folder / f"{name}.txt").write_text(body, encoding="utf-8")
    settings = settings.model_copy(update={"data_dir": tmp / "data", "database_url": None})
    settings.data_dir.mkdir()
    db.upgrade(settings.sqlalchemy_url)
    engine = db.make_engine(settings.sqlalchemy_url)
    embedder = embedder or SentenceTransformerEmbedder(
        settings.embedding_model, batch_size=settings.embedding_batch_size
    )
    IngestPipeline(settings, engine=engine, embedder=embedder, progress=BarProgress("index corpus")).run(
        "eval", [folder]
    )
    searcher = Retrievers(engine, embedder, settings).get("eval")
    engine.dispose()
    return searcher, id_of


def _run_mode(
    retriever: Searcher, id_of: dict[str, str], queries: dict[str, str], qrels: Qrels, mode: Mode
) -> dict[str, Any]:
    run: dict[str, list[str]] = {}
    latencies: list[float] = []
    for n, (qid, text) in enumerate(queries.items(), 1):
        started = time.perf_counter()
        hits = retriever.retrieve(text, CHUNK_DEPTH, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        run[qid] = doc_ranking([hit.chunk for hit in hits], id_of)
        if n % 500 == 0:
            print(f"{mode.value}: {n}/{len(queries)} queries", file=sys.stderr)
    metrics: dict[str, Any] = {k: round(v, 4) for k, v in evaluate_run(run, qrels).items()}
    metrics["latency_ms"] = {k: round(v, 2) for k, v in latency_percentiles(latencies).items()}
    metrics["queries"] = len(queries)
    return metrics


def doc_ranking(chunks: Iterable[ChunkRecord], id_of: dict[str, str]) -> list[str]:
    """Corpus ids in the order their first chunk appears, at most ``DOC_DEPTH``."""
    ranked: dict[str, None] = {}
    for chunk in chunks:
        ranked.setdefault(id_of[Path(chunk.source_uri).stem], None)
    return list(ranked)[:DOC_DEPTH]
