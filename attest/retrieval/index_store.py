"""Versioned, immutable index snapshots of a knowledge base.

A version is a directory holding everything a query needs: the chunk embeddings
(``embeddings.npy``), the chunks with their document's title, ACL and tags
(``chunks.jsonl``, same order), the BM25 index (``bm25/``), the FAISS index
(``dense.faiss``) and a ``manifest.json``. It is written completely under a
temporary name, flushed to disk and renamed into place before the database marks it
active, so a failed or interrupted build never touches the version queries are reading.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from attest.core.errors import NotFound, RetrievalError
from attest.core.models import Chunk, Document, IndexStatus, IndexVersion, KnowledgeBase, utcnow
from attest.retrieval.bm25 import BM25Config, BM25Index
from attest.retrieval.dense import DenseConfig, DenseIndex
from attest.retrieval.records import ChunkEntity, ChunkRecord

if TYPE_CHECKING:
    from attest.retrieval.backend import IndexBackend

log = logging.getLogger(__name__)

FORMAT = 2


class ChunkRecords(Sequence[ChunkRecord]):
    """The chunk records of a version, parsed on demand from its memory-mapped ``chunks.jsonl``.

    Only the records a query returns are ever parsed, so a million-chunk version costs its
    line offsets in memory, not a million records. The map outlives the file, so a version
    deleted by pruning still serves the queries already reading it.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            self._data: mmap.mmap | bytes = (
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
            )
        ends = np.flatnonzero(np.frombuffer(self._data, dtype=np.uint8) == ord("\n"))
        self._starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64) if len(ends) else ends
        self._ends = ends

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, row: int) -> ChunkRecord: ...
    @overload
    def __getitem__(self, row: slice) -> list[ChunkRecord]: ...
    def __getitem__(self, row: int | slice) -> ChunkRecord | list[ChunkRecord]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        if not -len(self) <= row < len(self):
            raise IndexError(f"chunk row {row} is out of range (0..{len(self) - 1})")
        row = row % len(self)
        return ChunkRecord.from_json(self._data[self._starts[row] : self._ends[row]])

    def __iter__(self) -> Iterator[ChunkRecord]:
        return (self[i] for i in range(len(self)))

    def lines(self) -> Iterator[dict[str, Any]]:
        """Every line as parsed JSON, in row order, without building records (loading a version)."""
        for start, end in zip(self._starts, self._ends, strict=True):
            yield json.loads(self._data[start:end])


@dataclass(frozen=True)
class IndexSnapshot:
    """A loaded index version: embeddings and chunk records, row for row."""

    version_id: int
    version: int
    path: Path
    manifest: dict[str, Any]
    embeddings: np.ndarray
    chunks: ChunkRecords


def build_index_version(
    session: Session,
    kb: KnowledgeBase,
    backend: IndexBackend,
    *,
    embedding_model: str,
    dim: int,
    keep: int = 2,
) -> IndexVersion:
    """Write a new version from the chunks in the database and make it the active one."""
    revision = kb.content_revision
    number = (
        session.scalar(select(func.max(IndexVersion.version)).where(IndexVersion.kb_id == kb.id)) or 0
    ) + 1
    version = IndexVersion(
        kb_id=kb.id,
        version=number,
        status=IndexStatus.BUILDING,
        path=backend.location(kb.id, number),
        embedding_model=embedding_model,
        embedding_dim=dim,
        content_revision=revision,
    )
    session.add(version)
    session.commit()  # the BUILDING row lets a later job clean up after a crash

    total = session.scalar(select(func.count(Chunk.id)).where(Chunk.kb_id == kb.id)) or 0
    chunk_count, doc_count = backend.write(version, version_rows(session, kb.id), total)
    version.chunk_count = chunk_count
    version.document_count = doc_count
    activate(session, kb, version, backend)
    prune_versions(session, kb.id, keep=keep, backend=backend)
    return version


def version_rows(session: Session, kb_id: int) -> Iterator[tuple[ChunkRecord, np.ndarray]]:
    """Every chunk of a knowledge base with its embedding, by document and position."""
    rows = session.execute(
        select(Chunk, Document.title, Document.source_uri, Document.acl, Document.tags)
        .join(Document, Chunk.document_id == Document.id)
        .where(Chunk.kb_id == kb_id)
        .order_by(Chunk.document_id, Chunk.position)
        .execution_options(yield_per=2000)
    )
    for chunk, title, source_uri, acl, tags in rows:
        yield _chunk_record(chunk, title, source_uri, acl, tags), np.frombuffer(chunk.embedding, np.float32)


def bm25_text(record: ChunkRecord) -> str:
    """What BM25 reads of a chunk: its document's title and its text."""
    return f"{record.title}\n{record.text}"


def write_snapshot(
    final: Path,
    version: IndexVersion,
    rows: Iterable[tuple[ChunkRecord, np.ndarray]],
    total: int,
    bm25_config: BM25Config,
    dense_config: DenseConfig,
) -> tuple[int, int]:
    """Write the files of a version at ``final``: under a temporary name, renamed when complete."""
    dim = version.embedding_dim
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        vectors = np.lib.format.open_memmap(
            tmp / "embeddings.npy", mode="w+", dtype=np.float32, shape=(total, dim)
        )
        documents: set[int] = set()
        bm25_texts: list[str] = []
        i = 0
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as out:
            for record, vector in rows:
                if i >= total:
                    break  # chunks added after counting belong to the next version
                vectors[i] = vector
                out.write(record.to_json() + "\n")
                documents.add(record.document_id)
                bm25_texts.append(bm25_text(record))
                i += 1
            out.flush()
            os.fsync(out.fileno())
        vectors.flush()
        del vectors
        if i < total:
            _truncate(tmp / "embeddings.npy", i)
        BM25Index.build(bm25_texts, bm25_config).save(tmp / "bm25")
        dense = DenseIndex.build(np.load(tmp / "embeddings.npy", mmap_mode="r"), dense_config)
        dense.save(tmp)
        manifest = {
            "format": FORMAT,
            "kb_id": version.kb_id,
            "version": version.version,
            "embedding_model": version.embedding_model,
            "dim": dim,
            "chunk_count": i,
            "dense_index": dense.kind,
            "document_count": len(documents),
            "content_revision": version.content_revision,
            "created_at": utcnow().isoformat(),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        os.replace(tmp, final)
        return i, len(documents)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _truncate(path: Path, rows: int) -> None:
    """Keep the first ``rows`` rows of a saved array."""
    data = np.load(path, mmap_mode="r")[:rows].copy()
    np.save(path, data)


def _chunk_record(chunk: Chunk, title: str, source_uri: str, acl: list[Any], tags: list[Any]) -> ChunkRecord:
    return ChunkRecord(
        chunk_id=chunk.id,
        document_id=chunk.document_id,
        position=chunk.position,
        text=chunk.text,
        char_start=chunk.char_start,
        char_end=chunk.char_end,
        token_start=chunk.token_start,
        token_end=chunk.token_end,
        page=chunk.page,
        entities=tuple(ChunkEntity.from_dict(e) for e in chunk.entities),
        title=title,
        source_uri=source_uri,
        acl=tuple(acl),
        tags=tuple(tags),
    )


def activate(session: Session, kb: KnowledgeBase, version: IndexVersion, backend: IndexBackend) -> None:
    """Make ``version`` the one queries read: in the backend, then in one database transaction."""
    backend.activate(kb.id, version)
    session.execute(
        update(IndexVersion)
        .where(IndexVersion.kb_id == kb.id, IndexVersion.status == IndexStatus.ACTIVE)
        .values(status=IndexStatus.RETIRED)
    )
    version.status = IndexStatus.ACTIVE
    version.activated_at = utcnow()
    kb.active_index_id = version.id
    session.commit()


def prune_versions(session: Session, kb_id: int, *, keep: int, backend: IndexBackend) -> None:
    """Delete the files of all but the newest ``keep`` complete versions (never the active one)."""
    versions = session.scalars(
        select(IndexVersion)
        .where(
            IndexVersion.kb_id == kb_id,
            IndexVersion.status.in_([IndexStatus.RETIRED, IndexStatus.ACTIVE]),
        )
        .order_by(IndexVersion.version.desc())
    ).all()
    for old in versions[keep:]:
        if old.status == IndexStatus.RETIRED:
            try:
                backend.delete(old)
            except RetrievalError as exc:  # the row stays, so the next activation tries again
                log.warning("could not delete index version %s: %s", old.path, exc)
                continue
            session.delete(old)
    session.commit()


def discard_unfinished(session: Session, kb_id: int, backend: IndexBackend) -> int:
    """Mark versions left BUILDING by a crashed job as failed and remove what they wrote."""
    stale = session.scalars(
        select(IndexVersion).where(IndexVersion.kb_id == kb_id, IndexVersion.status == IndexStatus.BUILDING)
    ).all()
    for version in stale:
        version.status = IndexStatus.FAILED
    backend.discard_unfinished(kb_id, stale)
    session.commit()
    return len(stale)


def is_current_format(path: Path | str) -> bool:
    """Whether the version at ``path`` was written in the format this code reads."""
    try:
        return bool(json.loads((Path(path) / "manifest.json").read_text()).get("format") == FORMAT)
    except (OSError, ValueError):
        return False


def load_snapshot(path: Path | str, version_id: int = 0) -> IndexSnapshot:
    """Read an index version from disk (embeddings are memory-mapped)."""
    path = Path(path)
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except FileNotFoundError:
        raise NotFound(f"Index version at {path} is missing; re-run `attest ingest` to rebuild it.") from None
    if manifest.get("format") != FORMAT:
        raise NotFound(
            f"Index version at {path} has format {manifest.get('format')!r}, this version of Attest "
            f"reads format {FORMAT}; re-run `attest ingest` to rebuild it."
        )
    embeddings = np.load(path / "embeddings.npy", mmap_mode="r")
    chunks = ChunkRecords(path / "chunks.jsonl")
    return IndexSnapshot(version_id, int(manifest["version"]), path, manifest, embeddings, chunks)


def active_snapshot(session: Session, kb: KnowledgeBase) -> IndexSnapshot:
    """The active version of ``kb``."""
    if kb.active_index_id is None:
        raise NotFound(
            f"Knowledge base {kb.name!r} has no index yet; run `attest ingest --kb {kb.name} PATH`."
        )
    version = session.get(IndexVersion, kb.active_index_id)
    assert version is not None
    return load_snapshot(version.path, version.id)
