"""Chunk records: the typed record reads and writes ``chunks.jsonl`` exactly as before it existed."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from attest.core.models import Chunk
from attest.retrieval.index_store import ChunkRecords, _chunk_record
from attest.retrieval.records import ChunkEntity, ChunkRecord

pytestmark = pytest.mark.unit

# Four lines of a version written before ChunkRecord existed (format 2): non-ASCII text, a
# page, no entities, an ACL.
WRITTEN_BEFORE = Path(__file__).with_name("chunks_format2.jsonl")

# What the writer wrote for CHUNK before ChunkRecord existed, byte for byte.
LINE = (
    '{"chunk_id": 7, "document_id": 3, "position": 2, "text": "Café › naïve — 10 €", '
    '"char_start": 40, "char_end": 59, "token_start": 9, "token_end": 16, "page": 4, '
    '"entities": [{"label": "MONEY", "text": "10 €", "start": 55, "end": 59}], '
    '"title": "Reisekosten", "source_uri": "docs/reise.pdf", "acl": ["hr", "managers"], '
    '"tags": ["travel"]}'
)
CHUNK = Chunk(
    id=7,
    document_id=3,
    position=2,
    text="Café › naïve — 10 €",
    char_start=40,
    char_end=59,
    token_start=9,
    token_end=16,
    page=4,
    entities=[{"label": "MONEY", "text": "10 €", "start": 55, "end": 59}],
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


def test_the_writer_writes_the_line_it_wrote_before() -> None:
    record = _chunk_record(CHUNK, "Reisekosten", "docs/reise.pdf", ["hr", "managers"], ["travel"])
    assert record == RECORD
    assert record.to_json() == LINE


@pytest.mark.parametrize("line", [LINE, LINE.encode()], ids=["str", "bytes"])
def test_a_line_reads_back_as_the_record_and_round_trips(line: str | bytes) -> None:
    record = ChunkRecord.from_json(line)
    assert record == RECORD
    assert record.to_dict() == json.loads(line)
    assert record.to_json() == LINE


def test_a_version_written_before_loads_field_for_field() -> None:
    lines = WRITTEN_BEFORE.read_text(encoding="utf-8").splitlines()
    records = ChunkRecords(WRITTEN_BEFORE)
    assert len(records) == len(lines) == 4
    for record, line in zip(records, lines, strict=True):
        assert isinstance(record, ChunkRecord)
        assert record.to_dict() == json.loads(line)
        assert record.to_json() == line  # rewriting it changes nothing either
        assert all(isinstance(e, ChunkEntity) for e in record.entities)
        assert isinstance(record.acl, tuple) and isinstance(record.tags, tuple)
    first, with_page, no_entities, restricted = records
    assert "›" in first.text and first.entities[0] == ChunkEntity("PERSON", "› Handbook", 8, 18)
    assert with_page.page == 1 and first.page is None
    assert no_entities.entities == ()
    assert restricted.acl == ("hr",) and restricted.title == "falconridge_salary_bands"


def test_rows_index_and_slice_like_a_sequence() -> None:
    records = ChunkRecords(WRITTEN_BEFORE)
    assert records[-1] == records[3] and records[1:3] == [records[1], records[2]]
    with pytest.raises(IndexError, match="out of range"):
        records[4]


def test_records_are_frozen_and_hashable() -> None:
    with pytest.raises(FrozenInstanceError):
        RECORD.title = "changed"  # type: ignore[misc]
    assert len({RECORD, ChunkRecord.from_json(LINE)}) == 1
