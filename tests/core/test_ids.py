"""Ids are never handed out twice, on SQLite (AUTOINCREMENT) and PostgreSQL (sequences):
a token, an audit record or a conversation naming an id names one row for ever."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from attest.core.accounts import create_user, delete_user
from attest.core.models import Chunk, Conversation, Document, DocumentStatus, KnowledgeBase, Message, User

pytestmark = pytest.mark.integration


def test_a_deleted_users_id_is_not_given_to_the_next(engine: Engine) -> None:
    with Session(engine) as session:
        user, _ = create_user(session, username="vera", role="viewer", password="long-enough-pw")
        old = user.id
        session.commit()
        delete_user(session, user)
        session.commit()
        admin, _ = create_user(session, username="root", role="admin", password="long-enough-pw")
        session.commit()
        assert admin.id > old


def test_deleted_documents_chunks_and_messages_leave_their_ids_unused(engine: Engine) -> None:
    with Session(engine) as session:
        kb = KnowledgeBase(name="kb", entity_terms={})
        session.add(kb)
        session.flush()

        def document(uri: str) -> tuple[int, int]:
            doc = Document(kb_id=kb.id, source_uri=uri, status=DocumentStatus.INDEXED)
            session.add(doc)
            session.flush()
            chunk = Chunk(
                document_id=doc.id,
                kb_id=kb.id,
                position=0,
                text="t",
                token_start=0,
                token_end=1,
                char_start=0,
                char_end=1,
                embedding=b"\0" * 4,
            )
            session.add(chunk)
            session.flush()
            return doc.id, chunk.id

        first = document("/d/a.txt")
        session.commit()
        session.delete(session.get(Document, first[0]))
        session.commit()
        second = document("/d/b.txt")
        session.commit()
        assert second[0] > first[0] and second[1] > first[1]

        conversation = Conversation(owner="user:1", kb_id=kb.id, title="q")
        session.add(conversation)
        session.flush()
        message = Message(conversation_id=conversation.id, question="q", answer="a", payload={})
        session.add(message)
        session.commit()
        old_message = message.id
        session.delete(conversation)
        session.commit()
        again = Conversation(owner="user:1", kb_id=kb.id, title="q")
        session.add(again)
        session.flush()
        reply = Message(conversation_id=again.id, question="q", answer="a", payload={})
        session.add(reply)
        session.commit()
        assert reply.id > old_message


def test_deleting_a_user_removes_their_conversations(engine: Engine) -> None:
    with Session(engine) as session:
        kb = KnowledgeBase(name="kb", entity_terms={})
        session.add(kb)
        user, _ = create_user(session, username="gone", role="viewer", password="long-enough-pw")
        session.flush()
        session.add(Conversation(owner=f"user:{user.id}", kb_id=kb.id, title="mine"))
        session.add(Conversation(owner="user:999", kb_id=kb.id, title="someone else's"))
        session.commit()
        delete_user(session, user)
        session.commit()
        titles = list(session.scalars(select(Conversation.title)))
        assert titles == ["someone else's"]
        assert session.scalar(select(User).where(User.username == "gone")) is None
