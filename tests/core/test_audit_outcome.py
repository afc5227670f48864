"""The audit log's outcome filter in SQL agrees with the dashboard's rule, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from attest.core import audit, db
from attest.core.dashboard import OUTCOMES, ask_from_details, outcome_filter
from attest.core.models import AuditRecord
from attest.core.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _audit_key_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The audit key and checkpoints go to this test's folder, not the working directory."""
    monkeypatch.setenv("ATTEST_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


RECORDS = [
    ("ask", {"answered": True, "verdict": {"unsupported": 0, "supported": 2}}),
    ("ask", {"answered": True, "verdict": {"unsupported": 2, "supported": 1}}),
    ("ask", {"answered": False, "verdict": None}),
    ("ask", {"answered": True, "verdict": None}),  # no verdict: nothing flagged
    ("ask", {"question": "written before 'answered' was recorded"}),
    ("kb.create", {"answered": False}),  # not a question
]


def check(engine: Engine) -> None:
    with Session(engine) as session:
        for action, details in RECORDS:
            audit.append(session, actor="user:t", action=action, details=details)
        session.commit()
        for outcome in OUTCOMES:
            found = session.scalars(select(AuditRecord.id).where(outcome_filter(outcome))).all()
            expected = [
                i
                for i, (action, details) in enumerate(RECORDS, start=1)
                if action == "ask" and ask_from_details(datetime.now(), details).outcome == outcome
            ]
            assert sorted(found) == expected, outcome
    with pytest.raises(ValueError, match="unknown outcome"):
        outcome_filter("maybe")


def test_outcome_filter(engine: Engine) -> None:
    check(engine)


@pytest.mark.postgres
def test_outcome_filter_on_postgres(postgres_url: str) -> None:
    db.upgrade(postgres_url)
    engine = db.make_engine(postgres_url)
    try:
        check(engine)
    finally:
        engine.dispose()
