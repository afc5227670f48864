"""Migration 0005 re-chains an existing, unkeyed audit log with the key, and hides no tampering."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from attest.core import audit, db
from attest.core.models import AuditHead, AuditRecord
from attest.core.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("ATTEST_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ATTEST_AUDIT_KEY", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _unkeyed_log(engine: Engine, n: int) -> None:
    """``n`` records chained by plain SHA-256, as written before the key."""
    prev, start = audit.GENESIS, datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        for i in range(1, n + 1):
            fields = {
                "id": i,
                "at": start + timedelta(minutes=i),
                "actor": f"user:u{i}",
                "action": "ask",
                "kb": "demo",
                "status": 200,
                "details": {"question": f"q{i}"},
            }
            digest = hashlib.sha256(audit.canonical(**fields, prev=prev)).hexdigest()
            conn.execute(AuditRecord.__table__.insert().values(**fields, prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=n, hash=prev))


def _hashes(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditRecord.hash).order_by(AuditRecord.id)))


def _problems(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return audit.verify(session).problems


def test_unkeyed_records_are_rechained_and_a_changed_one_stays_changed(installation: Path) -> None:
    url = f"sqlite:///{installation / 'attest.db'}"
    db.upgrade(url, "0004")
    engine = db.make_engine(url)
    try:
        _unkeyed_log(engine, 4)
        before = _hashes(engine)
        with engine.begin() as conn:  # tampered with before the upgrade
            conn.execute(text("UPDATE audit_log SET actor = 'user:mallory' WHERE id = 2"))
        db.upgrade(url)
        assert (installation / "audit-key").exists()
        after = _hashes(engine)
        assert after[1] == before[1]  # kept, so that it still fails
        assert all(a != b for i, (a, b) in enumerate(zip(after, before, strict=True)) if i != 1)
        assert _problems(engine) == ["record 2: its content was changed after it was written"]
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor = 'user:u2' WHERE id = 2"))
        # Record 2 was keyed neither way; record 3 follows its stored (unkeyed) hash.
        assert _problems(engine) == ["record 2: its content was changed after it was written"]
        db.downgrade(url, "0004")
        assert _hashes(engine) == before  # plain SHA-256 again, and the put-back record verifies
    finally:
        engine.dispose()


def test_an_intact_unkeyed_log_verifies_after_the_upgrade(installation: Path) -> None:
    url = f"sqlite:///{installation / 'attest.db'}"
    db.upgrade(url, "0004")
    engine = db.make_engine(url)
    try:
        _unkeyed_log(engine, 3)
        with Session(engine) as session:
            assert audit.verify(session).problems  # the key does not reproduce unkeyed hashes
        db.upgrade(url)
        assert _problems(engine) == []
        audit.write(engine, actor="user:new", action="ask")  # the chain goes on from the re-chained head
        assert _problems(engine) == []
    finally:
        engine.dispose()


def test_a_fresh_database_creates_no_key(installation: Path) -> None:
    db.upgrade(f"sqlite:///{installation / 'attest.db'}")
    assert not (installation / "audit-key").exists()
