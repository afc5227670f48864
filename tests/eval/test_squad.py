"""The ``attest eval qa`` report, by hand."""

from __future__ import annotations

import json

import pytest

from attest.eval.datasets import SquadQuestion, squad_questions
from attest.eval.squad import Outcome, report
from tests.eval.test_datasets import SMALL_SQUAD

pytestmark = pytest.mark.unit

SQUAD = SMALL_SQUAD  # two paragraphs, three questions (one unanswerable)


def test_report_by_hand() -> None:
    a, b, c = squad_questions(SQUAD)
    outcomes = [
        Outcome(a, "It is x [1].", True, ("text with x", "no"), {"retrieve": 10.0, "generate": 30.0}),
        Outcome(b, "declined", False, (), {"retrieve": 20.0}),
        Outcome(c, "y z", True, ("y z here",), {"retrieve": 30.0, "generate": 50.0}),
    ]
    result = report(outcomes)
    assert result["answerable"] == {
        "n": 2,
        "exact_match": 0.5,  # "it is x" != "x"; "y z" == "y z"
        # "it is x" (citation marks removed) against "x": P = 1/3, R = 1, F1 = 0.5; then 1.0
        "f1": 0.75,
        "contains_gold": 1.0,
        "answered": 1.0,
    }
    assert result["unanswerable"] == {"n": 1, "declined": 1.0}
    assert result["citation_precision"] == round(2 / 3, 4)  # 2 of 3 cited passages hold a gold answer
    assert result["latency_ms"]["retrieve"]["p50"] == 20.0
    assert result["latency_ms"]["total"]["p50"] == 40.0  # totals 40, 20, 80
    json.dumps(result)
    assert report([])["latency_ms"] == {}
    unanswered = Outcome(SquadQuestion("d", "q?", ("x",), "0-0"), "x", False, (), {})
    assert report([unanswered])["answerable"]["exact_match"] == 0.0  # a declined answer scores 0
