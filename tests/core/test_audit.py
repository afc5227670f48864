"""The audit hash chain: appends link up; any edit, deletion, reordering or truncation is found."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from attest.core import audit

pytestmark = pytest.mark.integration


def _fill(engine: Engine, n: int = 5) -> None:
    for i in range(n):
        audit.write(
            engine, actor=f"user:u{i}", action="ask", kb="demo", status=200, details={"question": f"q{i}"}
        )


def _problems(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return audit.verify(session).problems


def test_an_untouched_chain_verifies(engine: Engine) -> None:
    _fill(engine)
    with Session(engine) as session:
        report = audit.verify(session)
    assert report.ok and report.records == 5


@pytest.mark.parametrize(
    ("tamper", "found"),
    [
        ("UPDATE audit_log SET actor = 'user:mallory' WHERE id = 3", "record 3: its content was changed"),
        ('UPDATE audit_log SET details = \'{"question": "other"}\' WHERE id = 2', "record 2: its content"),
        ("DELETE FROM audit_log WHERE id = 3", "record 4: expected id 3"),
        ("DELETE FROM audit_log WHERE id = 5", "records removed at the end"),
        (
            "UPDATE audit_log SET id = 100 WHERE id = 2; UPDATE audit_log SET id = 2 WHERE id = 4; "
            "UPDATE audit_log SET id = 4 WHERE id = 100",
            "record 2",
        ),
    ],
)
def test_tampering_is_found(engine: Engine, tamper: str, found: str) -> None:
    _fill(engine)
    with engine.begin() as conn:
        for statement in tamper.split("; "):
            conn.execute(text(statement))
    problems = _problems(engine)
    assert any(found in p for p in problems), problems


def test_concurrent_writers_keep_one_chain(engine: Engine) -> None:
    threads = [threading.Thread(target=_fill, args=(engine, 10)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(engine) as session:
        report = audit.verify(session)
    assert report.ok and report.records == 40


def test_masking_replaces_identifiers() -> None:
    masked = audit.mask_pii(
        "Mail jane.doe@kestrel.example or call +44 20 7946 0958 about card 4111 1111 1111 1111."
    )
    assert "jane.doe" not in masked and "7946" not in masked and "4111" not in masked
    assert "[email]" in masked and "[phone]" in masked and "[card]" in masked
    assert audit.mask_pii("We have 27 days of leave in 2026.") == "We have 27 days of leave in 2026."


def test_masked_fields_are_stored_masked(engine: Engine) -> None:
    audit.write(engine, actor="user:a", action="ask", details={"question": "Is bob@x.example ok?"}, mask=True)
    with Session(engine) as session:
        stored = session.execute(text("SELECT details FROM audit_log")).scalar_one()
        assert "bob@x.example" not in str(stored)
        assert audit.verify(session).ok
