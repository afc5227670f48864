"""Test doubles the test modules share: retrieved chunks built by hand.

A hit is the retriever's own :class:`~attest.retrieval.hybrid.RetrievedChunk`, with a
chunk record that has every field an index version's record has.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from attest.retrieval.hybrid import RetrievedChunk
from attest.retrieval.records import ChunkRecord


def chunk_record(chunk_id: int, document_id: int, text: str, **overrides: Any) -> ChunkRecord:
    """A chunk record of ``text``, the whole of its document unless ``char_start``/``char_end`` say."""
    record = ChunkRecord(
        chunk_id=chunk_id,
        document_id=document_id,
        position=0,
        text=text,
        char_start=0,
        char_end=len(text),
        token_start=0,
        token_end=0,
        page=None,
        entities=(),
        title=f"Document {document_id}",
        source_uri=f"{document_id}.txt",
        acl=(),
        tags=(),
    )
    unknown = set(overrides) - {f.name for f in fields(ChunkRecord)}
    assert not unknown, f"chunk records have no {sorted(unknown)}"
    return replace(record, **overrides)


def hit(record: ChunkRecord, score: float = 1.0, row: int = 0) -> RetrievedChunk:
    """A retrieved chunk without an index vector."""
    return RetrievedChunk(record, score, row)
