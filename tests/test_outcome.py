"""How a question ended, decided once for the audit log, the dashboard and the metrics."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from attest.answers import Answer, audit_details, outcome_of
from attest.core.models import Outcome

pytestmark = pytest.mark.unit


def verdict(*, supported: int, unsupported: int, answers_question: bool | None) -> dict[str, Any]:
    return {
        "score": 0.9 if not unsupported else 0.2,
        "supported": supported,
        "unsupported": unsupported,
        "answers_question": answers_question,
        "claims": [],
    }


ANSWERED = Answer(
    question="How many days of annual leave do employees get?",
    query="How many days of annual leave do employees get?",
    text="Employees get 27 days of annual leave [1].",
    answered=True,
    reason=None,
    citations=[{"number": 1, "document_id": 3}],
    sentences=[],
    invalid_citations=[],
    sources=[],
    backend="extractive",
    relevance=0.71,
    index_version=2,
    timings_ms={"retrieve": 4.0},
    verdict=verdict(supported=1, unsupported=0, answers_question=True),
    gate={"policy": "flag", "action": "shown", "removed": 0, "note": None},
    draft="Employees get 27 days of annual leave [1].",
    retrieved=[{"chunk_id": 7, "document_id": 3, "score": 0.5}],
)
DECLINED = replace(
    ANSWERED,
    text="The knowledge base does not contain the answer to this question.",
    answered=False,
    reason="no passage answers the question",
    citations=[],
    verdict=None,
    gate=None,
    draft=None,
)


def test_the_four_outcomes() -> None:
    assert outcome_of(ANSWERED) is Outcome.SUPPORTED
    unsupported = verdict(supported=1, unsupported=1, answers_question=True)
    assert outcome_of(replace(ANSWERED, verdict=unsupported)) is Outcome.UNSUPPORTED
    off_topic = verdict(supported=1, unsupported=0, answers_question=False)
    assert outcome_of(replace(ANSWERED, verdict=off_topic)) is Outcome.OFF_TOPIC
    assert outcome_of(DECLINED) is Outcome.DECLINED


def test_an_unsupported_claim_outranks_not_answering_the_question() -> None:
    both = verdict(supported=0, unsupported=2, answers_question=False)
    assert outcome_of(replace(ANSWERED, verdict=both)) is Outcome.UNSUPPORTED


def test_unchecked_relevance_or_no_verdict_flags_nothing() -> None:
    unchecked = verdict(supported=1, unsupported=0, answers_question=None)
    assert outcome_of(replace(ANSWERED, verdict=unchecked)) is Outcome.SUPPORTED
    assert outcome_of(replace(ANSWERED, verdict=None)) is Outcome.SUPPORTED


def test_the_audit_details_store_the_outcome_with_the_answer() -> None:
    off_topic = replace(ANSWERED, verdict=verdict(supported=1, unsupported=0, answers_question=False))
    details = audit_details(off_topic, latency_ms=12.5, conversation_id=4, message_id=9)
    assert details["outcome"] == "off_topic"
    assert details["conversation_id"] == 4 and details["message_id"] == 9
    assert details["verdict"] == {"score": 0.9, "supported": 1, "unsupported": 0, "answers_question": False}
    assert details["question"] == off_topic.question and details["answer"] == off_topic.text
    assert details["retrieved"] == off_topic.retrieved and details["model"] == "extractive"
    assert details["latency_ms"] == 12.5 and details["abandoned"] is False

    cli = audit_details(DECLINED, latency_ms=3.0)  # no conversation: asked on the command line
    assert cli["outcome"] == "declined" and cli["answered"] is False and cli["verdict"] is None
    assert cli["conversation_id"] is None and cli["message_id"] is None
    assert set(cli) == set(details)
