"""The ingest job: files in, chunks with entities and embeddings out, then a new index version.

Incremental by content hash: an unchanged file costs a hash and nothing else, a changed
file re-embeds only its own chunks, and in sync mode a removed file loses its chunks. Each
document is written in its own transaction, and the index version queries read is replaced
only after a new one has been written completely (see ``retrieval.index_store``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from attest.core.errors import IngestError, LoadError, StorageFull
from attest.core.models import (
    Chunk,
    Document,
    DocumentStatus,
    IndexVersion,
    IngestJob,
    JobStatus,
    KnowledgeBase,
    Source,
    utcnow,
)
from attest.core.repository import get_kb, get_or_create_kb
from attest.core.settings import Settings
from attest.ingest.chunker import SlidingWindowChunker, Window, hf_offsets
from attest.ingest.entities import Entity, EntityTagger, entities_in, pipeline_signature
from attest.ingest.jobs import claim_job, finish_job
from attest.ingest.loaders import LoadedDocument, load_bytes, page_at
from attest.ingest.progress import NullProgress, Progress
from attest.ingest.sources import discover, enclosing, file_hash, register_sources
from attest.retrieval.hybrid import bm25_config, dense_config
from attest.retrieval.index_store import build_index_version, discard_unfinished, is_current_format
from attest.text.embedder import SentenceTransformerEmbedder

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    """What a job did. The key names are a stable interface (``attest ingest --json``)."""

    documents_added: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_retagged: int = 0  # unchanged, but their entities were tagged again (no embedding)
    documents_deleted: int = 0
    documents_failed: int = 0
    chunks: int = 0
    embeddings_computed: int = 0
    seconds: float = 0.0
    knowledge_base: str = ""
    job_id: int | None = None
    index_version: int | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Access:
    """Who may read what a job stores: the ACL and tags given to the job, if any, and the
    sources' own for documents the job creates."""

    acl: list[str] | None
    tags: list[str] | None
    sources: list[Source]

    def for_new(self, path: Path) -> tuple[list[str], list[str]]:
        """A new document's ACL and tags: the job's, else those of the source it lies under."""
        source = enclosing(self.sources, path)
        acl = self.acl if self.acl is not None else list(source.acl) if source else []
        tags = self.tags if self.tags is not None else list(source.tags) if source else []
        return acl, tags


@dataclass(frozen=True)
class _Prepared:
    """A loaded, chunked and tagged document waiting for its embeddings."""

    path: Path
    content_hash: str
    size: int
    loaded: LoadedDocument
    windows: list[Window]
    chunk_entities: list[list[dict[str, Any]]]

    def texts(self) -> list[str]:
        return [self.loaded.text[w.char_start : w.char_end] for w in self.windows]


_Loaded = tuple[Path, bytes, LoadedDocument, list[Window]]  # a file read, extracted and cut


class IngestPipeline:
    """Runs ingest jobs against one database with one embedding model."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine,
        embedder: SentenceTransformerEmbedder | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.embedder = embedder or SentenceTransformerEmbedder(
            settings.embedding_model,
            batch_size=settings.embedding_batch_size,
            threads=settings.embedding_threads,
        )
        self.progress = progress or NullProgress()
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self._chunker: SlidingWindowChunker | None = None
        self._taggers: dict[str, EntityTagger] = {}
        self._entity_signatures: dict[str, str] = {}

    @property
    def signature(self) -> str:
        """What the chunks' text and vectors depend on besides the file: a change re-embeds."""
        s = self.settings
        return f"{self.embedder.name}|w{s.chunk_tokens}/o{s.chunk_overlap}/s{s.chunk_boundary_slack}"[:200]

    def _signature(self, kb: KnowledgeBase) -> str:
        """:attr:`signature` plus what the entities depend on (the spaCy pipeline and the
        knowledge base's terms). A change in the entity part alone re-tags without embedding."""
        key = json.dumps(kb.entity_terms, sort_keys=True)
        if key not in self._entity_signatures:
            entities = pipeline_signature(self.settings.spacy_pipeline, kb.entity_terms)
            self._entity_signatures[key] = hashlib.sha256(entities.encode()).hexdigest()[:16]
        return f"{self.signature}{_ENTITIES}{self._entity_signatures[key]}"

    def warm_up(self) -> SlidingWindowChunker:
        """Load the model and check that a window fits it."""
        if self._chunker is None:
            limit = self.embedder.max_tokens - 2  # [CLS] and [SEP]
            if self.settings.chunk_tokens > limit:
                raise IngestError(
                    f"ATTEST_CHUNK_TOKENS={self.settings.chunk_tokens} does not fit the embedding model, "
                    f"which reads at most {limit} tokens besides its special tokens."
                )
            self._chunker = SlidingWindowChunker(
                hf_offsets(self.embedder.tokenizer),
                window=self.settings.chunk_tokens,
                overlap=self.settings.chunk_overlap,
                slack=self.settings.chunk_boundary_slack,
            )
        return self._chunker

    def _tagger(self, kb: KnowledgeBase) -> EntityTagger:
        """The entity tagger for this knowledge base's terms, built once per pipeline."""
        key = json.dumps(kb.entity_terms, sort_keys=True)
        if key not in self._taggers:
            self._taggers[key] = EntityTagger(self.settings.spacy_pipeline, kb.entity_terms)
        return self._taggers[key]

    def run(
        self,
        kb_name: str,
        paths: Sequence[Path | str],
        *,
        sync: bool = False,
        acl: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        create: bool = True,
    ) -> IngestSummary:
        """Ingest ``paths`` into the knowledge base ``kb_name`` and activate a new index version."""
        job_id = self.start(kb_name, paths, sync=sync, create=create)
        return self.execute(job_id, paths, sync=sync, acl=acl, tags=tags)

    def start(
        self,
        kb_name: str,
        paths: Sequence[Path | str],
        *,
        sync: bool = False,
        create: bool = True,
        started_by: str = "",
    ) -> int:
        """Claim a job for ``kb_name`` (Conflict while another one runs there); returns its id."""
        roots = [Path(p).expanduser().resolve() for p in paths]
        with self._sessions() as session:
            kb = get_or_create_kb(session, name=kb_name)[0] if create else get_kb(session, name=kb_name)
            session.commit()
            job = claim_job(session, kb, [str(r) for r in roots], sync, started_by=started_by)
            return job.id

    def execute(
        self,
        job_id: int,
        paths: Sequence[Path | str],
        *,
        sync: bool = False,
        acl: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
    ) -> IngestSummary:
        """Run the claimed job ``job_id``; a cancelled job ends as such and activates nothing."""
        started = time.perf_counter()
        roots = [Path(p).expanduser().resolve() for p in paths]
        with self._sessions() as session:
            job = session.get(IngestJob, job_id)
            if job is None:
                raise IngestError(f"No ingest job {job_id}.")
            kb = session.get(KnowledgeBase, job.kb_id)
            assert kb is not None  # jobs are deleted with their knowledge base
            summary = IngestSummary(knowledge_base=kb.name, job_id=job.id)
            try:
                files = discover(paths)
                sources = register_sources(
                    session, kb.id, roots, acl=acl, tags=tags, created_by=job.started_by
                )
                session.commit()
                access = _Access(
                    None if acl is None else list(acl), None if tags is None else list(tags), sources
                )
                self._run_job(session, kb, job, files, roots, summary, sync=sync, access=access)
            except BaseException as exc:
                session.rollback()
                if isinstance(exc, JobCancelled):
                    status, reason = JobStatus.CANCELLED, "cancelled on request"
                else:
                    status = JobStatus.FAILED
                    reason = (
                        "interrupted"
                        if isinstance(exc, KeyboardInterrupt)
                        else str(exc) or type(exc).__name__
                    )
                _record_end(session, job, status, summary, reason)
                if _out_of_space(exc):
                    raise StorageFull(
                        f"No space left for the data directory {self.settings.data_dir} or the database "
                        "while ingesting; free some space and run the ingest again. The previous index "
                        "stays active and nothing stored was lost."
                    ) from exc
                raise
            finally:
                self.progress.close()
            summary.seconds = round(time.perf_counter() - started, 3)
            finish_job(session, job, JobStatus.SUCCEEDED, summary.to_dict())
        return summary

    def rebuild(
        self, kb_name: str, change: Callable[[Session, KnowledgeBase], None], *, started_by: str = ""
    ) -> IngestSummary:
        """Apply ``change`` to a knowledge base's documents, then build and activate a new index version.

        It runs as a job, so it waits for no one and clashes with a running ingest (Conflict).
        Used for edits that need no embedding: deleting a document, changing its ACL or tags.
        """
        job_id = self.start(kb_name, [], create=False, started_by=started_by)
        with self._sessions() as session:
            job = session.get(IngestJob, job_id)
            assert job is not None
            kb = session.get(KnowledgeBase, job.kb_id)
            assert kb is not None
            summary = IngestSummary(knowledge_base=kb.name, job_id=job_id)
            try:
                change(session, kb)
                _bump_revision(session, kb)
                session.commit()
                self._refresh_index(session, kb, summary)
            except BaseException as exc:
                session.rollback()
                finish_job(
                    session, job, JobStatus.FAILED, summary.to_dict(), error=str(exc) or type(exc).__name__
                )
                raise
            finish_job(session, job, JobStatus.SUCCEEDED, summary.to_dict())
        return summary

    def _run_job(
        self,
        session: Session,
        kb: KnowledgeBase,
        job: IngestJob,
        files: list[Path],
        roots: list[Path],
        summary: IngestSummary,
        *,
        sync: bool,
        access: _Access,
    ) -> None:
        discard_unfinished(session, kb.id, self.settings.index_dir)
        existing = {d.source_uri: d for d in session.scalars(select(Document).where(Document.kb_id == kb.id))}
        job.documents_total = len(files)
        session.commit()
        self.progress.start(len(files))
        signature = self._signature(kb)
        todo: list[tuple[Path, str, int]] = []
        retag: list[Document] = []
        for path in files:
            doc = existing.get(str(path))
            try:
                size = path.stat().st_size
                digest = file_hash(path) if size <= self.settings.max_file_bytes else ""
            except OSError as exc:
                error = f"{path.name}: cannot be read ({exc.strerror or exc})."
                self._record_failure(session, kb, doc, path, 0, error, summary, access)
                self.progress.advance(1, 0)
                continue
            if size > self.settings.max_file_bytes:
                self._record_failure(
                    session, kb, doc, path, size, _too_large(path, size, self.settings), summary, access
                )
                self.progress.advance(1, 0)
                continue
            unchanged = (
                doc if doc and doc.status == DocumentStatus.INDEXED and doc.content_hash == digest else None
            )
            if unchanged is not None and unchanged.pipeline_signature == signature:
                summary.documents_unchanged += 1
                self._update_access(session, kb, unchanged, access)
                self.progress.advance(1, 0)
            elif unchanged is not None and unchanged.pipeline_signature.split(_ENTITIES)[0] == self.signature:
                retag.append(unchanged)  # only the entity pipeline changed
            elif doc and doc.status == DocumentStatus.FAILED and _failed_before(doc, digest, signature):
                summary.documents_failed += 1
                summary.errors.append({"source": str(path), "error": doc.error or "failed"})
                self.progress.advance(1, 0)
            else:
                todo.append((path, digest, size))
        _count_done(job, summary)
        session.commit()
        for doc in retag:
            _check_cancelled(session, job)
            self._retag(session, kb, doc, signature)
            self._update_access(session, kb, doc, access)
            summary.documents_unchanged += 1
            summary.documents_retagged += 1
            _count_done(job, summary)
            session.commit()
            self.progress.advance(1, 0)
        if todo:  # the model is loaded only when there is something to embed
            chunker, tagger = self.warm_up(), self._tagger(kb)
            batches = list(_batched(todo, self.settings.ingest_batch_documents))
            # Loading, chunking and tagging the next batch overlaps with embedding this one
            # (torch releases the GIL while it computes). The worker never touches the database.
            with ThreadPoolExecutor(max_workers=1) as worker:
                upcoming = worker.submit(self._prepare_batch, batches[0], chunker, tagger)
                for i, batch in enumerate(batches):
                    prepared = upcoming.result()
                    if i + 1 < len(batches):
                        upcoming = worker.submit(self._prepare_batch, batches[i + 1], chunker, tagger)
                    self._process_batch(session, kb, job, batch, prepared, existing, summary, access)
        if sync:
            self._delete_missing(session, kb, existing, set(map(str, files)), roots, summary)
        _check_cancelled(session, job)
        self._refresh_index(session, kb, summary)

    def _retag(self, session: Session, kb: KnowledgeBase, doc: Document, signature: str) -> None:
        """Tag an unchanged document's stored text again and give its chunks the new entities."""
        doc = session.merge(doc)
        entities = self._tagger(kb).tag(doc.text)
        first = 0
        for chunk in session.scalars(
            select(Chunk).where(Chunk.document_id == doc.id).order_by(Chunk.char_start, Chunk.position)
        ):
            inside, first = entities_in(entities, chunk.char_start, chunk.char_end, first)
            chunk.entities = [e.to_dict() for e in inside]
        doc.pipeline_signature = signature
        _bump_revision(session, kb)

    def _process_batch(
        self,
        session: Session,
        kb: KnowledgeBase,
        job: IngestJob,
        batch: list[tuple[Path, str, int]],
        outcomes: list[_Prepared | LoadError],
        existing: dict[str, Document],
        summary: IngestSummary,
        access: _Access,
    ) -> None:
        """Embed and store one prepared batch; record the files that failed to load."""
        _check_cancelled(session, job)
        prepared: list[_Prepared] = []
        for (path, digest, size), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, LoadError):
                self._record_failure(
                    session, kb, existing.get(str(path)), path, size, str(outcome), summary, access, digest
                )
                self.progress.advance(1, 0)
            else:
                prepared.append(outcome)
        texts = [text for item in prepared for text in item.texts()]
        vectors = self.embedder.embed(texts)
        summary.embeddings_computed += len(texts)
        offset = 0
        for item in prepared:
            count = len(item.windows)
            previous = existing.get(str(item.path))
            is_new = (
                previous is None or previous.status == DocumentStatus.PENDING
            )  # an upload's first indexing
            doc = self._store(
                session,
                kb,
                existing.get(str(item.path)),
                item,
                vectors[offset : offset + count],
                access,
            )
            offset += count
            if is_new:
                summary.documents_added += 1
            else:
                summary.documents_updated += 1
            existing[str(item.path)] = doc
            summary.chunks += count
            job.chunks_done += count
            self.progress.advance(1, count)
        _count_done(job, summary)
        job.heartbeat_at = utcnow()
        session.commit()

    def _prepare_batch(
        self, batch: list[tuple[Path, str, int]], chunker: SlidingWindowChunker, tagger: EntityTagger
    ) -> list[_Prepared | LoadError]:
        """Load, chunk and tag each file of a batch; a file that cannot be loaded gives its error.

        The batch's texts are tagged together, in one ``nlp.pipe`` stream.
        """
        outcomes: list[_Loaded | LoadError] = []
        for path, _digest, _size in batch:
            try:
                outcomes.append(self._load(path, chunker))
            except LoadError as exc:
                outcomes.append(exc)
            except OSError as exc:
                outcomes.append(LoadError(f"{path.name}: cannot be read ({exc.strerror or exc})."))
        loaded = [o for o in outcomes if not isinstance(o, LoadError)]
        tagged = iter(tagger.tag_many([text.text for _, _, text, _ in loaded]))
        return [o if isinstance(o, LoadError) else _prepared(*o, next(tagged)) for o in outcomes]

    def _load(
        self, path: Path, chunker: SlidingWindowChunker
    ) -> tuple[Path, bytes, LoadedDocument, list[Window]]:
        data = path.read_bytes()
        loaded = load_bytes(data, filename=path.name, max_bytes=self.settings.max_file_bytes)
        windows = list(chunker.windows(loaded.text))
        if not windows:
            raise LoadError(f"{path.name}: no tokens to index after text extraction.")
        return path, data, loaded, windows

    def _store(
        self,
        session: Session,
        kb: KnowledgeBase,
        doc: Document | None,
        item: _Prepared,
        vectors: np.ndarray,
        access: _Access,
    ) -> Document:
        """Replace one document's chunks in a single transaction."""
        loaded = item.loaded
        # Built before the first write, which takes SQLite's write lock until the commit.
        rows = [
            {
                "kb_id": kb.id,
                "position": w.position,
                "text": loaded.text[w.char_start : w.char_end],
                "token_start": w.token_start,
                "token_end": w.token_end,
                "char_start": w.char_start,
                "char_end": w.char_end,
                "page": page_at(loaded.pages, w.char_start),
                "entities": ents,
                "embedding": vector.tobytes(),
            }
            for w, ents, vector in zip(item.windows, item.chunk_entities, vectors, strict=True)
        ]
        if doc is None:
            acl, tags = access.for_new(item.path)
            doc = Document(kb_id=kb.id, source_uri=str(item.path), acl=acl, tags=tags)
            session.add(doc)
        else:
            doc = session.merge(doc)
            session.execute(delete(Chunk).where(Chunk.document_id == doc.id))
            if access.acl is not None:
                doc.acl = list(access.acl)
            if access.tags is not None:
                doc.tags = list(access.tags)
        doc.title = loaded.title[:512]
        doc.media_type = loaded.media_type
        doc.content_hash = item.content_hash
        doc.pipeline_signature = self._signature(kb)
        doc.size_bytes = item.size
        doc.status = DocumentStatus.INDEXED
        doc.error = None
        doc.text = loaded.text
        doc.metadata_ = {**loaded.metadata, "file_name": item.path.name}
        session.flush()
        for row in rows:
            row["document_id"] = doc.id
        session.execute(insert(Chunk), rows)
        _bump_revision(session, kb)
        session.commit()
        return doc

    def _record_failure(
        self,
        session: Session,
        kb: KnowledgeBase,
        doc: Document | None,
        path: Path,
        size: int,
        error: str,
        summary: IngestSummary,
        access: _Access,
        digest: str = "",
    ) -> None:
        """Note the error on the document; an indexed older version keeps its chunks.

        The hash of the failing content is kept so that an unchanged failing file is not
        loaded again on every run; it is reported as failed with the same error. A new
        failed document gets its source's ACL like any other: its name, size and error are
        no more public than its text will be.
        """
        if doc is None:
            acl, tags = access.for_new(path)
            doc = Document(
                kb_id=kb.id,
                source_uri=str(path),
                title=path.name,
                media_type="",
                content_hash="",
                size_bytes=size,
                acl=acl,
                tags=tags,
                metadata_={"file_name": path.name},
                text="",
            )
            session.add(doc)
            doc.error = error
        else:
            doc = session.merge(doc)
            had_chunks = (
                session.scalar(select(Chunk.id).where(Chunk.document_id == doc.id).limit(1)) is not None
            )
            doc.error = error + (" The previously indexed version is still served." if had_chunks else "")
        doc.status = DocumentStatus.FAILED
        doc.metadata_ = {**doc.metadata_, "failed_hash": digest, "failed_signature": self._signature(kb)}
        session.commit()
        summary.documents_failed += 1
        summary.errors.append({"source": str(path), "error": error})

    def _update_access(
        self,
        session: Session,
        kb: KnowledgeBase,
        doc: Document,
        access: _Access,
    ) -> None:
        """Apply new ACL or tags to an unchanged document without re-embedding it."""
        changed = False
        if access.acl is not None and access.acl != list(doc.acl):
            doc.acl = list(access.acl)
            changed = True
        if access.tags is not None and access.tags != list(doc.tags):
            doc.tags = list(access.tags)
            changed = True
        if changed:
            session.merge(doc)
            _bump_revision(session, kb)

    def _delete_missing(
        self,
        session: Session,
        kb: KnowledgeBase,
        existing: dict[str, Document],
        seen: set[str],
        roots: list[Path],
        summary: IngestSummary,
    ) -> None:
        """Sync mode: remove documents under the given paths whose files are gone."""
        for uri, doc in list(existing.items()):
            path = Path(uri)
            in_scope = any(path == root or root in path.parents for root in roots)
            if in_scope and uri not in seen:
                session.execute(delete(Document).where(Document.id == doc.id))
                _bump_revision(session, kb)
                session.commit()
                del existing[uri]
                summary.documents_deleted += 1

    def _refresh_index(self, session: Session, kb: KnowledgeBase, summary: IngestSummary) -> None:
        """Build and activate a new index version when the active one is out of date."""
        session.refresh(kb)
        active = session.get(IndexVersion, kb.active_index_id) if kb.active_index_id else None
        if (
            active is not None
            and active.content_revision == kb.content_revision
            and active.embedding_model == self.embedder.name
            and is_current_format(active.path)
        ):
            summary.index_version = active.version
            return
        version = build_index_version(
            session,
            kb,
            index_dir=self.settings.index_dir,
            embedding_model=self.embedder.name,
            dim=active.embedding_dim
            if active and active.embedding_model == self.embedder.name
            else self.embedder.dimension,
            keep=self.settings.index_versions_kept,
            bm25_config=bm25_config(self.settings),
            dense_config=dense_config(self.settings),
        )
        summary.index_version = version.version


class JobCancelled(IngestError):
    """The job was cancelled on request."""


def _check_cancelled(session: Session, job: IngestJob) -> None:
    """Raise :class:`JobCancelled` when someone asked to cancel ``job`` (read from the database)."""
    requested = session.scalar(select(IngestJob.cancel_requested).where(IngestJob.id == job.id))
    if requested:
        raise JobCancelled(f"Ingest job {job.id} was cancelled.")


def _prepared(
    path: Path, data: bytes, loaded: LoadedDocument, windows: list[Window], entities: list[Entity]
) -> _Prepared:
    """A loaded file with each window's entities (``entities`` in document offsets, sorted)."""
    chunk_entities: list[list[dict[str, Any]]] = []
    first = 0
    for window in windows:
        inside, first = entities_in(entities, window.char_start, window.char_end, first)
        chunk_entities.append([e.to_dict() for e in inside])
    return _Prepared(path, hashlib.sha256(data).hexdigest(), len(data), loaded, windows, chunk_entities)


_ENTITIES = "|entities:"  # separates the embedding and entity parts of a document's signature


def _bump_revision(session: Session, kb: KnowledgeBase) -> None:
    session.execute(
        update(KnowledgeBase)
        .where(KnowledgeBase.id == kb.id)
        .values(content_revision=KnowledgeBase.content_revision + 1)
    )


def _failed_before(doc: Document, digest: str, signature: str) -> bool:
    meta = doc.metadata_ or {}
    return bool(digest) and meta.get("failed_hash") == digest and meta.get("failed_signature") == signature


def _too_large(path: Path, size: int, settings: Settings) -> str:
    mb = 1024 * 1024
    return (
        f"{path.name}: {size / mb:.1f} MB exceeds the {settings.max_file_bytes / mb:.1f} MB limit "
        "(ATTEST_MAX_FILE_BYTES)."
    )


def _batched(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _count_done(job: IngestJob, summary: IngestSummary) -> None:
    """The job's progress: every file read so far, whatever became of it."""
    done = (
        summary.documents_unchanged
        + summary.documents_failed
        + summary.documents_added
        + summary.documents_updated
    )
    job.documents_done = min(done, job.documents_total)


def _out_of_space(exc: BaseException) -> bool:
    """A full disk, as the file system (ENOSPC) or the database reports it."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(exc, OperationalError):
        message = str(exc.orig).lower()
        return "disk is full" in message or "no space left" in message or "could not extend file" in message
    return False


def _record_end(
    session: Session, job: IngestJob, status: JobStatus, summary: IngestSummary, reason: str
) -> None:
    """Mark the job ended; on a full disk even that may fail, and the next job's claim marks
    it failed instead (it stops sending heartbeats)."""
    try:
        finish_job(session, job, status, summary.to_dict(), error=reason)
    except SQLAlchemyError:
        session.rollback()
        log.warning("could not record the end of ingest job %s (%s)", job.id, reason)
