"""Questions: one answer, or the answer streamed as server-sent events."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Generator
from contextlib import closing
from dataclasses import replace
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from starlette.types import Receive, Scope, Send

from attest.answers import Answer, Delta, Started, outcome_of, record_ask
from attest.api.deps import Access, AnswerSlot, Id, ServicesDep, SessionDep, UserDep, rule
from attest.api.errors import DATABASE_DOWN, UNEXPECTED, status_of
from attest.api.schemas import AnswerPublic, AskRequest
from attest.api.services import Services
from attest.core.accounts import Principal, visible_kb
from attest.core.db import write_gate
from attest.core.errors import AttestError, NotFound
from attest.core.models import Conversation, KnowledgeBase, Message, utcnow
from attest.generation.chat import Turn

log = logging.getLogger(__name__)
router = APIRouter(tags=["ask"])


@router.post("/ask", dependencies=[AnswerSlot], **rule(Access.KB_VIEWER, AnswerPublic))
def ask(
    body: AskRequest, caller: UserDep, session: SessionDep, services: ServicesDep, request: Request
) -> dict[str, Any]:
    """Answer a question from a knowledge base, with citations, sources, the verdict and timings."""
    kb, history = _prepare(session, caller, body, services)
    session.commit()  # give the connection back while the answer is computed (see _prepare)
    began = time.perf_counter()
    answer = services.answerer.ask(kb.name, body.question, groups=caller.reading_groups, history=history)
    return _record(services, request, caller, kb, body.conversation_id, answer, began)


@router.post("/ask/stream", dependencies=[AnswerSlot], **rule(Access.KB_VIEWER))
def ask_stream(
    body: AskRequest, caller: UserDep, session: SessionDep, services: ServicesDep, request: Request
) -> StreamingResponse:
    """The answer as server-sent events: ``token`` (text as generated, provisional), then one
    ``answer`` (the checked answer with sources and verdict, which replaces the tokens), or
    ``error``; ``done`` ends the stream.

    A client that goes away stops the model; the text it had been sent is recorded, in its
    conversation and in the audit log, as an abandoned answer."""
    kb, history = _prepare(session, caller, body, services)
    session.commit()  # give the connection back while the answer is computed (see _prepare)

    def events() -> Generator[str, None, None]:
        began = time.perf_counter()
        started: Answer | None = None  # the answer as it stands while the model writes it
        pieces: list[str] = []
        answers = services.answerer.stream(
            kb.name, body.question, groups=caller.reading_groups, history=history
        )
        try:
            with closing(answers):  # closed with this stream: the model stops and is free again
                for event in answers:
                    if isinstance(event, Started):
                        started = event.partial
                    elif isinstance(event, Delta):
                        pieces.append(event.text)
                        yield _sse("token", {"text": event.text})
                    else:
                        started, answer = None, event.answer
                        recorded = _record(services, request, caller, kb, body.conversation_id, answer, began)
                        yield _sse("answer", recorded)
        except GeneratorExit:  # the client went away before the answer
            if started is not None:
                partial = replace(started, text="".join(pieces))
                _record(services, request, caller, kb, body.conversation_id, partial, began, abandoned=True)
            raise
        except AttestError as exc:
            status = status_of(exc)
            if status >= 500:
                log.error("%s while streaming an answer", type(exc).__name__, exc_info=exc)
            yield _sse("error", {"status": status, "detail": str(exc)})
        except (OperationalError, PoolTimeout):
            yield _sse("error", {"status": 503, "detail": DATABASE_DOWN})
        except Exception:  # a fault of ours: logged, and a plain 500 without the details
            log.exception("unexpected error while streaming an answer")
            yield _sse("error", {"status": 500, "detail": UNEXPECTED})
        yield _sse("done", {})

    return _EventStream(request, events())


class _EventStream(StreamingResponse):
    """Server-sent events from a sync generator, which is closed however the response ends.

    Starlette runs a sync iterator in the threadpool and stops iterating it when the client
    disconnects, but leaves it suspended; an answer suspended halfway holds the in-process
    model until the garbage collector happens to find it. Closing it runs its ``finally``
    blocks (the model stops, the abandoned answer is recorded), in a worker thread since
    they write to the database.
    """

    def __init__(self, request: Request, events: Generator[str, None, None]) -> None:
        self.events = events
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        super().__init__(self._until_disconnected(request), media_type="text/event-stream", headers=headers)

    async def _until_disconnected(self, request: Request) -> AsyncIterator[str]:
        # Servers speaking ASGI 2.4 leave noticing the disconnect to the app: look between events.
        while not await request.is_disconnected():
            chunk = await anyio.to_thread.run_sync(next, self.events, None)
            if chunk is None:
                return
            yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:  # no worker thread runs the generator now: a cancelled one is waited for
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.events.close)


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


def _record(
    services: Services,
    request: Request,
    caller: Principal,
    kb: KnowledgeBase,
    conversation_id: Id | None,
    answer: Answer,
    began: float,
    *,
    abandoned: bool = False,
) -> dict[str, Any]:
    """Store the turn in its conversation, write the audit record and count the metrics.

    An ``abandoned`` answer is one whose stream the client left before the end: its text is
    what the model had written by then, sent but never checked.
    """
    latency_ms = round((time.perf_counter() - began) * 1000, 1)
    payload = answer.to_public()
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
            payload={k: v for k, v in payload.items() if k not in ("question", "answer", "answered")}
            | ({"abandoned": True} if abandoned else {}),
        )
        session.add(message)
        session.flush()
        payload.update(conversation_id=conversation.id, message_id=message.id)
        # Checked against the published model; a declined answer's sources keep only their three fields.
        payload = AnswerPublic.model_validate(payload).model_dump(exclude_unset=True)
        record_ask(
            session,
            answer,
            actor=caller.label,
            kb=kb.name,
            latency_ms=latency_ms,
            mask=services.settings.audit_mask_pii,
            abandoned=abandoned,
            conversation_id=conversation.id,
            message_id=message.id,
        )
        session.commit()
    if abandoned:
        return payload
    metrics = request.app.state.metrics
    metrics.answers.labels(outcome=outcome_of(answer).value).inc()
    if answer.answered:
        metrics.llm_tokens.labels(backend=answer.backend).inc(
            services.answerer.generator.count_tokens(answer.text)
        )
    return payload
