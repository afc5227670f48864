"""Questions an employee asks of the demo knowledge base, answered with the default
configuration: paraphrased, two-part, from a table row, who owns what, and near-topic
questions the handbook does not answer, which must be declined. The set is ours and kept
small; the thresholds were calibrated on SQuAD, never on these."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from attest.answers import NOT_IN_DOCUMENTS, Answerer
from attest.core import db
from attest.core.models import Policy
from attest.core.settings import Settings
from attest.ingest.pipeline import IngestPipeline
from attest.text.embedder import SentenceTransformerEmbedder
from attest.verify.checker import FactChecker
from attest.verify.policy import DOES_NOT_ANSWER, OFF_TOPIC_MARK, apply

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEMO = Path(__file__).resolve().parents[2] / "attest/demo_kb"
ANSWERED = [
    ("How long is the probation period for new employees?", ["6 months"]),
    ("How much notice do I need to give if I resign during probation?", ["2 weeks"]),
    ("How long does my SSO password have to be?", ["16 characters"]),
    ("Who is the CEO of Kestrel Lane?", ["Maren Holloway"]),  # the handbook spells it out
    ("What is the maximum nightly hotel rate for international trips?", ["$260"]),  # an HTML table row
    (  # two parts: the second part's unit scores below the answer threshold
        "How big is the home office allowance, and how much is the monthly internet allowance?",
        ["$600", "$40"],
    ),
]
DECLINED = [
    "What is the dress code at the office?",
    "How many weeks of sabbatical leave can employees take?",
]


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[Answerer]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("demo") / "data", answer_cache_size=0)
    settings.data_dir.mkdir(parents=True)
    db.upgrade(settings.sqlalchemy_url)
    engine: Engine = db.make_engine(settings.sqlalchemy_url)
    IngestPipeline(settings, engine=engine, embedder=embedder).run("demo", [DEMO])
    yield Answerer(engine, settings, embedder=embedder)
    engine.dispose()


@pytest.mark.parametrize(("question", "expected"), ANSWERED)
def test_handbook_questions_are_answered_with_every_part(
    demo: Answerer, question: str, expected: list[str]
) -> None:
    answer = demo.ask("demo", question)
    assert answer.answered, answer.reason
    assert all(part in answer.text for part in expected), answer.text
    assert answer.verdict is not None and answer.verdict.answers_question is True
    assert answer.verdict.unsupported == 0, answer.verdict.to_dict()  # quoted, so verified


@pytest.mark.parametrize("question", DECLINED)
def test_near_topic_questions_the_handbook_does_not_answer_are_declined(
    demo: Answerer, question: str
) -> None:
    answer = demo.ask("demo", question)
    assert not answer.answered and answer.text == NOT_IN_DOCUMENTS, answer.text
    assert answer.sources  # the closest documents are listed


def test_a_faithful_answer_to_another_question_is_flagged_and_each_policy_acts_on_it(demo: Answerer) -> None:
    """A true sentence of the handbook, but about booking leave, not about resigning."""
    question = "How much notice do I need to give before resigning?"
    faithful = "Managers should respond to leave requests within 3 working days. [1]"
    passages = [
        (1, "Managers should respond to leave requests within 3 working days. Requests go through Helm.")
    ]
    checker: FactChecker = demo.checker
    verdict = checker.check(faithful, passages, question)
    assert verdict.unsupported == 0  # faithful to its source...
    assert verdict.answers_question is False  # ...but it does not answer
    flagged = apply(Policy.FLAG, faithful, verdict)
    assert flagged.action == "flagged" and flagged.text.endswith(OFF_TOPIC_MARK)
    assert "does not answer the question" in (flagged.note or "")
    for policy in (Policy.STRIP, Policy.REFUSE):
        gated = apply(policy, faithful, verdict)
        assert (gated.action, gated.text) == ("refused", DOES_NOT_ANSWER)
    answering = checker.check(
        "Managers should respond to leave requests within 3 working days. [1]",
        passages,
        "How quickly should managers respond to leave requests?",
    )
    assert answering.answers_question is True and apply(Policy.STRIP, faithful, answering).action == "shown"
