"""How a question ended, decided once for the audit log, the dashboard and the metrics; and what
a caller sees of an answer."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from attest.answers import Answer, Citation, Query, Retrieved, audit_details, outcome_of
from attest.core.models import Outcome, Policy
from attest.verify.checker import ClaimVerdict, Verdict
from attest.verify.claims import Claim
from attest.verify.policy import Gate

pytestmark = pytest.mark.unit


def verdict(*, supported: int, unsupported: int, answers_question: bool | None) -> Verdict:
    claims = tuple(
        ClaimVerdict(
            Claim(f"claim {n}", (1,), 0, 7), 0.9 if n < supported else 0.2, n < supported, None, {}, (), None
        )
        for n in range(supported + unsupported)
    )
    relevance = None if answers_question is None else (0.8 if answers_question else 0.1)
    return Verdict(
        claims, min(c.score for c in claims), 0.5, 1.0, relevance, None if relevance is None else 0.5
    )


QUESTION = "How many days of annual leave do employees get?"
ANSWERED = Answer(
    query=Query.alone(QUESTION),
    text="Employees get 27 days of annual leave [1].",
    answered=True,
    reason=None,
    citations=(Citation(1, 3, "Annual leave", "/srv/kb/leave.md", None, 0, 40, (7,)),),
    sentences=(),
    invalid_citations=(),
    sources=(),
    backend="extractive",
    relevance=0.71,
    index_version=2,
    timings_ms={"retrieve": 4.0},
    verdict=verdict(supported=1, unsupported=0, answers_question=True),
    gate=Gate(Policy.FLAG, "shown", 0, None),
    draft="Employees get 27 days of annual leave [1].",
    retrieved=(Retrieved(7, 3, 0.5),),
)
DECLINED = replace(
    ANSWERED,
    text="The knowledge base does not contain the answer to this question.",
    answered=False,
    reason="no passage answers the question",
    citations=(),
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
    assert details["retrieved"] == [{"chunk_id": 7, "document_id": 3, "score": 0.5}]
    assert details["model"] == "extractive" and details["citations"][0]["source_uri"] == "/srv/kb/leave.md"
    assert details["latency_ms"] == 12.5 and details["abandoned"] is False

    cli = audit_details(DECLINED, latency_ms=3.0)  # no conversation: asked on the command line
    assert cli["outcome"] == "declined" and cli["answered"] is False and cli["verdict"] is None
    assert cli["conversation_id"] is None and cli["message_id"] is None
    assert set(cli) == set(details)


def test_what_a_caller_sees_leaves_out_the_draft_and_where_files_lie() -> None:
    public = ANSWERED.to_public()
    assert public["answer"] == ANSWERED.text and public["question"] == public["query"] == QUESTION
    assert "draft" not in public and "retrieved" not in public
    assert public["citations"][0]["source_uri"] == "leave.md" and public["citations"][0]["number"] == 1
    assert public["gate"] == {"policy": "flag", "action": "shown", "removed": 0, "note": None}
    assert public["verdict"]["supported"] == 1 and public["verdict"]["answers_question"] is True
    json.dumps(public)  # JSON-compatible as it is
