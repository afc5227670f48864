"""The ``ask`` audit record: written here, the same way for the REST API and ``attest ask``.

The stored ``outcome`` is what the dashboard, the audit filter and the metrics read, so
none of them re-derives it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from attest.answers.records import Answer
from attest.core import audit
from attest.core.models import Outcome


def outcome_of(answer: Answer) -> Outcome:
    """How ``answer`` ended.

    An unsupported claim outranks not answering the question: a statement the sources do
    not bear out is the worse news for whoever reviews the log. An answered question
    without a verdict has nothing flagged, so it counts as supported.
    """
    if not answer.answered:
        return Outcome.DECLINED
    if answer.verdict is not None and answer.verdict.unsupported:
        return Outcome.UNSUPPORTED
    if answer.verdict is not None and answer.verdict.answers_question is False:
        return Outcome.OFF_TOPIC
    return Outcome.SUPPORTED


def record_ask(
    session: Session,
    answer: Answer,
    *,
    actor: str,
    kb: str,
    latency_ms: float,
    mask: bool,
    abandoned: bool = False,
    conversation_id: int | None = None,
    message_id: int | None = None,
) -> None:
    """Append the ``ask`` record of ``answer`` in the caller's transaction.

    The API passes the conversation and message the answer is kept in; the CLI keeps none.
    An ``abandoned`` answer is one whose stream the client left before the end: its text
    is what the model had written by then, sent but never checked.
    """
    details = audit_details(
        answer,
        latency_ms=latency_ms,
        abandoned=abandoned,
        conversation_id=conversation_id,
        message_id=message_id,
    )
    audit.append(session, actor=actor, action="ask", kb=kb, status=200, details=details, mask=mask)


def audit_details(
    answer: Answer,
    *,
    latency_ms: float,
    abandoned: bool = False,
    conversation_id: int | None = None,
    message_id: int | None = None,
) -> dict[str, Any]:
    """The ``details`` of the ``ask`` audit record of ``answer``."""
    verdict = answer.verdict
    return {
        "conversation_id": conversation_id,
        "message_id": message_id,
        "question": answer.query.text,
        "query": answer.query.standalone,
        "retrieved": [r.to_dict() for r in answer.retrieved],
        "answer": answer.text,
        "draft": answer.draft,
        "answered": answer.answered,
        "outcome": outcome_of(answer).value,
        "reason": answer.reason,
        "citations": [c.to_dict() for c in answer.citations],
        "verdict": None
        if verdict is None
        else {  # the counts; the claims themselves stay with the answer
            "score": round(verdict.score, 4),
            "supported": verdict.supported,
            "unsupported": verdict.unsupported,
            "answers_question": verdict.answers_question,
        },
        "gate": None if answer.gate is None else answer.gate.to_dict(),
        "model": answer.backend,
        "index_version": answer.index_version,
        "index_backend": answer.index_backend,
        "latency_ms": latency_ms,
        "timings_ms": answer.timings_ms,
        "abandoned": abandoned,
    }
