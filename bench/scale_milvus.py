"""The milvus side of ``bench/retrieval_scale.py --backend milvus|both``: one process per step.

``build DIR --size N``: writes the same synthetic chunks, records and vectors as the local
build (``retrieval_scale.synthetic_batches``) through the real backend,
``MilvusBackend(settings).write(version, rows, total)``, into the embedded milvus-lite
database ``DIR/milvus.db``. HNSW from ``ATTEST_DENSE_ANN_THRESHOLD`` (50,000) chunks on,
FLAT below, as the backend chooses.

``serve DIR --size N --queries Q``: opens the version as the query service does,
``MilvusBackend(settings, embedder).open(version)``, and times the same query mix as the
local serving process, with the same context building.

milvus-lite 3 is pure Python and embedded: ``MilvusClient`` starts its gRPC server in a
thread of the calling process, so each process's peak memory includes the engine's, and
each query goes through gRPC on the loopback inside that process. It is the development
engine, not a Milvus server or cluster. Each step prints one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import milvus_lite
import numpy as np
from retrieval_scale import DIM, WARM_UP, latencies, peak_rss_mb, query_mix, synthetic_batches, time_queries

from attest.core.models import IndexStatus, IndexVersion
from attest.core.settings import Settings
from attest.retrieval.backend import VersionRow
from attest.retrieval.milvus import LOCATION, MilvusBackend
from attest.retrieval.records import ChunkRecord
from attest.text.embedder import SentenceTransformerEmbedder

ENGINE = f"milvus-lite {milvus_lite.__version__} (embedded: the engine runs in the measured process)"
WARM_UP_QUERIES = 3  # one per asker kind; the timed queries are the local run's first ones
TIMEOUT_S = 3600.0  # the client's 10 s default would cut off filtered searches on milvus-lite


def milvus_settings(directory: Path) -> Settings:
    """The milvus backend on the embedded database ``directory/milvus.db``."""
    return Settings(
        data_dir=directory,
        index_backend="milvus",
        milvus_uri=str(directory / "milvus.db"),
        milvus_timeout=TIMEOUT_S,
    )


def version(backend: MilvusBackend, size: int, status: IndexStatus) -> IndexVersion:
    """Version 1 of knowledge base 1 (never added to a database session)."""
    return IndexVersion(
        id=1,
        kb_id=1,
        version=1,
        status=status,
        path=backend.location(1, 1),
        embedding_model="synthetic",
        embedding_dim=DIM,
        chunk_count=size,
        document_count=0,
        content_revision=0,
    )


def build(directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Write ``args.size`` synthetic chunks through ``MilvusBackend.write``; time and memory."""
    settings = milvus_settings(directory)
    backend = MilvusBackend(settings)
    target = version(backend, args.size, IndexStatus.BUILDING)
    clock = {"generating": 0.0, "exhausted": 0.0}

    def rows() -> Iterator[VersionRow]:
        batches = synthetic_batches(args.size, args)
        while True:
            began = time.perf_counter()
            batch: tuple[int, np.ndarray, np.ndarray, list[ChunkRecord]] | None = next(batches, None)
            clock["generating"] += time.perf_counter() - began
            if batch is None:
                clock["exhausted"] = time.perf_counter()
                return
            start, vectors, _, records = batch
            yield from zip(records, vectors, strict=True)
            print(f"  {start + len(records):,}/{args.size:,} chunks", file=sys.stderr)

    began = time.perf_counter()
    chunks, _ = backend.write(target, rows(), args.size)
    ended = time.perf_counter()
    assert chunks == args.size, chunks
    return {
        "engine": ENGINE,
        "dense_index": dense_index(backend, target),
        "generate_s": round(clock["generating"], 1),  # the synthetic data, not the backend
        "build_s": round(ended - began - clock["generating"], 1),  # records to rows, insert, flush
        "flush_s": round(ended - clock["exhausted"], 1),  # of which: the last insert and the flush
        "build_peak_rss_mb": round(peak_rss_mb()),
        "disk_mb": round(sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 2**20),
    }


def dense_index(backend: MilvusBackend, target: IndexVersion) -> str:
    """The vector field's index type, as Milvus describes it (HNSW or FLAT)."""
    name = target.path.removeprefix(LOCATION)
    for index in backend.client.list_indexes(name, field_name="vector"):
        return str(backend.client.describe_index(name, index).get("index_type", "?")).lower()
    return "none"


def serve(directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Open the version like the query service and time the whole query path."""
    settings = milvus_settings(directory)
    started = time.perf_counter()
    embedder = SentenceTransformerEmbedder(settings.embedding_model)
    embedder.warm_up()
    backend = MilvusBackend(settings, embedder)
    searcher = backend.open(version(backend, args.size, IndexStatus.ACTIVE))
    opened = time.perf_counter() - started
    open_rss = peak_rss_mb()  # the collection loaded; querying adds milvus-lite's filter scans
    mix = query_mix(args, WARM_UP + args.queries, np.random.default_rng(7))
    kinds = time_queries(searcher, embedder, mix[:WARM_UP_QUERIES], mix[WARM_UP:], progress=True)
    return {
        "open_s": round(opened, 1),
        **latencies(kinds),
        "timed_queries": args.queries,
        "open_peak_rss_mb": round(open_rss),
        "serve_peak_rss_mb": round(peak_rss_mb()),
        "recall": None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("build", "serve"))
    parser.add_argument("directory", type=Path)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--clusters", type=int, default=2_000)
    args = parser.parse_args()
    step = build if args.step == "build" else serve
    print(json.dumps(step(args.directory, args)))


if __name__ == "__main__":
    main()
