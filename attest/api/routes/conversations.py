"""The caller's conversations, and feedback on answers.

A stored answer is shown again only while the caller may still read every document it
rests on: when a document's ACL changes or the document is deleted, the answers built from
it are withheld (the question stays), so old conversations cannot leak text either.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from attest.api.deps import MAX_ID, Access, Id, SessionDep, UserDep, rule
from attest.api.routes.ask import own_conversation
from attest.api.schemas import (
    ConversationDetail,
    ConversationList,
    ConversationPublic,
    FeedbackCreate,
    FeedbackPublic,
    MessagePublic,
)
from attest.core import audit
from attest.core.accounts import Principal, granted_kb_ids, may_read
from attest.core.errors import NotFound
from attest.core.models import Conversation, Document, Feedback, KnowledgeBase, Message

router = APIRouter(tags=["conversations"])
WITHHELD = "This answer is withheld: it rests on a document you can no longer read."


@router.get("/conversations", **rule(Access.USER, ConversationList))
def list_conversations(
    caller: UserDep,
    session: SessionDep,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_ID),
) -> dict[str, Any]:
    """The caller's conversations, most recent first."""
    query = (
        select(Conversation, KnowledgeBase.name).join(KnowledgeBase).where(Conversation.owner == caller.owner)
    )
    allowed = granted_kb_ids(session, caller)
    if allowed is not None:
        query = query.where(Conversation.kb_id.in_(sorted(allowed)))
    rows = session.execute(query.order_by(Conversation.updated_at.desc()).limit(limit).offset(offset)).all()
    return ConversationList(items=[_conversation(c, name) for c, name in rows]).model_dump()


@router.get("/conversations/{conversation_id}", **rule(Access.USER, ConversationDetail))
def get_conversation(conversation_id: Id, caller: UserDep, session: SessionDep) -> dict[str, Any]:
    conversation = _visible_conversation(session, caller, conversation_id)
    kb = session.get(KnowledgeBase, conversation.kb_id)
    return ConversationDetail(
        **_conversation(conversation, kb.name if kb else None).model_dump(),
        messages=[_shown(session, caller, m) for m in conversation.messages],
    ).model_dump()


@router.delete("/conversations/{conversation_id}", **rule(Access.USER, status=204))
def delete_conversation(conversation_id: Id, caller: UserDep, session: SessionDep) -> None:
    conversation = _visible_conversation(session, caller, conversation_id)
    session.delete(conversation)
    audit.append(
        session,
        actor=caller.label,
        action="conversation.delete",
        status=204,
        details={"conversation_id": conversation_id},
    )


@router.post("/feedback", **rule(Access.USER, FeedbackPublic, status=201))
def feedback(body: FeedbackCreate, caller: UserDep, session: SessionDep) -> dict[str, Any]:
    """Rate one of the caller's answers (+1 or -1), with an optional comment."""
    message = session.get(Message, body.message_id)
    try:
        if message is None:
            raise NotFound("no such message")
        _visible_conversation(session, caller, message.conversation_id)  # only one's own answers
    except NotFound:
        # One answer for a missing message and for someone else's: nothing tells them apart.
        raise NotFound(f"Unknown message {body.message_id}.") from None
    row = Feedback(message_id=message.id, owner=caller.owner, rating=body.rating, comment=body.comment)
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=caller.label,
        action="feedback",
        status=201,
        details={"message_id": message.id, "rating": body.rating, "comment": body.comment},
    )
    return FeedbackPublic(id=row.id, message_id=message.id, rating=body.rating).model_dump()


def _visible_conversation(session: Session, caller: Principal, conversation_id: Id) -> Conversation:
    conversation = own_conversation(session, caller, conversation_id)
    allowed = granted_kb_ids(session, caller)
    if allowed is not None and conversation.kb_id not in allowed:
        raise NotFound(f"Unknown conversation {conversation_id}.")
    return conversation


def _conversation(conversation: Conversation, kb: str | None) -> ConversationPublic:
    return ConversationPublic(
        id=conversation.id,
        kb=kb,
        title=conversation.title,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
    )


def _shown(session: Session, caller: Principal, message: Message) -> MessagePublic:
    payload = message.payload or {}
    document_ids = {
        item["document_id"]
        for key in ("sources", "citations")
        for item in payload.get(key) or []
        if isinstance(item, dict) and "document_id" in item
    }
    documents = {
        d.id: d for d in session.scalars(select(Document).where(Document.id.in_(sorted(document_ids))))
    }
    readable = all(i in documents and may_read(caller, documents[i].acl) for i in document_ids)
    base = {"id": message.id, "question": message.question, "created_at": message.created_at}
    if not readable:
        return MessagePublic.model_validate({**base, "answer": WITHHELD, "answered": False, "withheld": True})
    shown = {**base, "answer": message.answer, "answered": message.answered, "withheld": False, **payload}
    return MessagePublic.model_validate(shown)
