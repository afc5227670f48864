"""The searcher a knowledge base is served by now, following its active index version.

An ingest job activates a new version by flipping ``knowledge_bases.active_index_id`` in
one transaction. :class:`Retrievers` notices the flip on the next query, opens the new
version in the index backend and swaps it in, without a restart:

* queries that already hold the old searcher finish on it. A local version's files are
  memory-mapped, so they stay readable even after pruning deletes the version's directory;
  a Milvus version's collection is kept until two newer ones exist;
* while the new version loads, other queries keep being answered by the old one; only
  the first query of a knowledge base waits for a load.

The entity boost needs the question's entities, found the way ingestion found the chunks'.
The composition root passes in how to find them, so that retrieval neither imports the
ingest package nor loads an entity model while the boost is off.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from attest.core.errors import NotFound, RetrievalError
from attest.core.models import IndexVersion, KnowledgeBase
from attest.core.repository import get_kb
from attest.core.settings import Settings
from attest.retrieval.backend import IndexBackend, Searcher, index_backend
from attest.retrieval.hybrid import QueryEntities
from attest.text.embedder import Embedder

# A knowledge base's entity terms ({"PRODUCT": ["Harbor", ...]}) -> its question-entity hook.
QueryEntitiesFor = Callable[[dict[str, list[str]]], QueryEntities]


@dataclass
class _Slot:
    """What one knowledge base is served by, and the lock its loads take turns on."""

    lock: threading.Lock
    retriever: Searcher | None = None


class Retrievers:
    """One :class:`Searcher` per knowledge base, always on the active version."""

    def __init__(
        self,
        engine: Engine,
        embedder: Embedder,
        settings: Settings,
        query_entities_for: QueryEntitiesFor | None = None,
        backend: IndexBackend | None = None,
    ) -> None:
        """Without ``query_entities_for`` the entity boost has no entities to match, so it is off.
        ``backend`` defaults to the one ``ATTEST_INDEX_BACKEND`` names."""
        self.engine = engine
        self.embedder = embedder
        self.settings = settings
        self.query_entities_for = query_entities_for
        self.backend = backend or index_backend(settings, embedder)
        self._slots: dict[int, _Slot] = {}
        self._slots_lock = threading.Lock()

    def get(self, kb_name: str) -> Searcher:
        """The retriever of ``kb_name``'s active version (loaded on first use or after a swap)."""
        kb_id, active_id = self._active(kb_name)
        with self._slots_lock:
            slot = self._slots.setdefault(kb_id, _Slot(threading.Lock()))
        current = slot.retriever
        if current is not None and current.version_id == active_id:
            return current
        # Another query is loading the new version: keep answering from the old one.
        if not slot.lock.acquire(blocking=current is None):
            assert current is not None
            return current
        try:
            current = slot.retriever
            if current is None or current.version_id != active_id:
                current = self._load(kb_name, active_id)
                slot.retriever = current
            return current
        finally:
            slot.lock.release()

    def forget(self, kb_id: int) -> None:
        """Drop a deleted knowledge base's retriever (its ids may be reused by a new one)."""
        with self._slots_lock:
            self._slots.pop(kb_id, None)

    def _active(self, kb_name: str) -> tuple[int, int]:
        with Session(self.engine) as session:
            kb = get_kb(session, name=kb_name)
            if kb.active_index_id is None:
                raise NotFound(
                    f"Knowledge base {kb.name!r} has no index yet; run `attest ingest --kb {kb.name} PATH`."
                )
            return kb.id, kb.active_index_id

    def _load(self, kb_name: str, version_id: int) -> Searcher:
        """Open ``version_id``; if a newer activation pruned it meanwhile, open the newest."""
        for _attempt in range(3):
            try:
                return self._open(version_id)
            except (NotFound, RetrievalError):
                _kb_id, newest = self._active(kb_name)
                if newest == version_id:
                    raise  # the active version itself is unreadable
                version_id = newest
        raise NotFound(f"The index of {kb_name!r} keeps changing while loading; try again.")

    def _open(self, version_id: int) -> Searcher:
        with Session(self.engine, expire_on_commit=False) as session:
            version = session.get(IndexVersion, version_id)
            if version is None:
                raise NotFound(f"Index version {version_id} no longer exists.")
            kb = session.get(KnowledgeBase, version.kb_id)
            terms = kb.entity_terms if kb is not None else {}
            session.expunge(version)
        return self.backend.open(version, self._query_entities(terms))

    def _query_entities(self, terms: dict[str, Any]) -> QueryEntities | None:
        """The hook the entity boost needs, with the knowledge base's terms; none while it is off."""
        if self.query_entities_for is None or self.settings.retrieval_entity_boost == 0:
            return None
        return self.query_entities_for(terms)
