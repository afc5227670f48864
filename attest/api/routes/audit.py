"""The audit log browser (admin): filters, paging, CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import func, select

from attest.api.deps import MAX_ID, Access, AdminDep, SessionDep, rule
from attest.core.models import AuditRecord

router = APIRouter(tags=["audit"])
COLUMNS = ("id", "at", "actor", "action", "kb", "status", "details", "hash")


def _row(record: AuditRecord) -> dict[str, Any]:
    return {c: getattr(record, c) for c in COLUMNS}


@router.get("/audit", **rule(Access.ADMIN))
def audit_log(
    caller: AdminDep,
    session: SessionDep,
    actor: str | None = Query(None, max_length=160),
    action: str | None = Query(
        None, max_length=64, description="exact, or a prefix ending in '.' (e.g. 'user.')"
    ),
    kb: str | None = Query(None, max_length=128),
    status: int | None = Query(None, ge=0, le=599),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ID),
    format: str = Query("json", pattern="^(json|csv)$"),
) -> Any:
    """Records, newest first, filtered by actor, action, knowledge base, status and time."""
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
    if since:
        query = query.where(AuditRecord.at >= since)
    if until:
        query = query.where(AuditRecord.at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    records = session.scalars(query.order_by(AuditRecord.id.desc()).limit(limit).offset(offset))
    rows = [_row(r) for r in records]
    if format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "details": json.dumps(row["details"], ensure_ascii=False)})
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="attest-audit.csv"'},
        )
    return {"total": total, "items": rows}
