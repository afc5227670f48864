"""The audit log's outcome filter in SQL reads outcomes as the dashboard does, on SQLite and
PostgreSQL: the stored one, or for older records the old rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from attest.core import audit, db
from attest.core.dashboard import ask_from_details, outcome_filter
from attest.core.models import AuditRecord, Outcome
from attest.core.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _audit_key_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The audit key and checkpoints go to this test's folder, not the working directory."""
    monkeypatch.setenv("ATTEST_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


RECORDS = [  # (action, details, the outcome it is read as)
    ("ask", {"answered": True, "outcome": "supported", "verdict": {"unsupported": 0}}, "supported"),
    ("ask", {"answered": True, "outcome": "unsupported", "verdict": {"unsupported": 1}}, "unsupported"),
    ("ask", {"answered": True, "outcome": "off_topic", "verdict": {"unsupported": 0}}, "off_topic"),
    ("ask", {"answered": False, "outcome": "declined", "verdict": None}, "declined"),
    # the stored outcome wins over what the old rule would make of the rest
    ("ask", {"answered": True, "outcome": "declined", "verdict": {"unsupported": 3}}, "declined"),
    # records written before the outcome was stored: the old rule
    ("ask", {"answered": True, "verdict": {"unsupported": 0, "supported": 2}}, "supported"),
    ("ask", {"answered": True, "verdict": {"unsupported": 2, "supported": 1}}, "unsupported"),
    ("ask", {"answered": False, "verdict": None}, "declined"),
    ("ask", {"answered": True, "verdict": None}, "supported"),  # no verdict: nothing flagged
    ("ask", {"answered": True, "verdict": {"unsupported": 0, "answers_question": False}}, "supported"),
    ("ask", {"question": "written before 'answered' was recorded"}, "supported"),
    ("kb.create", {"answered": False, "outcome": "declined"}, None),  # not a question
]


def check(engine: Engine) -> None:
    with Session(engine) as session:
        for action, details, _ in RECORDS:
            audit.append(session, actor="user:t", action=action, details=details)
        session.commit()
        for outcome in Outcome:
            found = session.scalars(select(AuditRecord.id).where(outcome_filter(outcome))).all()
            expected = [i for i, (*_, read_as) in enumerate(RECORDS, start=1) if read_as == outcome]
            assert sorted(found) == expected, outcome
            read_by_the_dashboard = [
                i
                for i, (action, details, _) in enumerate(RECORDS, start=1)
                if action == "ask" and ask_from_details(datetime.now(), details).outcome == outcome
            ]
            assert read_by_the_dashboard == expected, outcome


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
