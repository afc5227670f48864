"""Questions: one answer, or the answer streamed as server-sent events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from attest.answers import Answer, Delta
from attest.api.deps import Access, Id, ServicesDep, SessionDep, UserDep, rule
from attest.api.errors import DATABASE_DOWN, status_of
from attest.api.schemas import AskRequest
from attest.api.services import Services
from attest.core import audit
from attest.core.accounts import Principal, visible_kb
from attest.core.db import write_gate
from attest.core.errors import AttestError, NotFound
from attest.core.models import Conversation, KnowledgeBase, Message, utcnow
from attest.generation.chat import Turn

router = APIRouter(tags=["ask"])


@router.post("/ask", **rule(Access.KB_VIEWER))
def ask(
    body: AskRequest, caller: UserDep, session: SessionDep, services: ServicesDep, request: Request
) -> dict[str, Any]:
    """Answer a question from a knowledge base, with citations, sources, the verdict and timings."""
    kb, history = _prepare(session, caller, body, services)
    session.commit()  # give the connection back while the answer is computed (see _prepare)
    began = time.perf_counter()
    answer = services.answerer.ask(kb.name, body.question, groups=caller.reading_groups, history=history)
    return _record(services, request, caller, kb, body.conversation_id, answer, began)


@router.post("/ask/stream", **rule(Access.KB_VIEWER))
def ask_stream(
    body: AskRequest, caller: UserDep, session: SessionDep, services: ServicesDep, request: Request
) -> StreamingResponse:
    """The answer as server-sent events: ``token`` (text as generated, provisional), then one
    ``answer`` (the checked answer with sources and verdict, which replaces the tokens), or
    ``error``; ``done`` ends the stream."""
    kb, history = _prepare(session, caller, body, services)
    session.commit()  # give the connection back while the answer is computed (see _prepare)

    def events() -> Iterator[str]:
        began = time.perf_counter()
        try:
            for event in services.answerer.stream(
                kb.name, body.question, groups=caller.reading_groups, history=history
            ):
                if isinstance(event, Delta):
                    yield _sse("token", {"text": event.text})
                else:
                    yield _sse(
                        "answer",
                        _record(services, request, caller, kb, body.conversation_id, event.answer, began),
                    )
        except AttestError as exc:
            yield _sse("error", {"status": status_of(exc), "detail": str(exc)})
        except (OperationalError, PoolTimeout):
            yield _sse("error", {"status": 503, "detail": DATABASE_DOWN})
        except ValueError as exc:
            yield _sse("error", {"status": 422, "detail": str(exc)})
        yield _sse("done", {})

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def _prepare(
    session: Session, caller: Principal, body: AskRequest, services: Services
) -> tuple[KnowledgeBase, list[Turn]]:
    """The knowledge base (404 unless granted) and the conversation's recent turns.

    The caller then commits the request's session, so that no connection is held while the
    answer is computed: the answering service and :func:`_record` take their own, briefly,
    and a request holding one connection while waiting for another would exhaust the pool
    under load (bench/load.py found it).
    """
    kb = visible_kb(session, caller, body.kb)
    history: list[Turn] = []
    if body.conversation_id is not None:
        conversation = own_conversation(session, caller, body.conversation_id)
        if conversation.kb_id != kb.id:
            raise NotFound(f"Conversation {body.conversation_id} belongs to another knowledge base.")
        turns = services.settings.chat_history_turns
        recent = conversation.messages[-turns:] if turns else []
        history = [Turn(m.question, m.answer) for m in recent]
    return kb, history


def own_conversation(session: Session, caller: Principal, conversation_id: Id) -> Conversation:
    conversation = session.scalar(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.owner == caller.owner)
    )
    if conversation is None:
        raise NotFound(f"Unknown conversation {conversation_id}.")
    return conversation


def public_answer(answer: Answer) -> dict[str, Any]:
    """What the caller sees: everything but the pre-policy draft and the raw retrieval scores."""
    data = answer.to_dict()
    data["answer"] = data.pop("text")
    data.pop("draft")
    data.pop("retrieved")
    return data


def _record(
    services: Services,
    request: Request,
    caller: Principal,
    kb: KnowledgeBase,
    conversation_id: Id | None,
    answer: Answer,
    began: float,
) -> dict[str, Any]:
    """Store the turn in its conversation, write the audit record and count the metrics."""
    latency_ms = round((time.perf_counter() - began) * 1000, 1)
    payload = public_answer(answer)
    with write_gate(services.engine), Session(services.engine, expire_on_commit=False) as session:
        if conversation_id is None:
            conversation = Conversation(owner=caller.owner, kb_id=kb.id, title=answer.question[:200])
            session.add(conversation)
            session.flush()
        else:
            conversation = own_conversation(session, caller, conversation_id)
            conversation.updated_at = utcnow()
        message = Message(
            conversation_id=conversation.id,
            question=answer.question,
            answer=answer.text,
            answered=answer.answered,
            payload={k: v for k, v in payload.items() if k not in ("question", "answer", "answered")},
        )
        session.add(message)
        session.flush()
        payload.update(conversation_id=conversation.id, message_id=message.id)
        audit.append(
            session,
            actor=caller.label,
            action="ask",
            kb=kb.name,
            status=200,
            details={
                "conversation_id": conversation.id,
                "message_id": message.id,
                "question": answer.question,
                "query": answer.query,
                "retrieved": answer.retrieved,
                "answer": answer.text,
                "draft": answer.draft,
                "answered": answer.answered,
                "reason": answer.reason,
                "citations": answer.citations,
                "verdict": _verdict_summary(answer),
                "gate": answer.gate,
                "model": answer.backend,
                "index_version": answer.index_version,
                "latency_ms": latency_ms,
                "timings_ms": answer.timings_ms,
            },
            mask=services.settings.audit_mask_pii,
        )
        session.commit()
    metrics = request.app.state.metrics
    metrics.answers.labels(outcome=_outcome(answer)).inc()
    if answer.answered:
        metrics.llm_tokens.labels(backend=answer.backend).inc(
            services.answerer.generator.count_tokens(answer.text)
        )
    return payload


def _verdict_summary(answer: Answer) -> dict[str, Any] | None:
    v = answer.verdict
    if v is None:
        return None
    return {"score": v["score"], "supported": v["supported"], "unsupported": v["unsupported"]}


def _outcome(answer: Answer) -> str:
    if not answer.answered:
        return "declined"
    if answer.verdict and answer.verdict["unsupported"]:
        return "unsupported"
    return "supported"
