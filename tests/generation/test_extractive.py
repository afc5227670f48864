"""The extractive backend: the passages' answer units that the reader model finds answer the
question, cited; never a heading or a table header; nothing when no unit answers."""

from __future__ import annotations

import pytest

from attest.generation.citations import validate
from attest.generation.extractive import ExtractiveGenerator
from attest.generation.prompts import NOT_FOUND
from attest.retrieval.context import Context, build_context
from attest.text.embedder import SentenceTransformerEmbedder
from attest.verify.checker import FactChecker
from tests.conftest import extractive as make_extractive
from tests.doubles import chunk_record, hit

pytestmark = pytest.mark.integration

LEAVE = "How many days of annual leave do full-time employees get?"


def context_of(*texts: str) -> Context:
    """One passage per text, numbered in order."""
    hits = [
        hit(chunk_record(n, n, text, source_uri=f"{n}.txt"), 1.0 - n / 10)
        for n, text in enumerate(texts, start=1)
    ]
    return build_context(hits, 10_000, lambda s: len(s.split()))


@pytest.fixture
def extractive(embedder: SentenceTransformerEmbedder) -> ExtractiveGenerator:
    return make_extractive(embedder)


def test_the_answer_is_the_sentence_that_answers_not_the_heading(extractive: ExtractiveGenerator) -> None:
    context = context_of(
        "# Annual leave\n\nManagers should respond to leave requests within 3 working days. Full-time "
        "employees receive 27 days of annual leave each year. The office kitchen is cleaned on Fridays."
    )
    answer = extractive.answer(context, LEAVE)
    assert "27 days" in answer and "# Annual leave" not in answer and "kitchen" not in answer
    assert answer.endswith("[1]")


def test_a_table_question_gets_the_row_with_its_column_names(extractive: ExtractiveGenerator) -> None:
    context = context_of(
        "# Hotels\n\nLocation | Maximum nightly rate\nDomestic | $180\nInternational | $260\n"
        "High-cost cities | $320\n\nRates include taxes but exclude breakfast."
    )
    answer = extractive.answer(context, "What is the maximum nightly hotel rate for international travel?")
    assert "Location: International; Maximum nightly rate: $260" in answer
    assert "Location | Maximum nightly rate" not in answer


def test_a_row_of_an_html_table_is_answered_and_verified(
    extractive: ExtractiveGenerator, embedder: SentenceTransformerEmbedder
) -> None:
    """The HTML loader writes each row as a block of its own; the answer quotes the row with
    its column names, as a sentence, and the checker finds it in the passage's table."""
    table = (
        "## Hotels\n\nLocation | Maximum nightly rate\n\nDomestic | $180\n\nInternational | $260\n\n"
        "High-cost cities | $320\n\nRates include taxes but exclude breakfast."
    )
    question = "What is the maximum nightly hotel rate for international travel?"
    answer = extractive.answer(context_of(table), question)
    assert "Location: International; Maximum nightly rate: $260. [1]" in answer
    verdict = FactChecker(embedder).check(answer, [(1, table)], question)
    assert verdict.unsupported == 0 and verdict.wrong_citations == 0, verdict.to_dict()
    row = next(c.evidence for c in verdict.claims if "International" in c.claim.text)
    assert row is not None and table[row.start : row.end] == "International | $260"


def test_a_two_part_question_gets_both_parts_in_passage_order(extractive: ExtractiveGenerator) -> None:
    """For "how long is parental leave?" the reader scores the request sentence (it names a
    time too) above the 26 weeks; the second part still gets a unit of its own."""
    context = context_of(
        "Parental leave is requested in the HR portal at least eight weeks before the expected due date. "
        "The office is closed on public holidays.",
        "Birth parents receive 26 weeks of paid parental leave; other parents receive 12 weeks.",
    )
    answer = extractive.answer(context, "How do I request parental leave and how long is it?")
    assert "HR portal" in answer and "26 weeks" in answer
    assert answer.index("[1]") < answer.index("[2]")


def test_passages_that_do_not_answer_give_no_answer(extractive: ExtractiveGenerator) -> None:
    context = context_of(
        "The office kitchen is cleaned every Friday afternoon by the facilities team.",
        "Visitors sign in at the front desk and wear a badge at all times.",
    )
    assert extractive.answer(context, LEAVE) == NOT_FOUND


def test_a_bracketed_number_in_a_copied_sentence_is_not_a_citation(extractive: ExtractiveGenerator) -> None:
    """The leave sentence carries the document's own footnote ``[2]``; passage 2 is about travel."""
    context = context_of(
        "Full-time employees receive 27 days of annual leave each year [2]. The office kitchen is cleaned "
        "on Fridays by the facilities team.",
        "Travel is booked through the travel portal. Economy class is the default for short flights.",
    )
    answer = extractive.answer(context, LEAVE)
    checked = validate(answer, context)
    assert "27 days of annual leave each year [2]. [1]" in checked.text.replace("\u2060", "")
    assert (checked.cited_passages, checked.invalid_citations) == ((1,), ())
    alone = context_of(context.passages[0].text)  # no passage 2: the footnote is not made up either
    checked = validate(extractive.answer(alone, LEAVE), alone)
    assert checked.invalid_citations == () and "each year [\u20602]." in checked.text


def test_list_items_are_quoted_with_their_lead_in_once(extractive: ExtractiveGenerator) -> None:
    """The demo's meal allowances: "Domestic travel: up to $55 per day." alone does not say
    that it is a meal allowance; the reader reads each item after the lead-in, and the
    answer says the lead-in once, before the first item it quotes."""
    context = context_of(
        "When you travel overnight on company business you can claim actual meal costs up to a daily "
        "allowance:\n\n- Domestic travel: up to $55 per day.\n\n"
        "- International travel: up to $85 per day.\n\nAlcohol is not reimbursed."
    )
    answer = extractive.answer(context, "What is the daily meal allowance when travelling abroad?")
    assert "International travel: up to $85 per day. [1]" in answer
    assert answer.count("When you travel overnight") == 1
    assert answer.startswith("When you travel overnight on company business you can claim actual meal costs")


def test_an_item_quoted_with_its_lead_in_is_found_in_its_list(
    extractive: ExtractiveGenerator, embedder: SentenceTransformerEmbedder
) -> None:
    """The checker reads each item after its lead-in, as the answer quotes it, so a claim's
    evidence is the item it quotes and the source card highlights that item."""
    text = (
        "The primary caregiver may take:\n- 26 weeks of leave at full pay; and\n"
        "- Unpaid leave of up to a further 26 weeks.\nLeave may start early."
    )
    question = "How much parental leave at full pay does a primary caregiver get?"
    answer = extractive.answer(context_of(text), question)
    assert answer.startswith("The primary caregiver may take: 26 weeks of leave at full pay. [1]")
    verdict = FactChecker(embedder).check(answer, [(1, text)], question)
    assert verdict.unsupported == 0, verdict.to_dict()
    item = verdict.claims[0].evidence
    assert item is not None and text[item.start : item.end] == "26 weeks of leave at full pay; and"
