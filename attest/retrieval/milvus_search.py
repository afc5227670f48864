"""Searching a Milvus index version: the filter expression and :class:`MilvusSearcher`.

The caller's groups and filters become one Milvus filter expression, applied inside both
searches (BM25 and dense) before the top-k cut. Every value is a quoted, escaped string
literal (:func:`quote`), never pasted, so no group name can change the expression. The two
candidate lists are fused by the local backend's code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from attest.core.enums import IndexBackendName
from attest.core.models import IndexVersion
from attest.retrieval.backend import MILVUS_LOCATION
from attest.retrieval.filters import Filters
from attest.retrieval.fusion import Ranking
from attest.retrieval.hybrid import (
    Mode,
    QueryEntities,
    RetrievalConfig,
    RetrievedChunk,
    boost_entities,
    check_query,
    fuse,
)
from attest.retrieval.records import ChunkRecord
from attest.text.embedder import Embedder

if TYPE_CHECKING:
    from attest.retrieval.milvus import MilvusBackend


def quote(value: str) -> str:
    """``value`` as a Milvus string literal: double-quoted, with ``\\``, ``"`` and line breaks
    escaped, so that no value can end the literal and change the expression around it."""
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _strings(values: Iterable[str]) -> str:
    return "[" + ", ".join(quote(v) for v in sorted(values)) + "]"


def filter_expression(filters: Filters) -> str | None:
    """The Milvus filter for ``filters``, or None when nothing is restricted.

    The ACL part is the security boundary: a chunk passes when its document is public (no
    ACL) or lists one of the caller's groups. Empty sets are handled by the caller (nothing
    can match them), so every list here has a member.
    """
    parts: list[str] = []
    if filters.groups is not None:
        readable = "public == true"
        if filters.groups:
            readable = f"(public == true or array_contains_any(acl, {_strings(filters.groups)}))"
        parts.append(readable)
    if filters.documents is not None:
        parts.append("document_id in [" + ", ".join(str(int(d)) for d in sorted(filters.documents)) + "]")
    if filters.tags is not None:
        parts.append(f"array_contains_any(tags, {_strings(filters.tags)})")
    if filters.entities is not None:
        parts.append(f"array_contains_any(entities, {_strings(e.casefold() for e in filters.entities)})")
    return " and ".join(parts) or None


def _matches_nothing(filters: Filters) -> bool:
    return any(v is not None and not v for v in (filters.documents, filters.tags, filters.entities))


class MilvusSearcher:
    """Searches the collection of one index version.

    Attest's processes follow the database's pointer to the active version (as with the local
    backend) and search that version's own collection, so an answer always names the version
    its passages came from, and a query that began before an activation finishes on the
    version it began on. The alias, swapped in the same activation, is the pointer for every
    other reader of the Milvus.
    """

    def __init__(
        self,
        backend: MilvusBackend,
        version: IndexVersion,
        embedder: Embedder,
        config: RetrievalConfig,
        query_entities: QueryEntities | None = None,
    ) -> None:
        self._backend = backend
        self._version_id, self._version = version.id, version.version
        self.target = version.path.removeprefix(MILVUS_LOCATION)
        self.embedder = embedder
        self.config = config
        self.query_entities = query_entities
        self.ann = version.chunk_count >= backend.settings.dense_ann_threshold

    @property
    def version_id(self) -> int:
        return self._version_id

    @property
    def version(self) -> int:
        return self._version

    @property
    def backend(self) -> IndexBackendName:
        return IndexBackendName.MILVUS

    def retrieve(
        self, query: str, k: int = 10, filters: Filters | None = None, mode: Mode = Mode.HYBRID
    ) -> list[RetrievedChunk]:
        check_query(query, k)
        filters = filters or Filters()
        if k == 0 or _matches_nothing(filters):
            return []
        expression = filter_expression(filters)
        depth = max(k, self.config.candidates)
        wanted = self._wanted_entities(query) if mode is Mode.HYBRID else set()
        named: dict[int, set[str]] = {}
        if mode is Mode.BM25:
            ids, scores = self._bm25(query, k, expression, named)
        elif mode is Mode.DENSE:
            ids, scores = self._dense(query, k, expression, named)
        else:
            extra = frozenset({"entities"} if wanted else ())
            fused = fuse(
                self._bm25(query, depth, expression, named, extra),
                self._dense(query, depth, expression, named, extra),
                self.config,
            )
            ids, scores = boost_entities(fused, wanted, _named_by(named), self.config.entity_boost)
        return self._records(ids[:k], scores[:k])

    def _wanted_entities(self, query: str) -> set[str]:
        if self.config.entity_boost == 0 or self.query_entities is None:
            return set()
        return {e.casefold() for e in self.query_entities(query)}

    def _bm25(
        self,
        query: str,
        limit: int,
        expression: str | None,
        named: dict[int, set[str]],
        extra: frozenset[str] = frozenset(),
    ) -> Ranking:
        terms = self._backend.terms(query)
        if not terms:
            return _empty()
        # BM25 scores are never negative; milvus-lite returns them negated, a server as they are.
        ids, scores = self._search(terms, "sparse", "BM25", limit, expression, named, extra)
        return ids, np.abs(scores)

    def _dense(
        self,
        query: str,
        limit: int,
        expression: str | None,
        named: dict[int, set[str]],
        extra: frozenset[str] = frozenset(),
    ) -> Ranking:
        vector = np.asarray(self.embedder.embed([query])[0], dtype=np.float32).tolist()
        return self._search(vector, "vector", "IP", limit, expression, named, extra)

    def _search(
        self,
        data: Any,
        field: str,
        metric: str,
        limit: int,
        expression: str | None,
        named: dict[int, set[str]],
        extra: frozenset[str],
    ) -> Ranking:
        params: dict[str, Any] = {"metric_type": metric}
        if field == "vector" and self.ann:
            params["params"] = {"ef": max(64, limit)}
        kwargs: dict[str, Any] = {"filter": expression} if expression else {}
        hits = self._backend._call(
            lambda: self._backend.client.search(
                self.target,
                data=[data],
                anns_field=field,
                limit=limit,
                search_params=params,
                output_fields=sorted(extra) or ["chunk_id"],
                **kwargs,
            )
        )[0]
        for hit in hits:
            if "entities" in extra:
                named[int(hit["chunk_id"])] = set(hit["entity"].get("entities") or ())
        ids = np.fromiter((int(h["chunk_id"]) for h in hits), dtype=np.int64, count=len(hits))
        scores = np.fromiter((float(h["distance"]) for h in hits), dtype=np.float64, count=len(hits))
        return ids, scores

    def _records(self, ids: np.ndarray, scores: np.ndarray) -> list[RetrievedChunk]:
        """The records and vectors of the chosen chunks, in the order chosen."""
        if not len(ids):
            return []
        wanted = [int(i) for i in ids]
        rows = self._backend._call(
            lambda: self._backend.client.get(self.target, ids=wanted, output_fields=["record", "vector"])
        )
        by_id = {int(r["chunk_id"]): r for r in rows}
        found = []
        for chunk_id, score in zip(wanted, scores.tolist(), strict=True):
            row = by_id.get(chunk_id)
            if row is None:
                continue  # cannot happen in an immutable version; skipped rather than trusted
            vector = np.asarray(row["vector"], dtype=np.float32)
            vector.flags.writeable = False
            found.append(RetrievedChunk(ChunkRecord.from_json(row["record"]), float(score), chunk_id, vector))
        return found


def _named_by(named: dict[int, set[str]]) -> Callable[[str], np.ndarray]:
    def rows(entity: str) -> np.ndarray:
        return np.asarray([i for i, names in named.items() if entity in names], dtype=np.int64)

    return rows


def _empty() -> Ranking:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
