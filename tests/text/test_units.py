"""Answer units: sentences, list items and table rows with their column names; never a
heading or a header row; offsets into the passage kept."""

from __future__ import annotations

import pytest

from attest.text.units import UnitKind, answer_units, as_sentence, describe_row

pytestmark = pytest.mark.unit

PASSAGE = """# Hotels

Location | Maximum nightly rate
Domestic | $180
High-cost cities (list in Lantern) | $320

Rates include taxes but exclude breakfast. Book early, e.g. two weeks ahead.
- Flights of under 6 hours are booked in economy class.
1. Book at least 14 days in advance.

| Tool | Used for |
|------|----------|
| **Ledgerline** | expense claims |
"""


def test_units_are_sentences_items_and_rendered_rows_in_order() -> None:
    units = answer_units(PASSAGE)
    assert [(u.kind, u.text) for u in units] == [
        (UnitKind.ROW, "Location: Domestic; Maximum nightly rate: $180"),
        (UnitKind.ROW, "Location: High-cost cities (list in Lantern); Maximum nightly rate: $320"),
        (UnitKind.SENTENCE, "Rates include taxes but exclude breakfast."),
        (UnitKind.SENTENCE, "Book early, e.g. two weeks ahead."),
        (UnitKind.ITEM, "Flights of under 6 hours are booked in economy class."),
        (UnitKind.ITEM, "Book at least 14 days in advance."),
        (UnitKind.ROW, "Tool: Ledgerline; Used for: expense claims"),
    ]


def test_offsets_name_the_source_text() -> None:
    for unit in answer_units(PASSAGE):
        source = PASSAGE[unit.start : unit.end]
        if unit.kind is UnitKind.ROW:
            assert "|" in source and source.split("|")[-1].strip() in unit.text or source.endswith("|")
        else:
            assert " ".join(source.split()) == unit.text


def test_headings_header_rows_and_fragments_are_never_units() -> None:
    texts = [u.text for u in answer_units("# Parental Leave Policy\n\nTool | Owner\n\nSee below.\n")]
    assert texts == []


def test_a_table_of_one_row_is_a_header_and_gives_nothing() -> None:
    assert answer_units("Location | Maximum nightly rate\n") == []


def test_a_long_run_of_lines_without_end_punctuation_is_cut_at_its_line_breaks() -> None:
    """PDF text: headings and wrapped lines with no full stop between them."""
    lines = [f"Line {i} of a policy page about leave and the days it allows" for i in range(8)]
    units = answer_units("\n".join(lines))
    assert [u.text for u in units] == lines


def test_rows_written_a_block_apart_are_one_table() -> None:
    """The HTML and DOCX loaders write a block per row, so rows are a blank line apart; a
    line with another number of cells after a blank line starts a new table."""
    text = (
        "Location | Maximum nightly rate\n\nDomestic | $180\n\nInternational | $260\n\n"
        "Rates include taxes.\n\nTool | Owner | Since\n\nLedgerline | Finance | 2019\n"
    )
    units = answer_units(text)
    assert [(u.kind, u.text) for u in units] == [
        (UnitKind.ROW, "Location: Domestic; Maximum nightly rate: $180"),
        (UnitKind.ROW, "Location: International; Maximum nightly rate: $260"),
        (UnitKind.SENTENCE, "Rates include taxes."),
        (UnitKind.ROW, "Tool: Ledgerline; Owner: Finance; Since: 2019"),
    ]
    assert text[units[1].start : units[1].end] == "International | $260"


def test_a_unit_reads_as_a_sentence() -> None:
    assert as_sentence("Location: Domestic; Maximum nightly rate: $180") == (
        "Location: Domestic; Maximum nightly rate: $180."
    )
    assert as_sentence("Book at least 14 days in advance.") == "Book at least 14 days in advance."


def test_a_described_row_is_a_unit_without_its_header() -> None:
    """The loaders write rows with their column names, so a window of text that starts
    below a table's header still gives each row whole; a bare row after described ones
    heads the next table."""
    described = describe_row(["Location", "Rate", ""], ["Domestic", "", "note"])
    assert described == ["Location: Domestic", "", "note"]
    window = (
        "Location: Domestic | Maximum nightly rate: $180\n\n"
        "Location: International | Maximum nightly rate: $260\n\n"
        "Tool | Owner\n\nTool: Ledgerline | Owner: Finance team\n"
    )
    assert [u.text for u in answer_units(window)] == [
        "Location: Domestic; Maximum nightly rate: $180",
        "Location: International; Maximum nightly rate: $260",
        "Tool: Ledgerline; Owner: Finance team",
    ]


def test_headings_of_plain_text_and_pdf_pages_are_not_units() -> None:
    """Underlined headings (and their underlines) and title lines are left out, so a title
    does not run into the sentence after it; a line cut mid-sentence, a statement with a
    colon and lines of an address stay text."""
    text = (
        "Annual Leave\n============\n\n"
        "How much you get\n----------------\n"
        "Full-time employees receive 27 days of paid annual leave.\n"
        "Secondary caregiver leave\n"
        "The secondary caregiver may take 6 weeks of leave at full pay.\n"
        "Owner: People Team\n"
        "Submit your leave plan in\n"
        "Gullwing, including your intended start date.\n"
        "Kestrel Lane Analytics\n12 Harbour Street\nPort Alder\n"
    )
    assert [u.text for u in answer_units(text)] == [
        "Full-time employees receive 27 days of paid annual leave.",
        "The secondary caregiver may take 6 weeks of leave at full pay.",
        "Owner: People Team Submit your leave plan in Gullwing, including your intended start date.",
        "Kestrel Lane Analytics 12 Harbour Street Port Alder",
    ]


def test_a_list_item_ends_with_its_sentence_when_prose_follows_on_the_next_line() -> None:
    text = (
        "The caregiver may take:\n- 26 weeks at full pay; and\n- 26 weeks unpaid.\nLeave may start early.\n"
    )
    assert [(u.kind, u.text) for u in answer_units(text)] == [
        (UnitKind.SENTENCE, "The caregiver may take:"),
        (UnitKind.ITEM, "26 weeks at full pay; and"),
        (UnitKind.ITEM, "26 weeks unpaid."),
        (UnitKind.SENTENCE, "Leave may start early."),
    ]


def test_a_list_item_ends_at_a_blank_line_unless_the_next_line_is_indented() -> None:
    """The demo's contractor policy: the paragraph after the list was read as part of its
    last item, and quoted with it. An indented paragraph after a blank line continues it."""
    text = (
        "  4. The contractor signs the master services agreement and the\n"
        "     confidentiality agreement before their first day.\n\n"
        "The initial term of a contractor engagement is at most 6 months. It may be\nextended.\n\n"
        "- billing and invoicing code in Beacon\n\n"
        "At least one approver must be a code owner.\n\n"
        "- Laptops are replaced every 3 years.\n\n"
        "  A laptop that fails earlier is repaired at no cost.\n"
    )
    assert [(u.kind, u.text) for u in answer_units(text)] == [
        (UnitKind.ITEM, "The contractor signs the master services agreement and the "
         "confidentiality agreement before their first day."),
        (UnitKind.SENTENCE, "The initial term of a contractor engagement is at most 6 months."),
        (UnitKind.SENTENCE, "It may be extended."),
        (UnitKind.ITEM, "billing and invoicing code in Beacon"),
        (UnitKind.SENTENCE, "At least one approver must be a code owner."),
        (UnitKind.ITEM, "Laptops are replaced every 3 years. "
         "A laptop that fails earlier is repaired at no cost."),
    ]  # fmt: skip


def test_an_item_is_read_after_its_lists_lead_in() -> None:
    """An item alone often does not say what it is about ("26 weeks at full pay; and")."""
    text = (
        "# What you get\n\n- A personal budget of $1,500 a year.\n\n"
        "The primary caregiver may take:\n- 26 weeks at full pay; and\n- 26 weeks unpaid.\n"
    )
    units = answer_units(text)
    assert [u.read_as for u in units] == [
        "A personal budget of $1,500 a year.",  # a heading is not a lead-in
        "The primary caregiver may take:",
        "The primary caregiver may take: 26 weeks at full pay",
        "The primary caregiver may take: 26 weeks unpaid.",
    ]
    assert units[2].text == "26 weeks at full pay; and"  # the unit itself, as written
    assert text[units[2].start : units[2].end] == "26 weeks at full pay; and"
