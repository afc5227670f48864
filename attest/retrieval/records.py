"""The chunk record of an index version: one line of its ``chunks.jsonl``, typed.

The index writer makes a :class:`ChunkRecord` from a chunk and its document and writes
:meth:`ChunkRecord.to_dict` as a JSON line; queries read it back with
:meth:`ChunkRecord.from_json`. Both directions live here so the line's shape is stated once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ChunkEntity:
    """A named entity in a chunk, with character offsets into the document's text."""

    label: str
    text: str
    start: int
    end: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkEntity:
        """The entity as stored in ``chunks.jsonl`` (and in the chunk's database row)."""
        return cls(data["label"], data["text"], data["start"], data["end"])

    def to_dict(self) -> dict[str, Any]:
        """The entity as stored in ``chunks.jsonl``."""
        return {"label": self.label, "text": self.text, "start": self.start, "end": self.end}


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A chunk of an index version with what queries need of its document (title, ACL, tags)."""

    chunk_id: int
    document_id: int
    position: int  # the chunk's place in its document, from 0
    text: str
    char_start: int  # offsets into the document's text; ``char_end`` is exclusive
    char_end: int
    token_start: int
    token_end: int
    page: int | None  # where the chunk starts, when the format has pages
    entities: tuple[ChunkEntity, ...]
    title: str
    source_uri: str
    acl: tuple[str, ...]  # groups that may read the document; empty: everyone
    tags: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkRecord:
        """The record of a parsed ``chunks.jsonl`` line."""
        return cls(
            data["chunk_id"],
            data["document_id"],
            data["position"],
            data["text"],
            data["char_start"],
            data["char_end"],
            data["token_start"],
            data["token_end"],
            data["page"],
            tuple([ChunkEntity.from_dict(e) for e in data["entities"]]),
            data["title"],
            data["source_uri"],
            tuple(data["acl"]),
            tuple(data["tags"]),
        )

    @classmethod
    def from_json(cls, line: str | bytes) -> ChunkRecord:
        """The record of one ``chunks.jsonl`` line."""
        return cls.from_dict(json.loads(line))

    def to_dict(self) -> dict[str, Any]:
        """The record as a ``chunks.jsonl`` line holds it (JSON-compatible, keys in file order)."""
        return {
            "chunk_id": self.chunk_id,
            "document_id": self.document_id,
            "position": self.position,
            "text": self.text,
            "char_start": self.char_start,
            "char_end": self.char_end,
            "token_start": self.token_start,
            "token_end": self.token_end,
            "page": self.page,
            "entities": [e.to_dict() for e in self.entities],
            "title": self.title,
            "source_uri": self.source_uri,
            "acl": list(self.acl),
            "tags": list(self.tags),
        }

    def to_json(self) -> str:
        """One ``chunks.jsonl`` line, without its newline."""
        return json.dumps(self.to_dict(), ensure_ascii=False)
