"""Which chunks of an index version a query may see, as a boolean mask.

Masks are computed before any top-k cut, so that a user who may read only a few
documents still gets a full top-k from those and never sees a chunk they may not read.
The per-version lookup tables make a mask cost a few numpy operations, not a pass over
the chunks in Python.

Known gap (issue #3): BM25 IDF and average length come from the whole index version,
so forbidden chunks still shift the BM25 scores of the chunks a user may see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


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


class FilterTables:
    """Lookup tables over one index version's chunks, built once when the version loads."""

    def __init__(self, chunks: Sequence[dict[str, Any]]) -> None:
        self.size = len(chunks)
        self.document_ids = np.fromiter((c["document_id"] for c in chunks), dtype=np.int64, count=self.size)
        self._acl_codes, self._acls = _codes(tuple(sorted(c["acl"])) for c in chunks)
        self._tag_codes, self._tag_sets = _codes(tuple(sorted(c["tags"])) for c in chunks)
        by_entity: dict[str, list[int]] = defaultdict(list)
        for i, chunk in enumerate(chunks):
            for entity in {e["text"].casefold() for e in chunk["entities"]}:
                by_entity[entity].append(i)
        self._entities = {k: np.asarray(v, dtype=np.int64) for k, v in by_entity.items()}

    def mask(self, filters: Filters) -> np.ndarray | None:
        """The chunks ``filters`` allow, or ``None`` when nothing is restricted."""
        if not filters.restricts:
            return None
        mask = np.ones(self.size, dtype=bool)
        if filters.groups is not None:
            groups = filters.groups
            allowed = [i for i, acl in enumerate(self._acls) if not acl or groups.intersection(acl)]
            mask &= np.isin(self._acl_codes, allowed)
        if filters.tags is not None:
            tags = filters.tags
            allowed = [i for i, ts in enumerate(self._tag_sets) if tags.intersection(ts)]
            mask &= np.isin(self._tag_codes, allowed)
        if filters.documents is not None:
            mask &= np.isin(self.document_ids, np.fromiter(filters.documents, dtype=np.int64))
        if filters.entities is not None:
            hits = np.zeros(self.size, dtype=bool)
            for entity in filters.entities:
                hits[self._entities.get(entity.casefold(), np.zeros(0, dtype=np.int64))] = True
            mask &= hits
        return mask


def _codes(keys: Any) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Encode each key as a small integer; return the codes and the distinct keys."""
    table: dict[tuple[str, ...], int] = {}
    codes = [table.setdefault(key, len(table)) for key in keys]
    return np.asarray(codes, dtype=np.int32), list(table)
