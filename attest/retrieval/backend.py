"""Where index versions live: the interface every index backend implements, and the two there are.

An index version is immutable once written. Its lifecycle is the same on every backend and
is driven by :mod:`attest.retrieval.index_store` through the database: a version row is
created BUILDING, the backend writes the chunks (:meth:`IndexBackend.write`), the backend
makes it the one queries read (:meth:`IndexBackend.activate`) just before the database flips
``knowledge_bases.active_index_id``, and old versions are deleted (:meth:`IndexBackend.delete`).
A version the backend cannot read (another backend's, or an older format) is rebuilt by the
next ingest.

* ``local`` (the default): the version's files under the data directory, memory-mapped by
  every process: BM25 and FAISS in :mod:`attest.retrieval.hybrid`.
* ``milvus``: one Milvus collection per version and an alias per knowledge base
  (:mod:`attest.retrieval.milvus`).

Both answer :meth:`Searcher.retrieve` with the caller's filters applied inside the search,
before the top-k cut, and fuse BM25 and dense candidates with the same code.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import numpy as np

from attest.core.enums import IndexBackendName
from attest.core.errors import NotFound
from attest.core.models import IndexVersion
from attest.core.settings import Settings
from attest.retrieval.filters import Filters
from attest.retrieval.hybrid import (
    HybridRetriever,
    Mode,
    QueryEntities,
    RetrievedChunk,
    bm25_config,
    dense_config,
    open_retriever,
)
from attest.retrieval.index_store import is_current_format, load_snapshot, write_snapshot
from attest.retrieval.records import ChunkRecord
from attest.text.embedder import Embedder

MILVUS_LOCATION = "milvus:"  # how a Milvus version's IndexVersion.path begins (then its collection)

# One chunk of a version as the database holds it: its record and its embedding.
VersionRow = tuple[ChunkRecord, np.ndarray]


class Searcher(Protocol):
    """Answers queries from one index version; safe to share between threads."""

    @property
    def version_id(self) -> int:
        """The version's database id."""
        ...

    @property
    def version(self) -> int:
        """The version's number within its knowledge base."""
        ...

    @property
    def backend(self) -> IndexBackendName:
        """The backend it searches."""
        ...

    def retrieve(
        self, query: str, k: int = 10, filters: Filters | None = None, mode: Mode = Mode.HYBRID
    ) -> list[RetrievedChunk]:
        """The ``k`` best chunks for ``query`` among those ``filters`` allow, best first."""
        ...


class IndexBackend(Protocol):
    """Writes, activates, deletes and opens the index versions of knowledge bases."""

    name: IndexBackendName

    def location(self, kb_id: int, number: int) -> str:
        """Where version ``number`` of a knowledge base lives (its ``IndexVersion.path``)."""
        ...

    def write(self, version: IndexVersion, rows: Iterable[VersionRow], total: int) -> tuple[int, int]:
        """Store ``rows`` (at most ``total``) as ``version``, completely or not at all; returns
        the chunks and documents written (its size, which the version's row records). Nothing
        reads it before :meth:`activate`."""
        ...

    def activate(self, kb_id: int, version: IndexVersion) -> None:
        """Point the knowledge base at ``version`` (called just before the database records it)."""
        ...

    def delete(self, version: IndexVersion) -> None:
        """Remove a version's data; queries already reading it may finish (never raises for a
        version already gone)."""
        ...

    def discard_unfinished(self, kb_id: int, unfinished: Iterable[IndexVersion]) -> None:
        """Remove what builds that never finished left behind (a crash, a killed worker)."""
        ...

    def drop_kb(self, kb_id: int) -> None:
        """Remove everything a deleted knowledge base left in the backend."""
        ...

    def readable(self, version: IndexVersion) -> bool:
        """Whether this backend, in this version of Attest, can serve ``version``."""
        ...

    def open(self, version: IndexVersion, query_entities: QueryEntities | None = None) -> Searcher:
        """A searcher over ``version`` (NotFound when it is gone or unreadable)."""
        ...


class LocalBackend:
    """Index versions as immutable files under ``ATTEST_DATA_DIR/indexes`` (see ``index_store``)."""

    name = IndexBackendName.LOCAL

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        """``embedder`` embeds queries; only :meth:`open` needs it."""
        self.settings = settings
        self.embedder = embedder
        self.root = settings.index_dir

    def location(self, kb_id: int, number: int) -> str:
        return str(self.root / f"kb-{kb_id}" / f"v{number}")

    def write(self, version: IndexVersion, rows: Iterable[VersionRow], total: int) -> tuple[int, int]:
        return write_snapshot(
            Path(version.path),
            version,
            rows,
            total,
            bm25_config(self.settings),
            dense_config(self.settings),
        )

    def activate(self, kb_id: int, version: IndexVersion) -> None:
        """Nothing to do: every process follows the database's pointer (``Retrievers``)."""

    def delete(self, version: IndexVersion) -> None:
        """Remove the version's directory (another backend's version is left to that backend)."""
        if not version.path.startswith(MILVUS_LOCATION):
            shutil.rmtree(version.path, ignore_errors=True)

    def discard_unfinished(self, kb_id: int, unfinished: Iterable[IndexVersion]) -> None:
        for version in unfinished:
            self.delete(version)
        kb_dir = self.root / f"kb-{kb_id}"
        if kb_dir.is_dir():
            for tmp in kb_dir.glob(".v*.tmp-*"):
                shutil.rmtree(tmp, ignore_errors=True)

    def drop_kb(self, kb_id: int) -> None:
        shutil.rmtree(self.root / f"kb-{kb_id}", ignore_errors=True)

    def readable(self, version: IndexVersion) -> bool:
        return is_current_format(version.path)

    def open(self, version: IndexVersion, query_entities: QueryEntities | None = None) -> HybridRetriever:
        if self.embedder is None:
            raise TypeError("LocalBackend.open needs the embedder that embeds queries")
        if version.path.startswith(MILVUS_LOCATION):
            raise NotFound(
                f"Index version {version.version} was built by another index backend ({version.path}); "
                "set ATTEST_INDEX_BACKEND back, or re-index the knowledge base to build it in local files."
            )
        snapshot = load_snapshot(version.path, version.id)
        return open_retriever(snapshot, self.embedder, self.settings, query_entities)


def index_backend(settings: Settings, embedder: Embedder | None = None) -> IndexBackend:
    """The backend ``ATTEST_INDEX_BACKEND`` names; ``embedder`` embeds queries (only searching
    needs it). Building one opens no connection: Milvus is reached on first use."""
    if settings.index_backend is IndexBackendName.MILVUS:
        from attest.retrieval.milvus import MilvusBackend  # pymilvus loads only when it is used

        return MilvusBackend(settings, embedder)
    return LocalBackend(settings, embedder)
