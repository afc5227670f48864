"""Citation checking on a real context built from windows sliced out of known documents."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest.generation.citations import parse_citations, quote, sentence_spans, validate
from attest.retrieval.context import Context, build_context
from attest.retrieval.hybrid import RetrievedChunk
from tests.doubles import chunk_record
from tests.doubles import hit as make_hit

pytestmark = pytest.mark.unit

LEAVE = (
    "Annual leave is 25 days per year for full-time staff. Part-time staff receive leave in "
    "proportion to their hours. Unused leave of up to 5 days may be carried into the next year. "
    "Carried-over days expire on 31 March. Parental leave is 16 weeks at full pay. Requests for "
    "parental leave go to HR at least 8 weeks in advance."
)
TRAVEL = (
    "Travel is booked through the travel portal. Economy class is the default for flights under "
    "six hours. Hotel costs are reimbursed up to the city limit."
)
FOOTNOTED = LEAVE.replace("for full-time staff.", "for full-time staff [2].")  # the document's own footnote
DOCUMENTS = {1: LEAVE, 2: TRAVEL, 3: FOOTNOTED}


def between(doc: str, first: str, last: str) -> tuple[int, int]:
    """The character range of ``doc`` from the start of ``first`` to the end of ``last``."""
    start = doc.index(first)
    return start, doc.index(last, start) + len(last)


def hit(
    document_id: int, position: int, span: tuple[int, int], score: float, page: int | None = None
) -> RetrievedChunk:
    start, end = span
    record = chunk_record(
        document_id * 100 + position,
        document_id,
        DOCUMENTS[document_id][start:end],
        position=position,
        char_start=start,
        char_end=end,
        page=page,
        title={1: "Leave policy", 2: "Travel policy", 3: "Leave policy"}[document_id],
        source_uri=f"file:///kb/{document_id}.txt",
    )
    return make_hit(record, score)


def build(hits: Sequence[RetrievedChunk]) -> Context:
    return build_context(hits, 10_000, lambda s: len(s.split()))


@pytest.fixture
def context() -> Context:
    """[1] two overlapping leave windows, merged, not at 0; [2] the travel document; [3] leave's start."""
    context = build(
        [
            hit(1, 2, between(LEAVE, "Unused", "31 March."), 0.9, page=2),
            hit(1, 3, between(LEAVE, "Carried-over", "full pay."), 0.7, page=2),
            hit(2, 0, (0, len(TRAVEL)), 0.8),
            hit(1, 0, between(LEAVE, "Annual", "hours."), 0.5, page=1),
        ]
    )
    first, second, third = context.passages
    assert (first.document_id, first.char_start, len(first.chunk_ids)) == (1, LEAVE.index("Unused"), 2)
    assert (second.document_id, third.document_id, third.char_start) == (2, 1, 0)
    return context


# --- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mark", "numbers"),
    [
        ("[2]", (2,)),
        ("[1, 3]", (1, 3)),
        ("[1,3]", (1, 3)),
        ("[ 4 ]", (4,)),
        ("[1-3]", (1, 2, 3)),
        ("[3–1]", (1, 2, 3)),
        ("[Source 2]", (2,)),
        ("[source 2]", (2,)),
        ("[SOURCES: 1; 3]", (1, 3)),
        ("[2, 2, 1]", (2, 1)),
        ("[1-100]", tuple(range(1, 21))),
    ],
)
def test_each_mark_format_is_parsed_with_its_span(mark: str, numbers: tuple[int, ...]) -> None:
    answer = f"Leave is 25 days {mark}."
    [parsed] = parse_citations(answer)
    assert parsed.numbers == numbers
    assert answer[parsed.start : parsed.end] == mark


def test_adjacent_marks_are_separate_marks() -> None:
    answer = "Leave is 25 days [1][2]."
    assert [(m.numbers, answer[m.start : m.end]) for m in parse_citations(answer)] == [
        ((1,), "[1]"),
        ((2,), "[2]"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "[note]",
        "[a]",
        "[text](https://x.org)",
        "[2](https://x.org)",
        "[1.5]",
        "[]",
        "[-1]",
        "[1, a]",
        "[12345678901]",
    ],
)
def test_other_brackets_are_not_citations(text: str) -> None:
    assert parse_citations(f"See {text} for more.") == []


# --- invalid citations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "cleaned", "invalid"),
    [
        ("Leave is 25 days [2, 9].", "Leave is 25 days [2].", (9,)),
        ("Leave is 25 days [9].", "Leave is 25 days.", (9,)),
        ("Leave is 25 days [9] per year [1].", "Leave is 25 days per year [1].", (9,)),
        ("[7] Leave is 25 days.", "Leave is 25 days.", (7,)),
        ("Leave is 25 days. [4][1] It expires [0].", "Leave is 25 days. [1] It expires.", (0, 4)),
        ("Leave is 25 days ([8]).", "Leave is 25 days.", (8,)),
        ("Leave [2-5] is 25 days [Source 6].", "Leave [2, 3] is 25 days.", (4, 5, 6)),
        ("Leave is 25 days [9]\nIt expires [1].", "Leave is 25 days\nIt expires [1].", (9,)),
        ("Leave [5] [5, 9] is 25 days [1, 3].", "Leave is 25 days [1, 3].", (5, 9)),
        ("Removing [9] must not make [7 [9] ] a mark.", "Removing must not make a mark.", (7, 9)),
    ],
)
def test_invalid_numbers_are_removed_and_reported(
    context: Context, answer: str, cleaned: str, invalid: tuple[int, ...]
) -> None:
    checked = validate(answer, context)
    assert checked.text == cleaned
    assert checked.invalid_citations == invalid
    assert "  " not in checked.text and " ." not in checked.text


def test_valid_marks_are_kept_as_written(context: Context) -> None:
    answer = "Leave is 25 days [Source 3]. Hotels are capped [1-2]."
    checked = validate(answer, context)
    assert checked.text == answer
    assert (checked.invalid_citations, checked.cited_passages) == ((), (1, 2, 3))


def test_an_empty_context_makes_every_citation_invalid() -> None:
    checked = validate("Leave is 25 days [1].", build([]))
    assert (checked.text, checked.invalid_citations, checked.cited_passages) == (
        "Leave is 25 days.",
        (1,),
        (),
    )
    assert checked.sentences[0].support is None


# --- support spans -----------------------------------------------------------------------


def test_a_cited_sentence_maps_to_the_source_sentence_in_the_document(context: Context) -> None:
    checked = validate("Up to 5 unused days can be moved into the next year [1].", context)
    [sentence] = checked.sentences
    support = sentence.support
    assert support is not None
    assert (support.number, support.document_id, support.title, support.page) == (1, 1, "Leave policy", 2)
    assert support.quote == "Unused leave of up to 5 days may be carried into the next year."
    assert LEAVE[support.char_start : support.char_end] == support.quote
    assert support.char_start == LEAVE.index("Unused")
    assert support.score == pytest.approx(6 / 7)  # up, 5, unused, days, next, year; not "moved"


def test_a_span_from_the_second_merged_window_has_document_offsets(context: Context) -> None:
    support = validate("Parental leave is 16 weeks at full pay [1].", context).sentences[0].support
    assert support is not None
    assert support.quote == "Parental leave is 16 weeks at full pay."
    assert LEAVE[support.char_start : support.char_end] == support.quote
    assert support.score == 1.0


def test_only_the_cited_passages_are_searched(context: Context) -> None:
    # The sentence is in passage 1, but it cites the travel passage, which shares nothing with it.
    checked = validate("Parental leave is 16 weeks at full pay [2].", context)
    assert checked.sentences[0].cited == (2,)
    assert checked.sentences[0].support is None


def test_an_uncited_sentence_is_looked_for_in_all_passages(context: Context) -> None:
    checked = validate("Full-time staff get 25 days of annual leave per year.", context)
    support = checked.sentences[0].support
    assert support is not None
    assert (support.number, support.char_start) == (3, 0)
    assert LEAVE[support.char_start : support.char_end] == support.quote
    assert checked.uncited_sentences == 1
    assert checked.cited_passages == ()


def test_low_overlap_gives_no_support(context: Context) -> None:
    checked = validate("The cafeteria serves lunch at noon [1].", context)
    assert checked.sentences[0].support is None


def test_min_support_is_the_threshold(context: Context) -> None:
    answer = "Economy class applies to trains and buses [2]."  # 2 of 5 content words: economy, class
    support = validate(answer, context, min_support=0.4).sentences[0].support
    assert support is not None and support.score == pytest.approx(0.4)
    assert validate(answer, context, min_support=0.41).sentences[0].support is None
    with pytest.raises(ValueError, match="min_support"):
        validate(answer, context, min_support=1.5)


# --- sentences ----------------------------------------------------------------------------


def test_abbreviations_and_decimals_do_not_end_a_sentence() -> None:
    text = "Staff get 2.5 days, i.e. Friday and e.g. Monday. Dr. Smith approves form No. 5 first. It is done."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Staff get 2.5 days, i.e. Friday and e.g. Monday.",
        "Dr. Smith approves form No. 5 first.",
        "It is done.",
    ]


def test_sentences_end_at_question_marks_quotes_blank_lines_and_list_items() -> None:
    text = 'Is it paid? "Yes," said HR. Fine!\n\nSee below:\n- first item\n- second item'
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Is it paid?",
        '"Yes," said HR.',
        "Fine!",
        "See below:",
        "- first item",
        "- second item",
    ]


def test_a_citation_after_the_period_stays_with_its_sentence(context: Context) -> None:
    answer = "Carried-over days expire on 31 March. [1] Hotel costs are reimbursed up to the city limit. [2]"
    checked = validate(answer, context)
    first, second = checked.sentences
    assert first.text == "Carried-over days expire on 31 March. [1]"
    assert (first.cited, second.cited) == ((1,), (2,))
    assert answer[second.char_start : second.char_end] == second.text
    assert second.text == "Hotel costs are reimbursed up to the city limit. [2]"
    assert first.support is not None and first.support.quote == "Carried-over days expire on 31 March."
    assert second.support is not None and second.support.number == 2
    assert TRAVEL[second.support.char_start : second.support.char_end] == second.support.quote
    assert checked.uncited_sentences == 0


@pytest.mark.parametrize("answer", ["", "   \n "])
def test_an_empty_answer_has_nothing(context: Context, answer: str) -> None:
    checked = validate(answer, context)
    assert (checked.sentences, checked.invalid_citations, checked.cited_passages) == ((), (), ())
    assert (checked.uncited_sentences, checked.cited()) == (0, ())


def test_sentences_without_content_words_are_not_counted_as_uncited(context: Context) -> None:
    checked = validate("It is. Hotel costs are capped at the city limit.", context)
    assert len(checked.sentences) == 2 and checked.sentences[0].support is None
    assert checked.uncited_sentences == 1


# --- output -------------------------------------------------------------------------------


def test_each_cited_passage_is_named_once_and_sentences_are_json(context: Context) -> None:
    checked = validate("Leave carries over [1, 9]. Hotels are capped [2]. It expires [1].", context)
    assert checked.cited() == tuple(context.passages[:2])
    sentences = json.loads(json.dumps([s.to_dict() for s in checked.sentences]))
    assert [s["cited"] for s in sentences] == [[1], [2], [1]]


# --- property ---------------------------------------------------------------------------------

_PIECES = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["[", "]", "(", ")", ", ", "-", ". ", "\n\n", " ", "Source ", "e.g. ", "3.5"]),
    st.integers(min_value=0, max_value=12).map(str),
    st.integers(min_value=0, max_value=12).map(lambda n: f"[{n}]"),
    st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=3).map(
        lambda ns: "[" + ", ".join(map(str, ns)) + "]"
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_validate_never_raises_and_leaves_no_invalid_citation(answer: str) -> None:
    context = build(
        [hit(1, 0, between(LEAVE, "Annual", "next year."), 0.9), hit(2, 0, (0, len(TRAVEL)), 0.8)]
    )
    checked = validate(answer, context)
    assert all(set(m.numbers) <= {1, 2} for m in parse_citations(checked.text))
    assert checked.invalid_citations == tuple(sorted(set(checked.invalid_citations)))
    assert not set(checked.invalid_citations) & {1, 2}
    for sentence in checked.sentences:
        assert checked.text[sentence.char_start : sentence.char_end] == sentence.text
        if sentence.support is not None:
            document = DOCUMENTS[sentence.support.document_id]
            assert document[sentence.support.char_start : sentence.support.char_end] == sentence.support.quote


# --- bracketed numbers in quoted source text ---------------------------------------------


FOOTNOTED = "Hotel costs are reimbursed up to the city limit [2]. Economy class is the default [1, 3]."


def test_quoted_source_text_holds_no_citation_and_reads_the_same() -> None:
    quoted = quote(FOOTNOTED)
    assert parse_citations(FOOTNOTED) != [] and parse_citations(quoted) == []
    assert quoted.replace("\u2060", "") == FOOTNOTED  # the word joiner is invisible
    assert quote("See [text](https://x.org) and [note].") == "See [text](https://x.org) and [note]."


def test_a_number_in_a_quoted_sentence_is_text_and_only_the_placed_mark_cites(context: Context) -> None:
    source = "Hotel costs are reimbursed up to the city limit [2]."
    checked = validate(f"{quote(source)} [1]", context)
    assert (checked.cited_passages, checked.invalid_citations) == ((1,), ())
    assert checked.text.replace("\u2060", "") == f"{source} [1]"  # the quote kept its "[2]"
    [sentence] = checked.sentences
    assert sentence.cited == (1,)
    checked = validate(f"{quote('Carried-over days expire on 31 March [9].')} [1]", context)
    assert checked.invalid_citations == () and "[\u20609]" in checked.text  # not removed as made up


def test_a_quote_has_the_words_of_its_source_sentence() -> None:
    document = "Carried-over days expire on 31 March [4]. Parental leave is 16 weeks at full pay."
    one = make_hit(chunk_record(1, 7, document, title="Leave", source_uri="leave.txt"))
    checked = validate(f"{quote('Carried-over days expire on 31 March [4].')} [1]", build([one]))
    support = checked.sentences[0].support
    assert support is not None and support.quote == "Carried-over days expire on 31 March [4]."
    assert support.score == 1.0


@pytest.mark.unit
def test_a_sources_own_mark_copied_without_its_quoting_stays_text() -> None:
    """A model may drop the invisible word joiner that :func:`quote` put in a source's ``[2]``."""
    context = build_context(
        [hit(3, 0, (0, len(FOOTNOTED)), 0.9), hit(2, 0, (0, len(TRAVEL)), 0.8)],
        10_000,
        lambda t: len(t.split()),
    )
    answer = "Annual leave is 25 days per year for full-time staff [2]. [1]"
    checked = validate(answer, context)
    assert checked.cited_passages == (1,) and checked.invalid_citations == ()
    assert "full-time staff [\u20602]." in checked.text
    own = validate("Travel is booked through the portal [2].", context)  # the model's own citation stays one
    assert own.cited_passages == (2,)


def test_a_list_item_quoted_after_its_lead_in_rests_on_the_item() -> None:
    """The lead-in alone shares more words with such a sentence than the item does; the
    item read with its lead-in shares them all, so the source card highlights the item."""
    text = (
        "When you travel you can claim meal costs up to a daily allowance:\n\n"
        "- Domestic travel: up to $55 per day.\n\n- International travel: up to $85 per day.\n"
    )
    passage = build_context([make_hit(chunk_record(1, 1, text), 1.0)], 10_000, lambda s: len(s.split()))
    answer = (
        "When you travel you can claim meal costs up to a daily allowance: Domestic travel: up to $55 "
        "per day. [1]"
    )
    support = validate(answer, passage).sentences[0].support
    assert support is not None and support.quote == "Domestic travel: up to $55 per day."
    assert text[support.char_start : support.char_end] == support.quote
