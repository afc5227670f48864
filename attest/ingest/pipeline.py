"""The ingest job: files in, chunks with entities and embeddings out, then a new index version.

Incremental by content hash: an unchanged file costs a hash and nothing else, a changed
file re-embeds only its own chunks, and in sync mode a removed file loses its chunks. Each
document is written in its own transaction, and the index version queries read is replaced
only after a new one has been written completely (see ``retrieval.index_store``).

This module runs a job's steps in order; :mod:`~attest.ingest.jobs` claims and ends it,
:mod:`~attest.ingest.preparation` loads, chunks, tags and embeds, and
:mod:`~attest.ingest.storage` writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from attest.core.errors import IngestError, LoadError, StorageFull
from attest.core.models import Document, DocumentStatus, IngestJob, JobStatus, KnowledgeBase, utcnow
from attest.core.repository import get_kb, get_or_create_kb
from attest.core.settings import Settings
from attest.ingest import changes
from attest.ingest.changes import Change
from attest.ingest.chunker import SlidingWindowChunker
from attest.ingest.entities import EntityTagger
from attest.ingest.jobs import (
    IngestSummary,
    JobCancelled,
    check_cancelled,
    claim_job,
    count_done,
    end_interrupted,
    enqueue_job,
    finish_job,
    out_of_space,
)
from attest.ingest.preparation import Candidate, Prepared, Preparer, build_chunker
from attest.ingest.progress import NullProgress, Progress
from attest.ingest.sources import discover, file_hash, register_sources
from attest.ingest.storage import (
    Access,
    bump_revision,
    delete_missing,
    record_failure,
    refresh_index,
    store_document,
    store_entities,
    update_access,
)
from attest.retrieval.backend import IndexBackend, index_backend
from attest.retrieval.index_store import discard_unfinished
from attest.text.embedder import SentenceTransformerEmbedder

__all__ = ["IngestPipeline", "IngestSummary", "JobCancelled", "discover"]


@dataclass(frozen=True)
class _Run:
    """One job's state, which each of its steps reads and updates."""

    session: Session
    kb: KnowledgeBase
    job: IngestJob
    summary: IngestSummary
    signature: str  # what its documents' chunks depend on besides their files (see changes.py)
    access: Access
    existing: dict[str, Document]  # the knowledge base's documents by source URI


class IngestPipeline:
    """Runs ingest jobs against one database with one embedding model."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine,
        embedder: SentenceTransformerEmbedder | None = None,
        progress: Progress | None = None,
        backend: IndexBackend | None = None,
    ) -> None:
        """``backend`` stores the index versions (default: the one ``ATTEST_INDEX_BACKEND`` names)."""
        self.settings = settings
        self.engine = engine
        self.backend = backend or index_backend(settings)
        self.embedder = embedder or SentenceTransformerEmbedder(
            settings.embedding_model,
            batch_size=settings.embedding_batch_size,
            threads=settings.embedding_threads,
        )
        self.progress = progress or NullProgress()
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self._chunker: SlidingWindowChunker | None = None
        self._taggers: dict[str, EntityTagger] = {}
        self._signatures: dict[str, str] = {}

    @property
    def signature(self) -> str:
        """What the chunks' text and vectors depend on besides the file: a change re-embeds."""
        return changes.embedding_signature(self.embedder.name, self.settings)

    def _signature(self, kb: KnowledgeBase) -> str:
        """:attr:`signature` plus what the entities depend on (the spaCy pipeline and the
        knowledge base's terms). A change in the entity part alone re-tags without embedding."""
        key = json.dumps(kb.entity_terms, sort_keys=True)
        if key not in self._signatures:
            self._signatures[key] = changes.signature(
                self.signature, self.settings.spacy_pipeline, kb.entity_terms
            )
        return self._signatures[key]

    def warm_up(self) -> SlidingWindowChunker:
        """Load the model and check that a window fits it."""
        if self._chunker is None:
            self._chunker = build_chunker(self.settings, self.embedder)
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
        queue: bool = False,
    ) -> int:
        """Claim a job for ``kb_name``, or with ``queue`` queue it for the workers (Conflict
        while another one is queued or runs there); returns its id."""
        roots = [Path(p).expanduser().resolve() for p in paths]
        with self._sessions() as session:
            kb = get_or_create_kb(session, name=kb_name)[0] if create else get_kb(session, name=kb_name)
            session.commit()
            claim = enqueue_job if queue else claim_job
            job = claim(session, kb, [str(r) for r in roots], sync, started_by=started_by)
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
                access = Access(
                    None if acl is None else list(acl), None if tags is None else list(tags), sources
                )
                self._run_job(self._begin(session, kb, job, summary, files, access), files, roots, sync)
            except BaseException as exc:
                session.rollback()
                end_interrupted(session, job, summary, exc)
                if out_of_space(exc):
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
                bump_revision(session, kb)
                session.commit()
                summary.index_version = self._refresh_index(session, kb)
            except BaseException as exc:
                session.rollback()
                finish_job(
                    session, job, JobStatus.FAILED, summary.to_dict(), error=str(exc) or type(exc).__name__
                )
                raise
            finish_job(session, job, JobStatus.SUCCEEDED, summary.to_dict())
        return summary

    def _begin(
        self,
        session: Session,
        kb: KnowledgeBase,
        job: IngestJob,
        summary: IngestSummary,
        files: list[Path],
        access: Access,
    ) -> _Run:
        """Clear what an interrupted job left, count the files, and set up the run."""
        discard_unfinished(session, kb.id, self.backend)
        existing = {d.source_uri: d for d in session.scalars(select(Document).where(Document.kb_id == kb.id))}
        job.documents_total = len(files)
        session.commit()
        self.progress.start(len(files))
        return _Run(session, kb, job, summary, self._signature(kb), access, existing)

    def _run_job(self, run: _Run, files: list[Path], roots: list[Path], sync: bool) -> None:
        """Scan the files, re-tag and embed what needs it, delete what is gone, refresh the index."""
        todo, retag = self._scan(run, files)
        count_done(run.job, run.summary)
        run.session.commit()
        self._retag(run, retag)
        if todo:  # the model is loaded only when there is something to embed
            self._index(run, todo)
        if sync:
            run.summary.documents_deleted += delete_missing(
                run.session, kb=run.kb, existing=run.existing, seen=set(map(str, files)), roots=roots
            )
        check_cancelled(run.session, run.job)
        run.summary.index_version = self._refresh_index(run.session, run.kb)

    def _scan(self, run: _Run, files: list[Path]) -> tuple[list[Candidate], list[Document]]:
        """Hash each file and settle what becomes of it: the files to index and the documents
        to re-tag are returned; the unchanged and the failing are dealt with here."""
        todo: list[Candidate] = []
        retag: list[Document] = []
        for path in files:
            doc = run.existing.get(str(path))
            try:
                size = path.stat().st_size
                digest = file_hash(path) if size <= self.settings.max_file_bytes else ""
            except OSError as exc:
                self._fail(run, doc, path, 0, f"{path.name}: cannot be read ({exc.strerror or exc}).")
                continue
            if size > self.settings.max_file_bytes:
                self._fail(run, doc, path, size, _too_large(path, size, self.settings))
                continue
            change = changes.change_of(doc, digest, run.signature)
            if change is Change.UNCHANGED:
                assert doc is not None
                run.summary.documents_unchanged += 1
                update_access(run.session, kb=run.kb, doc=doc, access=run.access)
                self.progress.advance(1, 0)
            elif change is Change.RETAG:
                assert doc is not None
                retag.append(doc)
            elif change is Change.FAILED:
                assert doc is not None
                run.summary.failed(str(path), doc.error or "failed")
                self.progress.advance(1, 0)
            else:
                todo.append(Candidate(path, digest, size))
        return todo, retag

    def _retag(self, run: _Run, docs: list[Document]) -> None:
        """Tag unchanged documents' stored text again; their chunks get the new entities."""
        for doc in docs:
            check_cancelled(run.session, run.job)
            entities = self._tagger(run.kb).tag(doc.text)
            store_entities(run.session, kb=run.kb, doc=doc, entities=entities, signature=run.signature)
            update_access(run.session, kb=run.kb, doc=doc, access=run.access)
            run.summary.documents_unchanged += 1
            run.summary.documents_retagged += 1
            count_done(run.job, run.summary)
            run.session.commit()
            self.progress.advance(1, 0)

    def _index(self, run: _Run, todo: list[Candidate]) -> None:
        """Load, chunk, tag, embed and store the files to index, batch by batch."""
        chunker, tagger = self.warm_up(), self._tagger(run.kb)
        preparer = Preparer(chunker, tagger, self.embedder, max_bytes=self.settings.max_file_bytes)
        batches = list(_batched(todo, self.settings.ingest_batch_documents))
        # Loading, chunking and tagging the next batch overlaps with embedding this one
        # (torch releases the GIL while it computes). The worker never touches the database.
        with ThreadPoolExecutor(max_workers=1) as worker:
            upcoming = worker.submit(preparer.prepare, batches[0])
            for i, batch in enumerate(batches):
                outcomes = upcoming.result()
                if i + 1 < len(batches):
                    upcoming = worker.submit(preparer.prepare, batches[i + 1])
                self._store_batch(run, preparer, batch, outcomes)

    def _store_batch(
        self, run: _Run, preparer: Preparer, batch: list[Candidate], outcomes: list[Prepared | LoadError]
    ) -> None:
        """Embed and store one prepared batch; record the files that failed to load."""
        check_cancelled(run.session, run.job)
        prepared: list[Prepared] = []
        for candidate, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, LoadError):
                previous = run.existing.get(str(candidate.path))
                self._fail(run, previous, candidate.path, candidate.size, str(outcome), candidate.digest)
            else:
                prepared.append(outcome)
        vectors = preparer.embed(prepared)
        run.summary.embeddings_computed += len(vectors)
        offset = 0
        for item in prepared:
            count = len(item.windows)
            previous = run.existing.get(str(item.path))
            # A pending document is an upload's, indexed for the first time.
            is_new = previous is None or previous.status == DocumentStatus.PENDING
            run.existing[str(item.path)] = store_document(
                run.session,
                kb=run.kb,
                doc=previous,
                item=item,
                vectors=vectors[offset : offset + count],
                access=run.access,
                signature=run.signature,
            )
            offset += count
            if is_new:
                run.summary.documents_added += 1
            else:
                run.summary.documents_updated += 1
            run.summary.chunks += count
            run.job.chunks_done += count
            self.progress.advance(1, count)
        count_done(run.job, run.summary)
        run.job.heartbeat_at = utcnow()
        run.session.commit()

    def _fail(
        self, run: _Run, doc: Document | None, path: Path, size: int, error: str, digest: str = ""
    ) -> None:
        """Record that a file failed (on its document, and in the summary) and move past it."""
        record_failure(
            run.session,
            kb=run.kb,
            doc=doc,
            path=path,
            size=size,
            error=error,
            access=run.access,
            signature=run.signature,
            digest=digest,
        )
        run.summary.failed(str(path), error)
        self.progress.advance(1, 0)

    def _refresh_index(self, session: Session, kb: KnowledgeBase) -> int:
        """Build and activate a new index version when the active one is out of date; its number."""
        return refresh_index(
            session, kb=kb, settings=self.settings, embedder=self.embedder, backend=self.backend
        )


def _too_large(path: Path, size: int, settings: Settings) -> str:
    mb = 1024 * 1024
    return (
        f"{path.name}: {size / mb:.1f} MB exceeds the {settings.max_file_bytes / mb:.1f} MB limit "
        "(ATTEST_MAX_FILE_BYTES)."
    )


def _batched(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
