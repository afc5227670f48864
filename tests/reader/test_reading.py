"""Reading passages: the shortlist, the answer model's file, the choice of units and the kept
scores. A scripted scorer stands in for the reader here: these tests are about the code around
it (the model itself is tested in test_model.py and end to end in test_demo_questions.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from attest.core.errors import ConfigurationError
from attest.generation.extractive import ExtractiveGenerator
from attest.generation.prompts import NOT_FOUND
from attest.reader.features import FEATURES
from attest.reader.reading import (
    CALIBRATION,
    AnswerModel,
    PassageReader,
    question_parts,
    shipped_answer_model,
    shortlist,
    subject_of,
)
from attest.retrieval.context import Context
from attest.retrieval.context import Passage as ContextPassage

pytestmark = pytest.mark.unit


class Scripted:
    """Gives each text the logit of the first keyword it contains."""

    def __init__(self, logits: dict[str, float]) -> None:
        self.table = logits
        self.calls = 0

    def logits(self, question: str, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.asarray([next((v for k, v in self.table.items() if k in t), -5.0) for t in texts])


class ByQuestion:
    """Gives each text the logit of the first keyword it contains, from the question's own table."""

    def __init__(self, tables: dict[str, dict[str, float]]) -> None:
        self.tables = tables

    def logits(self, question: str, texts: Sequence[str]) -> np.ndarray:
        return Scripted(self.tables[question]).logits(question, texts)


@dataclass
class Passage:
    number: int
    text: str
    title: str


class Flat:
    """Embeds every text as the same unit vector: similarity carries no information here."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.ones((len(texts), 4)) / 2.0


def reader_only(**thresholds: float) -> AnswerModel:
    """An answer model that is the reader's probability alone."""
    n = len(FEATURES)
    coef = tuple(1.0 if name == "reader" else 0.0 for name in FEATURES)
    values = {"decline": 0.5, "answer": 0.5, "relevant": 0.5} | thresholds
    return AnswerModel((0.0,) * n, (1.0,) * n, coef, 0.0, **values)


PASSAGES = [
    (1, "Requests go through the HR portal at least eight weeks ahead. The kitchen is cleaned on Fridays."),
    (2, "# Parental leave\n\nBirth parents receive 26 weeks of paid leave. Other parents receive 12 weeks."),
]


def test_the_best_unit_and_those_above_the_threshold_are_chosen_in_passage_order() -> None:
    scorer = Scripted({"26 weeks": 3.0, "HR portal": 1.0, "12 weeks": -1.0})
    reading = PassageReader(scorer, Flat(), reader_only()).read(
        "How do I request parental leave and how long is it?", PASSAGES
    )
    chosen = reading.answer(threshold=0.5, cap=3)
    assert [c.unit.text for c in chosen] == [
        "Requests go through the HR portal at least eight weeks ahead.",
        "Birth parents receive 26 weeks of paid leave.",
    ]
    assert reading.best == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert "# Parental leave" not in {c.unit.text for c in reading.candidates}
    assert [c.unit.text for c in reading.answer(threshold=0.99, cap=3)] == [chosen[1].unit.text]
    # The relative bar: "HR portal" (0.73) is under 0.8 x the best (0.95 x 0.8 = 0.76), and
    # "12 weeks" (0.27) is over a low absolute threshold but under half the best.
    assert reading.answer(threshold=0.2, cap=3, relative=0.8) == [chosen[1]]
    assert reading.answer(threshold=0.2, cap=3, relative=0.5) == chosen
    assert len(reading.answer(threshold=0.2, cap=3)) == 3


def test_the_passages_do_not_answer_when_the_model_or_the_reader_itself_doubts_every_unit() -> None:
    # the answer model here adds 2 to the reader's logit: it can trust a unit the reader doubts
    n = len(FEATURES)
    coef = tuple(1.0 if name == "reader" else 0.0 for name in FEATURES)
    lifted = AnswerModel((0.0,) * n, (1.0,) * n, coef, 2.0, decline=0.5, answer=0.5, relevant=0.5)
    reading = PassageReader(Scripted({"26 weeks": -1.0}), Flat(), lifted).read("How long?", PASSAGES)
    assert reading.best > 0.7 and reading.best_reader == pytest.approx(1 / (1 + np.exp(1.0)))  # 0.27
    assert not lifted.declines(reading)
    assert replace(lifted, decline_reader=0.3).declines(reading)  # the reader alone doubts it
    assert not replace(lifted, decline_reader=0.2).declines(reading)
    assert replace(lifted, decline=0.9).declines(reading)
    assert not replace(lifted, decline=0.9, decline_reader=0.3).ungated().declines(reading)
    assert lifted.declines(PassageReader(Scripted({}), Flat(), lifted).read("How long?", []))  # nothing read


def test_questions_are_cut_into_parts_only_where_a_second_question_begins() -> None:
    two = question_parts(
        "How big is the home office allowance, and how much is the monthly internet allowance?"
    )
    assert two == ["How big is the home office allowance", "how much is the monthly internet allowance?"]
    assert len(question_parts("Can a packet be sent empty?  If so, is it billable?")) == 2
    for one in (
        "What is the probation period?",
        # a question that does not open with a question word is one question
        "Ctenophores, cnidarians and what other group are labelled diploblastic?",
        "What two resources are consumed by alternate models and are known to vary?",
    ):
        assert question_parts(one) == [one]


def test_a_part_that_says_it_asks_about_what_the_part_before_it_asked_about() -> None:
    assert question_parts("How do I request parental leave and how long is it?") == [
        "How do I request parental leave",
        "how long is parental leave?",
    ]
    # a part of stop words alone ("who is it for?") is a part once "it" is replaced
    assert (
        question_parts("How does the leave policy work and who is it for?")[1] == "who is leave policy for?"
    )
    assert question_parts("What is the password policy and who do I ask in IT?")[1] == (
        "who do I ask in IT?"  # IT, the department, is not "it"
    )
    assert subject_of("What is the password policy?") == "password policy"
    assert subject_of("Who approves travel requests") == "travel requests"
    assert subject_of("How much is the internet allowance") == "internet allowance"
    assert subject_of("Can a packet be sent empty?") == "packet"
    assert subject_of("Why?") == ""


def test_each_part_of_a_question_gets_a_unit_that_may_answer_it() -> None:
    """The best unit answers the first part; the second part, read as a question of its own,
    gets its own best unit that the first part did not take, when that unit reaches the floor
    (the decline threshold) for it, even if the first part's unit scores higher for it."""
    passages = [
        (1, "A one-off home office allowance of $600 for a desk, chair or lighting. "
            "An internet allowance of $40 per month, paid through payroll. "
            "A wellbeing allowance of $50 per month for a gym."),
    ]  # fmt: skip
    question = "How big is the home office allowance, and how much is the monthly internet allowance?"
    first, second = question_parts(question)
    scorer = ByQuestion(
        {
            question: {"home office": 2.0, "internet": -1.0, "wellbeing": -4.0},
            first: {"home office": 2.0},
            second: {"internet": 0.0, "home office": -3.0},  # 0.5 and 0.05
        }
    )
    reader = PassageReader(scorer, Flat(), reader_only())
    reading, parts = reader.read(question, passages), [reader.read(q, passages) for q in (first, second)]
    assert [c.unit.text[:22] for c in reading.answer(0.5, 3)] == ["A one-off home office "]
    assert [c.unit.text[:22] for c in reading.answer(0.5, 3, parts, floor=0.2)] == [
        "A one-off home office ",
        "An internet allowance ",
    ]
    assert len(reading.answer(0.5, 3, parts, floor=0.6)) == 1  # the part's best is below the floor
    assert len(reading.answer(0.5, 1, parts, floor=0.2)) == 1  # the cap holds
    scorer.tables[second] = {"home office": 2.0, "internet": -1.0}  # 0.88 and 0.27 for the second part
    fresh = PassageReader(scorer, Flat(), reader_only())  # the first one keeps its readings
    both = [fresh.read(q, passages) for q in (first, second)]
    assert [c.unit.text[:22] for c in reading.answer(0.5, 3, both, floor=0.2)] == [
        "A one-off home office ",
        "An internet allowance ",
    ]
    assert len(reading.answer(0.5, 3, both, floor=0.3)) == 1


def test_a_question_of_two_parts_is_answered_when_either_part_is() -> None:
    """Each unit answers one part, so the whole question scores both low; the parts' own
    readings keep it from being declined, and the answer is each part's unit, not the whole
    question's weak best."""
    passages = [
        (1, "Hybrid staff work from an office at least 2 days a week. "
            "Core hours are 10:00 to 15:00. The canteen opens at 8:00."),
    ]  # fmt: skip
    question = "How many days a week do hybrid staff come in, and what are the core hours?"
    first, second = question_parts(question)
    scorer = ByQuestion(
        {
            question: {"canteen": -1.5, "2 days": -2.0, "Core hours": -2.0},  # 0.18, 0.12, 0.12
            first: {"2 days": 1.0},  # 0.73
            second: {"Core hours": 2.0},  # 0.88
            "Is there a bonus?": {},  # every unit -5
        }
    )
    reader = PassageReader(scorer, Flat(), reader_only(decline=0.3))
    reading = reader.read(question, passages)
    parts = [reader.read(q, passages) for q in (first, second)]
    model = reader.model
    assert model.declines(reading) and not model.declines(reading, parts)
    assert model.declines(reading, [reader.read("Is there a bonus?", passages)])  # no part answered
    chosen = reading.answer(model.answer, model.cap, parts, model.decline)
    assert [c.unit.text[:10] for c in chosen] == ["Hybrid sta", "Core hours"]  # not the canteen
    # the extractive backend, which decides and answers the same way
    passage = ContextPassage(
        1, 7, "Remote Work Policy", "remote.md", None, (), 0, 99, passages[0][1], 1.0, (1,), 30
    )
    context = Context((passage,), tokens=30, budget_tokens=1000, dropped=0)
    text = ExtractiveGenerator(PassageReader(scorer, Flat(), model)).answer(context, question)
    assert (
        text.startswith("Hybrid staff work from an office") and "Core hours" in text and "canteen" not in text
    )
    assert ExtractiveGenerator(PassageReader(scorer, Flat(), model)).answer(context, "Is there a bonus?") == (
        NOT_FOUND
    )


def test_the_shortlist_keeps_the_units_sharing_most_words_with_the_question_in_order() -> None:
    filler = " ".join(f"Filler sentence number {i} about the kitchen rota." for i in range(40))
    passages = [
        (1, filler + " Full-time employees receive 27 days of annual leave."),
        (2, "Annual leave is booked in Helm."),
    ]
    kept = shortlist("How many days of annual leave do employees get?", passages, limit=5)
    texts = [u.text for _, u in kept]
    assert len(kept) == 5 and "Full-time employees receive 27 days of annual leave." in texts
    assert texts[-1] == "Annual leave is booked in Helm."  # passage order is kept


def test_the_reader_reads_each_unit_after_its_passages_title() -> None:
    """A question names what the document is about where the answering unit does not."""

    class Recording(Scripted):
        def logits(self, question: str, texts: Sequence[str]) -> np.ndarray:
            self.texts = list(texts)
            return super().logits(question, texts)

    scorer = Recording({"Maren": 2.0})
    reader = PassageReader(scorer, Flat(), reader_only())
    passages = [
        Passage(
            1, "Name | Role\n\nName: Maren Holloway | Role: Chief Executive Officer", "About_Kestrel Lane."
        ),
        Passage(2, "Owner: Office of the CEO.", ""),
    ]
    reading = reader.read_context("Who is the Chief Executive Officer of Kestrel Lane?", passages)
    assert scorer.texts == [
        "About Kestrel Lane. Name: Maren Holloway; Role: Chief Executive Officer",
        "Owner: Office of the CEO.",  # no title: the unit alone
    ]
    assert reading.candidates[0].unit.text == "Name: Maren Holloway; Role: Chief Executive Officer"
    assert (
        reader.read("Who is the Chief Executive Officer of Kestrel Lane?", [(1, passages[0].text)])
        is not reading
    )


def test_a_question_is_read_as_asked_and_with_the_abbreviations_the_passages_spell_out() -> None:
    """The reader does not know "CEO"; each unit keeps its better score of the two readings."""
    passages = [
        Passage(1, "Name: Maren Holloway | Role: Chief Executive Officer", ""),
        Passage(2, "Owner: Office of the CEO.", ""),
    ]
    asked, spelled = "Who is the CEO?", "Who is the Chief Executive Officer?"
    scorer = ByQuestion({asked: {"Office": 1.0, "Maren": -3.0}, spelled: {"Maren": 2.0, "Office": -4.0}})
    reading = PassageReader(scorer, Flat(), reader_only()).read_context(asked, passages)
    assert [(c.number, c.unit.text[:11], c.score) for c in reading.candidates] == [
        (1, "Name: Maren", pytest.approx(1 / (1 + np.exp(-2.0)))),
        (2, "Owner: Offi", pytest.approx(1 / (1 + np.exp(-1.0)))),
    ]


def test_the_same_passages_are_read_once() -> None:
    scorer = Scripted({"26 weeks": 3.0})
    reader = PassageReader(scorer, Flat(), reader_only(), kept=2)
    first = reader.read("q?", PASSAGES)
    assert reader.read("q?", PASSAGES) is first and scorer.calls == 1
    reader.read("other?", PASSAGES), reader.read("third?", PASSAGES)
    reader.read("q?", PASSAGES)
    assert scorer.calls == 4  # the oldest was dropped


def test_the_shipped_answer_model_loads_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    shipped = shipped_answer_model()
    assert 0 < shipped.decline < 1 and 0 < shipped.relevant < 1 and shipped.cap >= 1
    assert shipped.to_json() == CALIBRATION.read_text()  # read and written back unchanged
    broken = tmp_path / "calibration.json"
    broken.write_text("{}")
    with pytest.raises(ConfigurationError, match="re-run bench/calibrate_reader.py"):
        AnswerModel.load(broken)
    with pytest.raises(ConfigurationError, match="re-run bench/calibrate_reader.py"):
        replace(shipped, features=("reader",))
    with pytest.raises(ConfigurationError, match="out of range"):
        replace(shipped, decline=1.5)
    with pytest.raises(ConfigurationError, match="out of range"):
        replace(shipped, decline_reader=-0.1)
