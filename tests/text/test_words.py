"""Words of a text: abbreviations spelled out as the documents spell them."""

from __future__ import annotations

import pytest

from attest.text.words import spell_out

pytestmark = pytest.mark.unit

TEXTS = [
    "Name: Maren Holloway; Role: Chief Executive Officer and co-founder",
    "Owner: Office of the CEO.",
    "Sign in with Single Sign-On every day. The Head of People Operations approves.",
    "The Chief Executive Officer chairs it. A Central Engineering Office exists.",
]


def test_an_abbreviation_is_replaced_by_its_most_frequent_spelling_in_the_texts() -> None:
    assert spell_out("Who is the CEO of Kestrel Lane?", TEXTS) == (
        "Who is the Chief Executive Officer of Kestrel Lane?"
    )
    assert spell_out("How long must my SSO password be?", TEXTS) == (
        "How long must my Single Sign-On password be?"  # a hyphen joins words
    )
    assert spell_out("Who is the HPO?", TEXTS) == "Who is the Head of People Operations?"  # "of" skipped


def test_an_abbreviation_the_texts_do_not_spell_out_stays() -> None:
    assert spell_out("Who is the CFO?", TEXTS) == "Who is the CFO?"
    assert spell_out("What is the probation period?", TEXTS) == "What is the probation period?"
    assert spell_out("Who is the CEO?", []) == "Who is the CEO?"
