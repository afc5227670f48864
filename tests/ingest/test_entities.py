"""Tests for attest.ingest.entities: the trained pipeline, the fallback, knowledge-base terms, offsets."""

from __future__ import annotations

import logging
import random
import re
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest.core.errors import ConfigurationError
from attest.ingest.chunker import SlidingWindowChunker
from attest.ingest.entities import (
    BLANK,
    DEFAULT_PIPELINE,
    KNOWN_PIPELINES,
    PATTERNS,
    Entity,
    EntityTagger,
    _blocks,
    entities_in,
    locate_pipeline,
    pipeline_digest,
    verify_pipeline,
)

pytestmark = pytest.mark.unit

NOT_INSTALLED = "en_core_web_sm"  # no trained pipeline is installed here: the rule fallback is used
TERMS = {"PRODUCT": ["Harbor"], "TEAM": ["Platform Reliability"]}


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    t = EntityTagger(NOT_INSTALLED, terms=TERMS)
    t.warm_up()
    return t


def tagged(tagger: EntityTagger, text: str) -> list[tuple[str, str]]:
    entities = tagger.tag(text)
    for e in entities:
        assert text[e.start : e.end] == e.text, e
    return [(e.label, e.text) for e in entities]


def test_fallback_pipeline_is_not_trained(tagger: EntityTagger, caplog: pytest.LogCaptureFixture) -> None:
    assert tagger.trained is False
    with caplog.at_level(logging.WARNING, logger="attest.ingest.entities"):
        assert EntityTagger("no_such_pipeline_xyz").trained is False
    assert "'no_such_pipeline_xyz' is not installed" in caplog.text
    assert EntityTagger(BLANK).trained is False


SENTENCE = (
    "Maren Holloway, CEO of Kestrel Lane Analytics, said on 3 March 2026 that the Millbridge "
    "office in Leeds costs $320 a night; mail ops@kestrel.example or see v2.1.3."
)


def test_the_shipped_trained_pipeline_is_found_by_path_and_used() -> None:
    t = EntityTagger(DEFAULT_PIPELINE, terms={"PRODUCT": ["Millbridge"]})
    assert t.trained is True
    assert tagged(t, SENTENCE) == [
        ("PERSON", "Maren Holloway"),
        ("ORG", "Kestrel Lane Analytics"),
        ("DATE", "3 March 2026"),
        ("PRODUCT", "Millbridge"),  # the knowledge base's term beats the model's ORG
        ("GPE", "Leeds"),
        ("MONEY", "$320"),  # the pattern widens the model's "320"
        ("EMAIL", "ops@kestrel.example"),
        ("VERSION", "v2.1.3"),
    ]
    # Loaded as data: the package's own code was never imported, and only NER runs.
    assert DEFAULT_PIPELINE not in sys.modules
    assert t.warm_up().pipe_names == ["tok2vec", "ner", "attest_pattern_entities", "entity_ruler"]


def test_a_broken_pipeline_directory_is_named_in_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "config.cfg").write_text("[nlp]\nthis is not a config\n")
    with pytest.raises(ConfigurationError, match="ATTEST_SPACY_PIPELINE=.*cannot be loaded"):
        EntityTagger(str(tmp_path)).warm_up()


def test_bare_numbers_are_not_entities() -> None:
    assert tagged(EntityTagger(DEFAULT_PIPELINE), "We bought three laptops and the second one broke.") == []


def test_a_pipeline_that_differs_from_the_known_hash_is_refused(tmp_path: Path) -> None:
    directory = locate_pipeline(DEFAULT_PIPELINE)
    assert directory is not None and pipeline_digest(directory) == KNOWN_PIPELINES[DEFAULT_PIPELINE][1]
    copy = tmp_path / "pipeline"
    shutil.copytree(directory, copy)
    verify_pipeline(copy, DEFAULT_PIPELINE, "3.8.0")  # an exact copy passes
    with pytest.raises(ConfigurationError, match="3.8.1"):
        verify_pipeline(copy, DEFAULT_PIPELINE, "3.8.1")
    (copy / "ner" / "moves").write_bytes((copy / "ner" / "moves").read_bytes() + b" ")
    with pytest.raises(ConfigurationError, match="not the one Attest was tested with"):
        verify_pipeline(copy, DEFAULT_PIPELINE, "3.8.0")


def test_all_pattern_labels_are_known() -> None:
    assert set(PATTERNS) == {"EMAIL", "URL", "MONEY", "PERCENT", "DATE", "PHONE", "VERSION"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Released on 2024-01-15 to all.", [("DATE", "2024-01-15")]),
        ("The cutover is on March 3, 2024 at noon.", [("DATE", "March 3, 2024")]),
        ("Signed on the 3rd of March 2024 by both.", [("DATE", "3rd of March 2024")]),
        ("Due 12/05/2023 at the latest.", [("DATE", "12/05/2023")]),
        ("Planned for Sept. 2023 originally.", [("DATE", "Sept. 2023")]),
        ("Renewal on 14 February 2025 again.", [("DATE", "14 February 2025")]),
    ],
)
def test_dates(tagger: EntityTagger, text: str, expected: list[tuple[str, str]]) -> None:
    assert tagged(tagger, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It cost $1,200.50 in total.", [("MONEY", "$1,200.50")]),
        ("A budget of EUR 300 was set.", [("MONEY", "EUR 300")]),
        ("They paid 300 USD for it.", [("MONEY", "300 USD")]),
        ("Raised €5m last year.", [("MONEY", "€5m")]),
        ("Fees of 25 dollars apply.", [("MONEY", "25 dollars")]),
        ("A £40 million deal.", [("MONEY", "£40 million")]),
    ],
)
def test_money(tagger: EntityTagger, text: str, expected: list[tuple[str, str]]) -> None:
    assert tagged(tagger, text) == expected


def test_percentages(tagger: EntityTagger) -> None:
    text = "Uptime grew 15% and errors fell 3.5 percent, a 2 per cent gain."
    assert tagged(tagger, text) == [("PERCENT", "15%"), ("PERCENT", "3.5 percent"), ("PERCENT", "2 per cent")]


def test_email_and_urls(tagger: EntityTagger) -> None:
    text = (
        "Mail ops@example.co.uk or see https://docs.example.com/a/b?x=1. Also www.example.org, http://x.io/p"
    )
    assert tagged(tagger, text) == [
        ("EMAIL", "ops@example.co.uk"),
        ("URL", "https://docs.example.com/a/b?x=1"),
        ("URL", "www.example.org"),
        ("URL", "http://x.io/p"),
    ]


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Call +1 (555) 123-4567 now", "+1 (555) 123-4567"),
        ("Call 555-123-4567, then wait", "555-123-4567"),
        ("Phone: 555 123 4567\n\nNext line", "555 123 4567"),
        ("Desk +44 20 7946 0958 during office hours", "+44 20 7946 0958"),
        ("Fax 030.1234.5678 only", "030.1234.5678"),
        ("Dial 555-1234 today", "555-1234"),  # seven digits: the minimum
    ],
)
def test_phone_numbers(tagger: EntityTagger, text: str, phone: str) -> None:
    assert tagged(tagger, text) == [("PHONE", phone)]


@pytest.mark.parametrize(
    "text",
    [
        "The answer is 42 here.",
        "It happened in 2024 and again in 1999.",
        "Room 1234 on floor 12.",
        "Ticket 12-34 closed.",  # four digits: below the seven-digit minimum
        "Build 123 456 passed.",  # six digits
        "Order id 12345678 shipped.",  # no separators: an id, not a phone number
    ],
)
def test_short_numbers_and_years_are_not_phones(tagger: EntityTagger, text: str) -> None:
    assert tagged(tagger, text) == []


def test_versions(tagger: EntityTagger) -> None:
    text = "Upgrade v2.1 to 1.2.3-beta.1, then to 10.0.1 and V3.4.5."
    assert tagged(tagger, text) == [
        ("VERSION", "v2.1"),
        ("VERSION", "1.2.3-beta.1"),
        ("VERSION", "10.0.1"),
        ("VERSION", "V3.4.5"),
    ]


def test_iso_date_is_a_date_not_a_phone(tagger: EntityTagger) -> None:
    # "2024-01-15" matches the phone pattern too (8 digits); the date must win.
    assert tagged(tagger, "Shipped on 2024-01-15 worldwide.") == [("DATE", "2024-01-15")]


def test_knowledge_base_terms_are_case_sensitive(tagger: EntityTagger) -> None:
    text = "Harbor is run by Platform Reliability. The harbor and platform reliability are not. HARBOR no."
    assert tagged(tagger, text) == [("PRODUCT", "Harbor"), ("TEAM", "Platform Reliability")]


def test_terms_override_patterns_and_blank_terms_are_ignored() -> None:
    t = EntityTagger(NOT_INSTALLED, terms={"system": ["v2.1", "  "], "TEAM": []})
    assert t.trained is False
    # Labels are upper-cased; a term wins over the pattern entity it overlaps.
    assert tagged(t, "Deploy v2.1 today with 1.2.3.") == [("SYSTEM", "v2.1"), ("VERSION", "1.2.3")]


def test_blank_terms_match_nothing() -> None:
    t = EntityTagger(NOT_INSTALLED, terms={"SYSTEM": ["  ", ""]})
    assert tagged(t, "x   y  z") == []


def test_entity_is_expanded_to_whole_tokens(tagger: EntityTagger) -> None:
    # The blank tokenizer keeps "15%-20" as one token: the two matches expand to one entity.
    assert tagged(tagger, "Growth of 15%-20% a year.") == [("PERCENT", "15%-20%")]


def test_no_terms_tags_no_products() -> None:
    assert tagged(EntityTagger(NOT_INSTALLED), "Harbor by Platform Reliability") == []


def test_mixed_sentence(tagger: EntityTagger) -> None:
    text = (
        "On 2024-03-01 Harbor 2.4.0 shipped; Platform Reliability (ops@example.com, +1 555 010 9999 ext) "
        "spent $12,000 or 8% of budget. See https://wiki.example.com/harbor for notes."
    )
    assert tagged(tagger, text) == [
        ("DATE", "2024-03-01"),
        ("PRODUCT", "Harbor"),
        ("VERSION", "2.4.0"),
        ("TEAM", "Platform Reliability"),
        ("EMAIL", "ops@example.com"),
        ("PHONE", "+1 555 010 9999"),
        ("MONEY", "$12,000"),
        ("PERCENT", "8%"),
        ("URL", "https://wiki.example.com/harbor"),
    ]


def test_empty_text(tagger: EntityTagger) -> None:
    assert tagger.tag("") == []
    assert tagger.tag("   \n\n ") == []


# --- long texts in several blocks ----------------------------------------------------------

_PARAGRAPHS = [
    "Harbor release notes mention v2.1 and 2024-01-15 as the date for Platform Reliability",
    "ops@example.com was billed $1,200 or 300 USD spent on Harbor",
    "+1 (555) 123-4567 or visit https://example.com/status for 15%",
    "Platform Reliability owns Harbor since March 3, 2024 under EUR 300",
    "1.2.3 fixed it. Budget 12% of €5m went to Harbor",
]


def paragraph_text(n: int, seed: int = 0) -> str:
    """Short paragraphs (under half of a 200-char block) with entities at both ends."""
    rng = random.Random(seed)
    return "\n\n".join(rng.choice(_PARAGRAPHS) for _ in range(n))


def test_block_offsets_on_long_paragraph_text(tagger: EntityTagger) -> None:
    text = paragraph_text(120)
    small = EntityTagger(NOT_INSTALLED, terms=TERMS, block_chars=200)
    blocks = small.tag(text)
    for e in blocks:
        assert text[e.start : e.end] == e.text, e
    # Every paragraph break is a possible block cut: the result equals tagging in one block.
    whole = EntityTagger(NOT_INSTALLED, terms=TERMS, block_chars=10**7).tag(text)
    assert blocks == whole
    # And equals tagging each paragraph on its own, shifted by the paragraph's offset.
    expected: list[Entity] = []
    for m in re.finditer(r"[^\n]+", text):
        expected.extend(
            Entity(e.label, e.text, e.start + m.start(), e.end + m.start()) for e in tagger.tag(m.group())
        )
    assert blocks == expected
    assert len(blocks) > 400
    assert [e.start for e in blocks] == sorted(e.start for e in blocks)
    # Entities sit right at block boundaries (paragraph starts and ends).
    cuts = [start for start, _ in _blocks(text, 200)][1:]
    assert len(cuts) > 30
    assert all(text[c - 2 : c] == "\n\n" for c in cuts)
    assert sum(c in {e.start for e in blocks} for c in cuts) == len(cuts)
    assert sum(c - 2 in {e.end for e in blocks} for c in cuts) == len(cuts)


@pytest.mark.parametrize(
    "entity",
    ["Harbor", "ops@example.com", "$1,200", "2024-01-15", "v2.1.7", "https://example.com/a", "15%"],
)
def test_single_token_entities_found_at_every_block_cut(entity: str) -> None:
    """One long paragraph (no line breaks): blocks are cut at spaces around position ~200."""
    small = EntityTagger(NOT_INSTALLED, terms=TERMS, block_chars=200)
    filler = "lorem ipsum " * 20
    for shift in range(0, 40, 3):
        text = filler[: 180 + shift] + " " + entity + " " + filler + entity + " end"
        entities = small.tag(text)
        for e in entities:
            assert text[e.start : e.end] == e.text, (shift, e)
        found = [e.start for e in entities if e.text == entity]
        assert found == [m.start() for m in re.finditer(re.escape(entity), text)], shift


# --- assigning entities to windows ---------------------------------------------------------


def brute_force(entities: Sequence[Entity], start: int, end: int) -> list[Entity]:
    return [e for e in entities if e.start >= start and e.end <= end]


class CountingList(Sequence[Entity]):
    """A read-only list that counts element reads."""

    def __init__(self, items: Sequence[Entity]) -> None:
        self._items = list(items)
        self.reads = 0

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index):
        self.reads += 1
        return self._items[index]

    def __iter__(self) -> Iterator[Entity]:
        raise AssertionError("entities_in should index, not iterate over everything")


def assign(entities: Sequence[Entity], ranges: Sequence[tuple[int, int]], resume: bool) -> list[list[Entity]]:
    first = 0
    out = []
    for start, end in ranges:
        inside, nxt = entities_in(entities, start, end, first if resume else 0)
        assert nxt >= first or not resume
        first = nxt
        out.append(inside)
    return out


def test_entities_in_small_cases() -> None:
    ents = [
        Entity("A", "a", 0, 3),
        Entity("B", "b", 5, 15),  # straddles the first window's end
        Entity("C", "c", 8, 10),
        Entity("D", "d", 10, 20),  # ends exactly at the second window's end
        Entity("E", "e", 19, 25),
    ]
    first = 0
    inside, first = entities_in(ents, 0, 10, first)
    assert [e.label for e in inside] == ["A", "C"]
    assert first == 0
    inside, first = entities_in(ents, 8, 20, first)
    assert [e.label for e in inside] == ["C", "D"]
    assert first == 1  # A ends before 8; B does not
    inside, first = entities_in(ents, 18, 30, first)
    assert [e.label for e in inside] == ["E"]
    assert first == 3
    inside, first = entities_in(ents, 40, 50, first)
    assert inside == [] and first == 5
    # An entity ending exactly where the next range starts is passed for good.
    assert entities_in(ents, 25, 30, 3) == ([], 5)
    assert entities_in(ents, 15, 19, 0) == ([], 3)  # B ends at 15 exactly
    assert entities_in([], 0, 10) == ([], 0)


def test_entities_in_windows_of_a_tagged_document(tagger: EntityTagger) -> None:
    text = paragraph_text(200, seed=5)
    entities = tagger.tag(text)
    word = re.compile(r"\S+")
    chunker = SlidingWindowChunker(
        lambda t: [m.span() for m in word.finditer(t)], window=30, overlap=10, slack=6
    )
    ranges = [(w.char_start, w.char_end) for w in chunker.windows(text)]
    assert len(ranges) > 50
    counted = CountingList(entities)
    got = assign(counted, ranges, resume=True)
    assert got == [brute_force(entities, s, e) for s, e in ranges]
    # Every entity that fits a window is in at least one (windows overlap by 10 words).
    assert sum(map(len, got)) >= len(entities) * 0.9
    resumed_reads = counted.reads
    assert resumed_reads <= 4 * (len(entities) + sum(map(len, got)) + len(ranges))
    # Without the resume index the same calls are quadratic: the bound above tells them apart.
    counted.reads = 0
    assert assign(counted, ranges, resume=False) == got
    assert counted.reads > 5 * resumed_reads


@st.composite
def entity_lists(draw: Callable) -> list[Entity]:
    raw = draw(st.lists(st.tuples(st.integers(0, 500), st.integers(1, 40)), max_size=80))
    return [Entity("X", "", s, s + length) for s, length in sorted(raw)]


@st.composite
def window_ranges(draw: Callable) -> list[tuple[int, int]]:
    """Consecutive, overlapping ranges with non-decreasing starts, as the chunker yields."""
    ranges = []
    start = draw(st.integers(0, 50))
    for _ in range(draw(st.integers(0, 30))):
        end = start + draw(st.integers(1, 80))
        ranges.append((start, end))
        start = draw(st.integers(start, end))
    return ranges


@settings(max_examples=60, deadline=None)
@given(entities=entity_lists(), ranges=window_ranges())
def test_property_entities_in_matches_brute_force(
    entities: list[Entity], ranges: list[tuple[int, int]]
) -> None:
    counted = CountingList(entities)
    got = assign(counted, ranges, resume=True)
    assert got == [brute_force(entities, s, e) for s, e in ranges]
    # Linear: each entity is skipped once; per window only the entities up to its end are read.
    overlapping = sum(1 for s, e in ranges for ent in entities if ent.end > s - 40 and ent.start < e)
    assert counted.reads <= len(entities) + 4 * overlapping + 2 * len(ranges)


# --- regressions: bugs found and fixed -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phone"),
    [("Call 555-123-4567.", "555-123-4567"), ("Call +1 555 123 4567.", "+1 555 123 4567")],
)
def test_regression_phone_at_sentence_end(tagger: EntityTagger, text: str, phone: str) -> None:
    assert tagged(tagger, text) == [("PHONE", phone)]


def test_regression_year_range_is_not_a_phone(tagger: EntityTagger) -> None:
    assert tagged(tagger, "Revenue 2019-2024 grew.") == []


def test_regression_multi_word_entity_across_block_cut() -> None:
    small = EntityTagger(NOT_INSTALLED, terms=TERMS, block_chars=200)
    text = "word " * 38 + "Platform Reliability tail " + "word " * 38  # one paragraph
    assert [(e.label, e.text) for e in small.tag(text)] == [("TEAM", "Platform Reliability")]
