"""The audit log browser (admin): filters, paging, CSV export, one record with the chunks
its question retrieved, and the dashboard computed from the log."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import func, select

from attest.api.deps import MAX_ID, Access, AdminDep, Id, SessionDep, rule
from attest.api.schemas import (
    AuditPage,
    AuditRecordDetail,
    AuditRecordPublic,
    DashboardPublic,
    RetrievedChunk,
)
from attest.core.dashboard import ask_from_details, outcome_filter, outcome_from_details, summarize
from attest.core.errors import NotFound
from attest.core.models import (
    AuditRecord,
    Chunk,
    Conversation,
    Document,
    Feedback,
    KnowledgeBase,
    Message,
    Outcome,
    utcnow,
)

router = APIRouter(tags=["audit"])
COLUMNS = ("id", "at", "actor", "action", "kb", "status", "details", "hash")


def _row(record: AuditRecord) -> dict[str, Any]:
    return {c: getattr(record, c) for c in COLUMNS}


def _item(record: AuditRecord) -> AuditRecordPublic:
    """A record as the JSON answers show it: its columns and, for a question, its outcome
    (read as the dashboard reads it, so that no client derives it again)."""
    ask = record.action == "ask" and isinstance(record.details, dict)
    return AuditRecordPublic(**_row(record), outcome=outcome_from_details(record.details) if ask else None)


@router.get("/audit", **rule(Access.ADMIN, AuditPage))
def audit_log(
    caller: AdminDep,
    session: SessionDep,
    actor: str | None = Query(None, max_length=160),
    action: str | None = Query(
        None, max_length=64, description="exact, or a prefix ending in '.' (e.g. 'user.')"
    ),
    kb: str | None = Query(None, max_length=128),
    status: int | None = Query(None, ge=0, le=599),
    outcome: Annotated[
        Outcome | None,
        Query(
            description="questions only: verified, with unverified claims, answered but not the "
            "question asked (off_topic), or declined"
        ),
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ID),
    format: str = Query("json", pattern="^(json|csv)$"),
) -> Any:
    """Records, newest first, filtered by actor, action, knowledge base, status, a question's
    outcome and time."""
    query = select(AuditRecord)
    if actor:
        query = query.where(AuditRecord.actor == actor)
    if action:
        query = query.where(
            AuditRecord.action.startswith(action) if action.endswith(".") else AuditRecord.action == action
        )
    if kb:
        query = query.where(AuditRecord.kb == kb)
    if status is not None:
        query = query.where(AuditRecord.status == status)
    if outcome:
        query = query.where(outcome_filter(outcome))
    if since:
        query = query.where(AuditRecord.at >= since)
    if until:
        query = query.where(AuditRecord.at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    records = session.scalars(query.order_by(AuditRecord.id.desc()).limit(limit).offset(offset)).all()
    if format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for row in map(_row, records):
            writer.writerow({**row, "details": json.dumps(row["details"], ensure_ascii=False)})
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="attest-audit.csv"'},
        )
    return AuditPage(total=total or 0, items=[_item(r) for r in records]).model_dump()


@router.get("/audit/{record_id}", **rule(Access.ADMIN, AuditRecordDetail))
def audit_record(record_id: Id, caller: AdminDep, session: SessionDep) -> dict[str, Any]:
    """One record; for a question, also the chunks it retrieved, best first, with their text as
    stored now (``text`` is null when a later re-index or a deletion removed the chunk)."""
    record = session.get(AuditRecord, record_id)
    if record is None:
        raise NotFound(f"Unknown audit record {record_id}.")
    retrieved = record.details.get("retrieved") if isinstance(record.details, dict) else None
    hits = [h for h in retrieved if isinstance(h, dict)] if isinstance(retrieved, list) else []
    ids = [h["chunk_id"] for h in hits if isinstance(h.get("chunk_id"), int)]
    rows = session.execute(
        select(Chunk.id, Chunk.text, Chunk.page, Document.title)
        .join(Document, Chunk.document_id == Document.id)
        .where(Chunk.id.in_(ids))
    ).all()
    stored = {row.id: row for row in rows}
    chunks = []
    for rank, hit in enumerate(hits, start=1):
        row = stored.get(hit.get("chunk_id"))
        chunks.append(
            RetrievedChunk(
                rank=rank,
                chunk_id=hit.get("chunk_id"),
                document_id=hit.get("document_id"),
                score=hit.get("score"),
                title=row.title if row else None,
                page=row.page if row else None,
                text=row.text if row else None,
            )
        )
    return AuditRecordDetail(
        **_item(record).model_dump(), prev_hash=record.prev_hash, chunks=chunks
    ).model_dump()


@router.get("/dashboard", **rule(Access.ADMIN, DashboardPublic))
def dashboard(
    caller: AdminDep,
    session: SessionDep,
    days: int = Query(30, ge=1, le=366),
    kb: str | None = Query(None, max_length=128),
) -> dict[str, Any]:
    """Questions per day with latency p50/p95, outcomes (supported, unsupported, off_topic,
    declined), the share of thumbs-up in feedback, and the questions most often declined."""
    since = utcnow() - timedelta(days=days)
    asks = select(AuditRecord.at, AuditRecord.details).where(
        AuditRecord.action == "ask", AuditRecord.at >= since
    )
    ratings = (
        select(Feedback.rating)
        .join(Message, Feedback.message_id == Message.id)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .where(Feedback.created_at >= since)
    )
    if kb:
        asks = asks.where(AuditRecord.kb == kb)
        ratings = ratings.join(KnowledgeBase, Conversation.kb_id == KnowledgeBase.id).where(
            KnowledgeBase.name == kb
        )
    summary = summarize(
        (ask_from_details(at, details) for at, details in session.execute(asks) if isinstance(details, dict)),
        session.scalars(ratings),
    )
    return DashboardPublic.model_validate({"since": since, "kb": kb, **summary}).model_dump()
