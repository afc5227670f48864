"""re-chain the audit log with the installation's HMAC key

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Records written before the key were chained by plain SHA-256, which anyone can recompute;
they are re-chained under the key (ATTEST_AUDIT_KEY, or ``<data dir>/audit-key``), which
is why attest/core/audit.py needs no "keyed from record N" marker. A record that fails the
old check keeps what makes it fail: a changed record keeps its stored hash (which the key
does not reproduce) and a broken link keeps its stored previous hash, so ``attest audit
verify`` still names it afterwards. The downgrade re-chains with plain SHA-256 the same way.
"""

import hashlib
import hmac
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from attest.core.audit import GENESIS, audit_key, canonical

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
_LOG = sa.table(
    "audit_log",
    sa.column("id", sa.Integer()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("kb", sa.String()),
    sa.column("status", sa.Integer()),
    sa.column("details", sa.JSON()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)
_HEAD = sa.table("audit_head", sa.column("id", sa.Integer()), sa.column("seq"), sa.column("hash"))
Digest = Callable[[bytes], str]


def _plain(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _keyed() -> Digest:
    key = audit_key()
    return lambda body: hmac.new(key, body, hashlib.sha256).hexdigest()


def upgrade() -> None:
    if _has_records():
        _rechain(old=_plain, new=_keyed())


def downgrade() -> None:
    if _has_records():
        _rechain(old=_keyed(), new=_plain)


def _has_records() -> bool:
    # An empty log needs no key, so a fresh database creates no key file.
    return op.get_bind().scalar(sa.select(_LOG.c.id).limit(1)) is not None


def _rechain(*, old: Digest, new: Digest) -> None:
    bind = op.get_bind()
    prev_old, prev_new, last = GENESIS, GENESIS, 0
    while rows := bind.execute(
        sa.select(_LOG).where(_LOG.c.id > last).order_by(_LOG.c.id).limit(BATCH)
    ).all():
        changes = []
        for row in rows:
            fields = {c: getattr(row, c) for c in ("id", "at", "actor", "action", "kb", "status", "details")}
            prev = prev_new if row.prev_hash == prev_old else row.prev_hash
            intact = old(canonical(**fields, prev=row.prev_hash)) == row.hash
            digest = new(canonical(**fields, prev=prev)) if intact else row.hash
            changes.append({"row_id": row.id, "prev_hash": prev, "hash": digest})
            prev_old, prev_new, last = row.hash, digest, row.id
        bind.execute(_LOG.update().where(_LOG.c.id == sa.bindparam("row_id")), changes)
    head = bind.execute(sa.select(_HEAD.c.hash).where(_HEAD.c.id == 1)).scalar()
    if head == prev_old:
        bind.execute(_HEAD.update().where(_HEAD.c.id == 1).values(hash=prev_new))
