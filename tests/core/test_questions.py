"""The same question, whatever its case, spacing or final punctuation."""

from __future__ import annotations

import pytest

from attest.core.questions import question_key

pytestmark = pytest.mark.unit


def test_case_spacing_and_final_punctuation_do_not_count() -> None:
    assert question_key(" How many  days?? ") == question_key("how many days") == "how many days"
    assert question_key("How many days off?") != question_key("How many days?")
