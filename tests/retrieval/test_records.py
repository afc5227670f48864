"""Chunk records: the typed record reads and writes ``chunks.jsonl`` exactly as before it existed."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError

import pytest

from attest.retrieval.records import ChunkEntity, ChunkRecord

pytestmark = pytest.mark.unit

# A line the index writer wrote before ChunkRecord existed, byte for byte.
LINE = (
    '{"chunk_id": 7, "document_id": 3, "position": 2, "text": "Café › naïve — 10 €", '
    '"char_start": 40, "char_end": 59, "token_start": 9, "token_end": 16, "page": 4, '
    '"entities": [{"label": "MONEY", "text": "10 €", "start": 55, "end": 59}], '
    '"title": "Reisekosten", "source_uri": "docs/reise.pdf", "acl": ["hr", "managers"], '
    '"tags": ["travel"]}'
)
RECORD = ChunkRecord(
    chunk_id=7,
    document_id=3,
    position=2,
    text="Café › naïve — 10 €",
    char_start=40,
    char_end=59,
    token_start=9,
    token_end=16,
    page=4,
    entities=(ChunkEntity("MONEY", "10 €", 55, 59),),
    title="Reisekosten",
    source_uri="docs/reise.pdf",
    acl=("hr", "managers"),
    tags=("travel",),
)


@pytest.mark.parametrize("line", [LINE, LINE.encode()], ids=["str", "bytes"])
def test_a_line_reads_back_as_the_record_and_round_trips(line: str | bytes) -> None:
    record = ChunkRecord.from_json(line)
    assert record == RECORD
    assert record.to_dict() == json.loads(line)
    assert record.to_json() == LINE


def test_records_are_frozen_and_hashable() -> None:
    with pytest.raises(FrozenInstanceError):
        RECORD.title = "changed"  # type: ignore[misc]
    assert len({RECORD, ChunkRecord.from_json(LINE)}) == 1
