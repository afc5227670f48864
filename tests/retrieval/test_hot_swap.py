"""Index versions swap in under concurrent queries: no error, no mixed results, no restart."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from attest.core.errors import NotFound
from attest.core.repository import create_kb
from attest.core.settings import Settings
from attest.ingest.pipeline import IngestPipeline
from attest.retrieval.service import Retrievers
from attest.text.embedder import SentenceTransformerEmbedder

pytestmark = pytest.mark.integration

QUERY = "zebra crossing safety rule"
FIRST = {
    "leave.txt": "Annual leave\n\nEveryone gets twenty-five days of annual leave a year.\n",
    "travel.txt": "Travel\n\nBook trains for trips under four hours; flights need approval.\n",
    "kitchen.txt": "Kitchen\n\nClean your mug and empty the dishwasher when it is done.\n",
}


def write(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(body)


@pytest.fixture
def setup(
    settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> tuple[IngestPipeline, Retrievers, Path]:
    docs = tmp_path / "docs"
    for name, body in FIRST.items():
        write(docs, name, body)
    pipeline = IngestPipeline(settings, engine=engine, embedder=embedder)
    pipeline.run("kb", [docs])
    return pipeline, Retrievers(engine, embedder, settings), docs


def test_activation_swaps_in_under_concurrent_queries(
    setup: tuple[IngestPipeline, Retrievers, Path],
) -> None:
    pipeline, retrievers, docs = setup
    first = retrievers.get("kb")
    assert retrievers.get("kb") is first  # loaded once, then shared
    v1 = first.snapshot.version

    seen: list[tuple[int, tuple[str, ...]]] = []
    per_thread: dict[int, list[int]] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                retriever = retrievers.get("kb")
                hits = retriever.retrieve(QUERY, k=4)
                # every hit belongs to the version the query ran on
                for hit in hits:
                    assert retriever.snapshot.chunks[hit.row].chunk_id == hit.chunk.chunk_id
                seen.append((retriever.snapshot.version, tuple(h.chunk.source_uri for h in hits)))
                per_thread.setdefault(threading.get_ident(), []).append(retriever.snapshot.version)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
                return

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        write(docs, "zebra.txt", "Zebra crossing\n\nThe zebra crossing safety rule: stop for walkers.\n")
        assert pipeline.run("kb", [docs]).index_version == v1 + 1
        # a second activation prunes version 1's files (two versions are kept)
        (docs / "kitchen.txt").unlink()
        assert pipeline.run("kb", [docs], sync=True).index_version == v1 + 2
        while not any(version == v1 + 2 for version, _ in seen) and not errors:
            threading.Event().wait(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert not errors, errors
    versions = [version for version, _ in seen]
    assert versions[0] == v1 and v1 + 2 in versions
    assert all(v == sorted(v) for v in per_thread.values())  # no thread ever goes back a version
    zebra = str(docs / "zebra.txt")
    for version, sources in seen:
        assert (zebra in sources) == (version > v1), (version, sources)
        assert version < v1 + 2 or str(docs / "kitchen.txt") not in sources

    # The query that held version 1 all along still runs after its files were deleted.
    assert not first.snapshot.path.exists()
    hits = first.retrieve(QUERY, k=4)
    assert len(hits) == 3 and zebra not in {h.chunk.source_uri for h in hits}
    assert retrievers.get("kb").snapshot.version == v1 + 2


def test_unknown_kb_and_kb_without_index(
    setup: tuple[IngestPipeline, Retrievers, Path], engine: Engine, settings: Settings
) -> None:
    _pipeline, retrievers, _docs = setup
    with pytest.raises(NotFound, match="nope"):
        retrievers.get("nope")
    with Session(engine) as session:
        create_kb(session, name="empty")
        session.commit()
    with pytest.raises(NotFound, match="no index yet"):
        retrievers.get("empty")


def test_a_version_pruned_before_it_loads_falls_through_to_the_newest(
    setup: tuple[IngestPipeline, Retrievers, Path],
) -> None:
    pipeline, retrievers, docs = setup
    retriever = retrievers.get("kb")
    shutil.rmtree(retriever.snapshot.path)  # as if pruned by another process
    write(docs, "zebra.txt", "Zebra crossing\n\nThe zebra crossing safety rule: stop for walkers.\n")
    version = pipeline.run("kb", [docs]).index_version
    assert retrievers._load("kb", retriever.snapshot.version_id).snapshot.version == version
