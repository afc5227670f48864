"""The audit log: append-only records chained by a keyed hash, and the check that finds tampering.

Each record's hash is an HMAC-SHA256 of its own fields and the previous record's hash,
under a key kept outside the database (``ATTEST_AUDIT_KEY``, or a random key created once
in ``<data dir>/audit-key``, mode 0600); ids run 1, 2, 3, ... without gaps; a one-row head
table holds the last id and hash. So an edited record breaks its own hash, a deleted or
reordered one breaks the chain or the numbering, and whoever can write the database but
not read the key cannot compute the hashes that would hide a change.

What a key cannot show is a cut tail: delete the last records, rewind the head, and what
is left is a valid chain. So the head's id and hash are also published outside the
database, as checkpoints (:mod:`attest.core.audit_checkpoints`): after every
``ATTEST_AUDIT_CHECKPOINT_EVERY``-th record, after every successful verify and when the
server stops. Verify requires every checkpointed record to be still there with that hash.

Appending first updates the head row, which takes the database's write lock (SQLite) or
the row lock (PostgreSQL): concurrent writers, in one process or several, line up instead
of forking the chain.

Installations whose records predate the key are re-chained with it by migration 0005
rather than verified as "keyed from record N": unkeyed hashes protect nothing that anyone
could not recompute, so keying them loses nothing, while a "from N" marker would be one
more value a database writer could move. A record that already failed the unkeyed check
keeps its failure through the migration, so re-chaining hides no earlier tampering.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from attest.core import audit_checkpoints as checkpoints
from attest.core.db import write_gate
from attest.core.models import AuditHead, AuditRecord, utcnow
from attest.core.security import installation_secret
from attest.core.settings import Settings, get_settings

log = logging.getLogger(__name__)
GENESIS = "0" * 64
_PENDING = "attest.audit.checkpoint"  # session.info: (seq, hash) to publish once committed
_HOOKED = "attest.audit.hooked"

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


def audit_key(settings: Settings | None = None) -> bytes:
    """The chain's HMAC key: ``ATTEST_AUDIT_KEY``, or the installation's own (created on first use)."""
    settings = settings or get_settings()
    configured = settings.audit_key.get_secret_value()
    if configured:
        return configured.encode()
    return installation_secret(Path(settings.data_dir).resolve() / "audit-key").encode()


def canonical(
    *, id: int, at: datetime, actor: str, action: str, kb: str | None, status: int, details: Any, prev: str
) -> bytes:
    """The bytes a record's hash covers: its fields and the previous record's hash."""
    body = json.dumps(
        [id, _iso(at), actor, action, kb, status, details, prev],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return body.encode()


def record_hash(key: bytes, **fields: Any) -> str:
    """HMAC-SHA256 (RFC 2104) of the record's :func:`canonical` bytes."""
    return hmac.new(key, canonical(**fields), hashlib.sha256).hexdigest()


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
    settings = get_settings()
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
        audit_key(settings),
        id=head.seq,
        at=at,
        actor=actor,
        action=action,
        kb=kb,
        status=status,
        details=details,
        prev=head.hash,
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
    every = settings.audit_checkpoint_every
    if every and record.id % every == 0:
        _checkpoint_on_commit(session, record.id, digest)
    return record


def write(engine: Engine, **fields: Any) -> None:
    """Append one record in its own transaction."""
    with write_gate(engine), Session(engine) as session:
        append(session, **fields)
        session.commit()


def _checkpoint_on_commit(session: Session, seq: int, digest: str) -> None:
    """Publish (seq, digest) once the transaction that wrote it commits; never if it rolls back
    (a checkpoint of a record that was never kept would fail every later verify)."""
    session.info[_PENDING] = (seq, digest)
    if session.info.get(_HOOKED):
        return
    session.info[_HOOKED] = True

    def published(session: Session) -> None:
        pending = session.info.pop(_PENDING, None)
        if pending is None:
            return
        try:
            checkpoints.publish(get_settings(), seq=pending[0], hash=pending[1], key=audit_key())
        except OSError:  # the record is committed; a missed checkpoint only narrows the check
            log.exception("could not publish the audit checkpoint of record %s", pending[0])

    def discarded(session: Session, previous_transaction: Any) -> None:
        session.info.pop(_PENDING, None)

    event.listen(session, "after_commit", published)
    event.listen(session, "after_soft_rollback", discarded)


def checkpoint(engine: Engine, settings: Settings | None = None) -> checkpoints.Checkpoint | None:
    """Publish the current head (at server shutdown); None when the log is empty or out of reach."""
    settings = settings or get_settings()
    try:
        with Session(engine) as session:
            head = session.get(AuditHead, 1)
            seq, digest = (head.seq, head.hash) if head is not None else (0, GENESIS)
        if seq == 0:
            return None
        return checkpoints.publish(settings, seq=seq, hash=digest, key=audit_key(settings))
    except (OSError, SQLAlchemyError):
        log.exception("could not publish the audit checkpoint")
        return None


@dataclass(frozen=True)
class ChainReport:
    records: int
    problems: list[str]
    head: str = GENESIS  # the last record's hash, to publish once the chain is found intact
    checkpoints: int = 0  # published checkpoints the chain was compared with

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, *, settings: Settings | None = None, batch: int = 1000) -> ChainReport:
    """Walk the whole chain and compare it with the published checkpoints; every changed,
    deleted, inserted or reordered record, and every record cut from the end past a
    checkpoint, is reported."""
    settings = settings or get_settings()
    key = audit_key(settings)
    published = checkpoints.read(settings, key=key)
    problems = list(published.problems)
    expected = published.by_seq()
    prev, expected_id, count = GENESIS, 1, 0
    for record in _records(session, batch):
        count += 1
        if record.id != expected_id:
            problems.append(f"record {record.id}: expected id {expected_id} (records deleted or reordered)")
        if record.prev_hash != prev:
            problems.append(f"record {record.id}: does not follow record {record.id - 1} in the chain")
        digest = record_hash(
            key,
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
        for seen in expected.pop(record.id, []):
            if seen.hash != record.hash:
                problems.append(f"record {record.id}: its hash is not the one {seen.where} published")
        prev, expected_id = record.hash, record.id + 1
    if expected:
        seen = expected[max(expected)][0]
        problems.append(
            f"record {seen.seq}: missing, but {seen.where} published it; the log now ends at record "
            f"{expected_id - 1} (records removed at the end)"
        )
    head = session.get(AuditHead, 1)
    if head is None:
        problems.append("the audit head row is missing")
    elif head.seq != expected_id - 1 or head.hash != prev:
        problems.append(
            f"the last record is {expected_id - 1} but the head says {head.seq} (records removed at the end)"
        )
    return ChainReport(count, problems, head=prev, checkpoints=len(published.items))


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
