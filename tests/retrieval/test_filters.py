"""Filter masks on hand-made chunk records: ACL, documents, tags, entities, and their AND."""

from __future__ import annotations

import json

import numpy as np
import pytest

from attest.retrieval.filters import Filters, FilterTables
from attest.retrieval.records import ChunkEntity, ChunkRecord
from tests.doubles import chunk_record

pytestmark = pytest.mark.unit


def chunk(
    document_id: int,
    acl: list[str] | None = None,
    tags: list[str] | None = None,
    entities: list[tuple[str, str]] | None = None,
) -> ChunkRecord:
    return chunk_record(
        0,
        document_id,
        "",
        acl=tuple(acl or ()),
        tags=tuple(tags or ()),
        entities=tuple(ChunkEntity(label, text, 0, len(text)) for label, text in entities or []),
    )


# Row | document | acl                | tags             | entities
#   0 | 1        | []   (everyone)    | policy           | ORG Ledgerline
#   1 | 1        | []   (everyone)    | policy           | -
#   2 | 2        | hr                 | policy, pay      | EMAIL hr@example.com
#   3 | 3        | eng                | infra            | ORG ledgerline, VERSION 2.4.1
#   4 | 4        | hr, managers       | -                | MONEY $45
#   5 | 5        | managers, hr, eng  | infra            | EMAIL IT-Help@Example.com (twice)
#   6 | 3        | eng                | infra            | -
CHUNKS = [
    chunk(1, tags=["policy"], entities=[("ORG", "Ledgerline")]),
    chunk(1, tags=["policy"]),
    chunk(2, acl=["hr"], tags=["policy", "pay"], entities=[("EMAIL", "hr@example.com")]),
    chunk(3, acl=["eng"], tags=["infra"], entities=[("ORG", "ledgerline"), ("VERSION", "2.4.1")]),
    chunk(4, acl=["hr", "managers"], entities=[("MONEY", "$45")]),
    chunk(
        5,
        acl=["managers", "hr", "eng"],
        tags=["infra"],
        entities=[("EMAIL", "IT-Help@Example.com"), ("EMAIL", "it-help@example.com")],
    ),
    chunk(3, acl=["eng"], tags=["infra"]),
]


@pytest.fixture(scope="module")
def tables() -> FilterTables:
    return FilterTables(CHUNKS)


def rows(tables: FilterTables, filters: Filters) -> list[int]:
    mask = tables.mask(filters)
    if mask is None:  # nothing excluded
        return list(range(len(CHUNKS)))
    assert mask.dtype == np.bool_ and mask.shape == (len(CHUNKS),)
    return np.flatnonzero(mask).tolist()


def test_no_filter_means_no_mask(tables: FilterTables) -> None:
    assert not Filters().restricts
    assert tables.mask(Filters()) is None
    assert tables.document_ids.tolist() == [1, 1, 2, 3, 4, 5, 3]


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (set(), [0, 1]),  # in no group: only what has an empty ACL
        ({"finance"}, [0, 1]),  # a group that no ACL names: the same
        ({"eng"}, [0, 1, 3, 5, 6]),
        ({"hr"}, [0, 1, 2, 4, 5]),
        ({"managers"}, [0, 1, 4, 5]),
        ({"eng", "managers"}, [0, 1, 3, 4, 5, 6]),  # any shared group is enough
        ({"eng", "hr"}, [0, 1, 2, 3, 4, 5, 6]),
    ],
)
def test_acl(tables: FilterTables, groups: set[str], expected: list[int]) -> None:
    filters = Filters(groups=frozenset(groups))
    assert filters.restricts
    assert rows(tables, filters) == expected


def test_groups_none_is_unrestricted_even_with_other_filters(tables: FilterTables) -> None:
    # Row 2 is hr-only, yet a tag filter alone (groups=None) lets it through.
    assert rows(tables, Filters(tags=frozenset({"pay"}))) == [2]
    assert rows(tables, Filters(documents=frozenset({4}))) == [4]


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        ({3}, [3, 6]),  # every chunk of the document, wherever it sits
        ({1, 4}, [0, 1, 4]),
        ({99}, []),  # unknown document
        (set(), []),  # an empty allow-list allows nothing (it is not "no filter")
    ],
)
def test_documents(tables: FilterTables, documents: set[int], expected: list[int]) -> None:
    assert rows(tables, Filters(documents=frozenset(documents))) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"infra"}, [3, 5, 6]),
        ({"policy"}, [0, 1, 2]),
        ({"pay", "infra"}, [2, 3, 5, 6]),  # any of the tags
        ({"nope"}, []),
        (set(), []),
    ],
)
def test_tags(tables: FilterTables, tags: set[str], expected: list[int]) -> None:
    assert rows(tables, Filters(tags=frozenset(tags))) == expected


@pytest.mark.parametrize(
    ("entities", "expected"),
    [
        ({"ledgerline"}, [0, 3]),  # "Ledgerline" and "ledgerline"
        ({"LEDGERLINE"}, [0, 3]),  # case-insensitive on the query side too
        ({"it-help@example.com"}, [5]),  # stored as "IT-Help@Example.com"
        ({"$45", "2.4.1"}, [3, 4]),  # any of them
        ({"ledger"}, []),  # the whole entity text, not a substring
        ({"unknown"}, []),
        (set(), []),
    ],
)
def test_entities(tables: FilterTables, entities: set[str], expected: list[int]) -> None:
    assert rows(tables, Filters(entities=frozenset(entities))) == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # eng sees [0, 1, 3, 5, 6]; infra is [3, 5, 6]
        (Filters(groups=frozenset({"eng"}), tags=frozenset({"infra"})), [3, 5, 6]),
        # hr sees [0, 1, 2, 4, 5]; infra is [3, 5, 6]
        (Filters(groups=frozenset({"hr"}), tags=frozenset({"infra"})), [5]),
        # eng sees [0, 1, 3, 5, 6]; documents 2 and 3 are [2, 3, 6]
        (Filters(groups=frozenset({"eng"}), documents=frozenset({2, 3})), [3, 6]),
        # hr sees [0, 1, 2, 4, 5]; ledgerline is in [0, 3]
        (Filters(groups=frozenset({"hr"}), entities=frozenset({"Ledgerline"})), [0]),
        # tags policy -> [0, 1, 2]; entity hr@example.com -> [2]; no groups filter
        (Filters(tags=frozenset({"policy"}), entities=frozenset({"hr@example.com"})), [2]),
        # all four: eng [0,1,3,5,6] & docs 1,3 [0,1,3,6] & tags [0,1,2,3,5,6] & entity [0,3]
        (
            Filters(
                groups=frozenset({"eng"}),
                documents=frozenset({1, 3}),
                tags=frozenset({"policy", "infra"}),
                entities=frozenset({"ledgerline"}),
            ),
            [0, 3],
        ),
        # each passes on its own, together nothing: hr-only row 2 is not tagged infra
        (Filters(documents=frozenset({2}), tags=frozenset({"infra"})), []),
    ],
)
def test_filter_kinds_combine_with_and(tables: FilterTables, filters: Filters, expected: list[int]) -> None:
    assert rows(tables, filters) == expected


def test_masks_are_independent_between_calls(tables: FilterTables) -> None:
    first = rows(tables, Filters(groups=frozenset({"hr"})))
    rows(tables, Filters(groups=frozenset({"eng"}), tags=frozenset({"infra"})))
    assert rows(tables, Filters(groups=frozenset({"hr"}))) == first


def test_empty_index() -> None:
    empty = FilterTables([])
    assert empty.mask(Filters()) is None
    assert empty.mask(Filters(groups=frozenset({"hr"}))) is None  # nothing to exclude
    for filters in (
        Filters(documents=frozenset({1})),
        Filters(tags=frozenset({"x"})),
        Filters(entities=frozenset({"y"})),
    ):
        mask = empty.mask(filters)
        assert mask is not None and mask.dtype == np.bool_ and mask.shape == (0,)


def test_a_versions_parsed_lines_give_the_same_tables(tables: FilterTables) -> None:
    """Loading a version builds the tables from its JSON lines, skipping the records."""
    from_lines = FilterTables.of_lines(json.loads(c.to_json()) for c in CHUNKS)
    assert np.array_equal(from_lines.document_ids, tables.document_ids)
    for groups in ({"hr"}, {"eng", "managers"}, set()):
        assert rows(from_lines, Filters(groups=groups)) == rows(tables, Filters(groups=groups))
    assert rows(from_lines, Filters(entities={"ledgerline"})) == rows(
        tables, Filters(entities={"ledgerline"})
    )
    assert rows(from_lines, Filters(tags={"infra"})) == rows(tables, Filters(tags={"infra"}))
