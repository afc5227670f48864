"""SQuAD answer metrics against hand-computed values, and the ``attest eval qa`` report shape."""

from __future__ import annotations

import json

import pytest

from attest.generation.evaluation import (
    Outcome,
    SquadQuestion,
    contains_gold,
    exact_match,
    f1,
    normalize_answer,
    report,
    sample,
    squad_questions,
)

pytestmark = pytest.mark.unit


def test_official_normalisation() -> None:
    assert normalize_answer("The  Cat, sat!") == "cat sat"
    assert normalize_answer("an apple a day") == "apple day"
    assert normalize_answer("Theory of the Case") == "theory of case"  # 'the' only as a word
    assert normalize_answer("In 1066 [2], then [1, 3].") == "in 1066 then"  # citations are not answer text


def test_exact_match_and_f1_by_hand() -> None:
    assert exact_match("the Normans", ["Normans", "Norsemen"]) == 1.0
    assert exact_match("Normans came", ["Normans"]) == 0.0
    # "cat sat" against "cat sat on mat": 2 common tokens, P = 1, R = 0.5, F1 = 2/3
    assert f1("the cat sat", ["a cat sat on the mat"]) == pytest.approx(2 / 3)
    # best over golds: against "sat" P = 1/2, R = 1, F1 = 2/3; against "dog" 0
    assert f1("cat sat", ["dog", "sat"]) == pytest.approx(2 / 3)
    assert f1("nothing shared", ["gold"]) == 0.0


def test_contains_gold_matches_whole_words_only() -> None:
    assert contains_gold("They arrived in the 10th century [1].", ["10th century"])
    assert not contains_gold("In 1910 they left.", ["10"])
    assert not contains_gold("anything", [""])


SQUAD = {
    "data": [
        {
            "title": "T",
            "paragraphs": [
                {
                    "context": "c0",
                    "qas": [
                        {"id": "a", "question": "qa?", "answers": [{"text": "x"}, {"text": "x"}]},
                        {"id": "b", "question": "qb?", "answers": [], "is_impossible": True},
                    ],
                },
                {"context": "c1", "qas": [{"id": "c", "question": "qc?", "answers": [{"text": "y z"}]}]},
            ],
        }
    ]
}


def test_questions_and_fixed_sample() -> None:
    questions = squad_questions(SQUAD)
    assert [(q.id, q.answers, q.paragraph_id, q.answerable) for q in questions] == [
        ("a", ("x",), "0-0", True),
        ("b", (), "0-0", False),
        ("c", ("y z",), "0-1", True),
    ]
    assert sample(questions, 2) == sample(questions, 2) and len(sample(questions, 2)) == 2
    assert sorted(q.id for q in sample(questions, None)) == ["a", "b", "c"]


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
