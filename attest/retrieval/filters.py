"""Which chunks of an index version a query may see, as boolean masks.

Masks are computed before any top-k cut, so that a user who may read only a few
documents still gets a full top-k from those and never sees a chunk they may not read.
The per-version lookup tables make a mask cost a few numpy operations, not a pass over
the chunks in Python.

Two sets matter. The *readable* set (the asker's groups against each document's ACL) is a
security boundary: corpus statistics such as BM25's idf are computed over it, so documents
a user may not read change nothing in what they get back. The *returnable* set narrows it
further by the filters the asker chose (documents, tags, entities); those only restrict
the candidates, as a search filter would.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from attest.retrieval.records import ChunkRecord


@dataclass(frozen=True)
class Filters:
    """Restrictions on what a query may retrieve. ``None`` means no restriction."""

    groups: frozenset[str] | None = None  # the asker's groups; None: not restricted by ACL
    documents: frozenset[int] | None = None
    tags: frozenset[str] | None = None  # a chunk passes when its document has any of them
    entities: frozenset[str] | None = None  # a chunk passes when it mentions any of them

    @property
    def restricts(self) -> bool:
        return any(v is not None for v in (self.groups, self.documents, self.tags, self.entities))


@dataclass(frozen=True)
class Restriction:
    """The masks one query runs under; ``None`` means every chunk."""

    readable_key: tuple[int, ...] | None  # names the readable set, for caching its statistics
    readable: np.ndarray | None
    returnable: np.ndarray | None


class FilterTables:
    """Lookup tables over one index version's chunks, built once when the version loads."""

    def __init__(self, chunks: Iterable[ChunkRecord]) -> None:
        self._build((c.document_id, c.acl, c.tags, [e.text for e in c.entities]) for c in chunks)

    @classmethod
    def of_lines(cls, lines: Iterable[Mapping[str, Any]]) -> FilterTables:
        """The tables of a version's chunk lines as parsed JSON (:meth:`ChunkRecords.lines`):
        loading a version skips building a million records it does not need (a third faster)."""
        tables = cls.__new__(cls)
        tables._build(
            (c["document_id"], c["acl"], c["tags"], [e["text"] for e in c["entities"]]) for c in lines
        )
        return tables

    def _build(self, rows: Iterable[tuple[int, Sequence[str], Sequence[str], list[str]]]) -> None:
        """From each chunk's document id, ACL, tags and entity texts, in row order."""
        document_ids: list[int] = []
        acls: dict[tuple[str, ...], int] = {}
        tag_sets: dict[tuple[str, ...], int] = {}
        acl_codes: list[int] = []
        tag_codes: list[int] = []
        by_entity: dict[str, list[int]] = defaultdict(list)
        for row, (document_id, acl, tags, entities) in enumerate(rows):  # one pass: parsed from disk
            document_ids.append(document_id)
            acl_codes.append(acls.setdefault(tuple(sorted(acl)), len(acls)))
            tag_codes.append(tag_sets.setdefault(tuple(sorted(tags)), len(tag_sets)))
            for entity in {text.casefold() for text in entities}:
                by_entity[entity].append(row)
        self.size = len(document_ids)
        self.document_ids = np.asarray(document_ids, dtype=np.int64)
        self._acl_codes, self._acls = np.asarray(acl_codes, dtype=np.int32), list(acls)
        self._tag_codes, self._tag_sets = np.asarray(tag_codes, dtype=np.int32), list(tag_sets)
        self._entities = {k: np.asarray(v, dtype=np.int64) for k, v in by_entity.items()}

    def readable(self, groups: frozenset[str] | None) -> tuple[tuple[int, ...] | None, np.ndarray | None]:
        """The chunks of documents ``groups`` may read (no ACL: everyone), keyed by ACL codes."""
        if groups is None:
            return None, None
        allowed = tuple(i for i, acl in enumerate(self._acls) if not acl or groups.intersection(acl))
        if len(allowed) == len(self._acls):
            return None, None
        return allowed, np.isin(self._acl_codes, allowed)

    def restrict(self, filters: Filters) -> Restriction:
        """The readable and returnable chunks under ``filters``."""
        key, readable = self.readable(filters.groups)
        narrowed = Filters(documents=filters.documents, tags=filters.tags, entities=filters.entities)
        if not narrowed.restricts:
            return Restriction(key, readable, readable)
        mask = np.ones(self.size, dtype=bool) if readable is None else readable.copy()
        return Restriction(key, readable, self._narrow(mask, narrowed))

    def mask(self, filters: Filters) -> np.ndarray | None:
        """The chunks a query under ``filters`` may return, or ``None`` for all."""
        return self.restrict(filters).returnable

    def entity_rows(self, entity: str) -> np.ndarray:
        """Rows of the chunks that mention ``entity`` (case-insensitive)."""
        return self._entities.get(entity.casefold(), np.zeros(0, dtype=np.int64))

    def _narrow(self, mask: np.ndarray, filters: Filters) -> np.ndarray:
        if filters.tags is not None:
            tags = filters.tags
            allowed = [i for i, ts in enumerate(self._tag_sets) if tags.intersection(ts)]
            mask &= np.isin(self._tag_codes, allowed)
        if filters.documents is not None:
            mask &= np.isin(self.document_ids, np.fromiter(filters.documents, dtype=np.int64))
        if filters.entities is not None:
            hits = np.zeros(self.size, dtype=bool)
            for entity in filters.entities:
                hits[self.entity_rows(entity)] = True
            mask &= hits
        return mask
