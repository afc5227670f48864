"""The audit log: append-only records chained by SHA-256, and the check that finds tampering.

Each record's hash covers its own fields and the previous record's hash, and ids run 1, 2,
3, ... without gaps; a one-row head table holds the last id and hash. So an edited record
breaks its own hash, a deleted or reordered one breaks the chain or the numbering, and a
removed tail no longer matches the head. Appending first updates the head row, which takes
the database's write lock (SQLite) or the row lock (PostgreSQL): concurrent writers, in
one process or several, line up instead of forking the chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from attest.core.db import write_gate
from attest.core.models import AuditHead, AuditRecord, utcnow

GENESIS = "0" * 64

_PII = [
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"\b(?:\d[ -]?){13,19}\b"), "[card]"),
    (re.compile(r"(?<![\w])\+?\d[\d ()./-]{7,}\d(?![\w])"), "[phone]"),
]
MASKED_FIELDS = ("question", "answer", "query", "draft")


def mask_pii(text: str) -> str:
    """Replace e-mail addresses, card-like and phone-like numbers with placeholders."""
    for pattern, placeholder in _PII:
        text = pattern.sub(placeholder, text)
    return text


def record_hash(
    *, id: int, at: datetime, actor: str, action: str, kb: str | None, status: int, details: Any, prev: str
) -> str:
    body = json.dumps(
        [id, _iso(at), actor, action, kb, status, details, prev],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _iso(at: datetime) -> str:
    # SQLite hands back naive datetimes; hash the same instant either way, to the microsecond.
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    kb: str | None = None,
    status: int = 0,
    details: dict[str, Any] | None = None,
    mask: bool = False,
) -> AuditRecord:
    """Add one record at the end of the chain in the caller's transaction (commit to keep it)."""
    details = dict(details or {})
    if mask:
        for name in MASKED_FIELDS:
            if isinstance(details.get(name), str):
                details[name] = mask_pii(details[name])
    # Normalise through JSON so that what is hashed is exactly what the database returns.
    details = json.loads(json.dumps(details, default=str))
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    head = session.get(AuditHead, 1, populate_existing=True)  # locked by the update above
    assert head is not None, "migration 0003 creates the audit head row"
    at = utcnow()
    digest = record_hash(
        id=head.seq, at=at, actor=actor, action=action, kb=kb, status=status, details=details, prev=head.hash
    )
    record = AuditRecord(
        id=head.seq,
        at=at,
        actor=actor[:160],
        action=action,
        kb=kb,
        status=status,
        details=details,
        prev_hash=head.hash,
        hash=digest,
    )
    head.hash = digest
    session.add(record)
    session.flush()
    return record


def write(engine: Engine, **fields: Any) -> None:
    """Append one record in its own transaction."""
    with write_gate(engine), Session(engine) as session:
        append(session, **fields)
        session.commit()


@dataclass(frozen=True)
class ChainReport:
    records: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, *, batch: int = 1000) -> ChainReport:
    """Walk the whole chain; every changed, deleted, inserted or reordered record is reported."""
    problems: list[str] = []
    prev, expected_id, count = GENESIS, 1, 0
    for record in _records(session, batch):
        count += 1
        if record.id != expected_id:
            problems.append(f"record {record.id}: expected id {expected_id} (records deleted or reordered)")
        if record.prev_hash != prev:
            problems.append(f"record {record.id}: does not follow record {record.id - 1} in the chain")
        digest = record_hash(
            id=record.id,
            at=record.at,
            actor=record.actor,
            action=record.action,
            kb=record.kb,
            status=record.status,
            details=record.details,
            prev=record.prev_hash,
        )
        if digest != record.hash:
            problems.append(f"record {record.id}: its content was changed after it was written")
        prev, expected_id = record.hash, record.id + 1
    head = session.get(AuditHead, 1)
    if head is None:
        problems.append("the audit head row is missing")
    elif head.seq != expected_id - 1 or head.hash != prev:
        problems.append(
            f"the last record is {expected_id - 1} but the head says {head.seq} (records removed at the end)"
        )
    return ChainReport(count, problems)


def _records(session: Session, batch: int) -> Iterator[AuditRecord]:
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditRecord).where(AuditRecord.id > last).order_by(AuditRecord.id).limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        session.expunge_all()
