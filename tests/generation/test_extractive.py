"""The extractive backend: it embeds a lexical shortlist of sentences and answers from it."""

from __future__ import annotations

import pytest

from attest.generation.extractive import MAX_EMBEDDED, _shortlist

pytestmark = pytest.mark.unit


def test_the_shortlist_keeps_the_sentences_that_share_words_with_the_question_in_order() -> None:
    filler = [(1, f"Filler sentence number {i} about the office kitchen rota.") for i in range(40)]
    answer = (2, "Full-time employees receive 27 days of annual leave each year.")
    also = (3, "Annual leave requests go through the HR portal.")
    candidates = [*filler[:20], answer, *filler[20:], also]
    kept = _shortlist(candidates, "How many days of annual leave do full-time employees get?")
    assert len(kept) == MAX_EMBEDDED and answer in kept and also in kept
    assert kept == [c for c in candidates if c in kept]  # passage order is kept


def test_short_lists_are_left_alone() -> None:
    candidates = [(1, "One sentence here."), (2, "Another sentence there.")]
    assert _shortlist(candidates, "anything?") == candidates
