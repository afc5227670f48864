"""The BEIR runner ranks documents by their best chunk and runs the modes ``--mode`` names."""

from __future__ import annotations

import pytest

from attest.core.errors import InvalidInput
from attest.eval.beir import DOC_DEPTH, doc_ranking, parse_modes
from attest.retrieval.hybrid import Mode
from tests.doubles import chunk_record

pytestmark = pytest.mark.unit


def test_a_document_ranks_where_its_first_chunk_does_and_only_once() -> None:
    id_of = {"d00000000": "doc-a", "d00000001": "doc-b", "d00000002": "doc-c"}
    stems = ("d00000001", "d00000000", "d00000001")
    chunks = [chunk_record(n, n, "", source_uri=f"/tmp/corpus/{stem}.txt") for n, stem in enumerate(stems)]
    assert doc_ranking(chunks, id_of) == ["doc-b", "doc-a"]


def test_the_ranking_stops_at_the_document_depth() -> None:
    id_of = {f"d{n:08d}": f"doc-{n}" for n in range(DOC_DEPTH + 5)}
    chunks = [chunk_record(n, n, "", source_uri=f"{stem}.txt") for n, stem in enumerate(id_of)]
    assert doc_ranking(chunks, id_of) == [f"doc-{n}" for n in range(DOC_DEPTH)]


def test_all_modes_is_every_retrieval_mode_in_turn() -> None:
    assert parse_modes("all") == parse_modes(" ALL ") == [Mode.BM25, Mode.DENSE, Mode.HYBRID]
    assert parse_modes("Dense") == [Mode.DENSE]
    with pytest.raises(InvalidInput, match="'sparse'; valid values: bm25, dense, hybrid, all.$"):
        parse_modes("sparse")
