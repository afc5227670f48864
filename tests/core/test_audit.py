"""The audit hash chain: appends link up; any edit, deletion, reordering or truncation is found,
and so is a chain re-hashed without the key or cut back past a published checkpoint."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from attest.core import audit
from attest.core.settings import Settings, get_settings

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def installation(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The audit log finds its key and checkpoint file through get_settings(), as in the server."""
    monkeypatch.setenv("ATTEST_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("ATTEST_AUDIT_KEY", raising=False)
    monkeypatch.delenv("ATTEST_AUDIT_CHECKPOINT_FILE", raising=False)
    monkeypatch.delenv("ATTEST_AUDIT_CHECKPOINT_EVERY", raising=False)
    get_settings.cache_clear()
    yield settings.data_dir
    get_settings.cache_clear()


def _configure(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"ATTEST_{name.upper()}", value)
    get_settings.cache_clear()


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


# An attacker with write access to the database, but not to the key or the checkpoint file.


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _hmac_with(key: bytes) -> Callable[[bytes], str]:
    return lambda body: hmac.new(key, body, hashlib.sha256).hexdigest()


def _body(row: Any, prev: str) -> bytes:
    """The fields a record's hash covers, serialised as the chain does."""
    at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(str(row.at))
    at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    details = row.details if isinstance(row.details, dict) else json.loads(row.details)
    fields = [row.id, at, row.actor, row.action, row.kb, row.status, details, prev]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _rewrite(engine: Engine, record_id: int, actor: str, digest: Callable[[bytes], str]) -> None:
    """Change one record's actor, then recompute its hash and every later one, and the head."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = :a WHERE id = :i"), {"a": actor, "i": record_id})
        rows = conn.execute(text("SELECT * FROM audit_log ORDER BY id")).all()
        prev = audit.GENESIS
        for row in rows:
            if row.id >= record_id:
                new = digest(_body(row, prev))
                conn.execute(
                    text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :i"),
                    {"p": prev, "h": new, "i": row.id},
                )
                prev = new
            else:
                prev = row.hash
        conn.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})


def _cut_tail(engine: Engine, keep: int) -> None:
    """Delete every record after ``keep`` and rewind the head to it."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id > :k"), {"k": keep})
        last = conn.execute(text("SELECT hash FROM audit_log WHERE id = :k"), {"k": keep}).scalar_one()
        conn.execute(text("UPDATE audit_head SET seq = :k, hash = :h WHERE id = 1"), {"k": keep, "h": last})


def test_rehashing_without_the_key_is_found(engine: Engine) -> None:
    _fill(engine)
    _rewrite(engine, 3, "user:mallory", _sha256)
    assert any(p.startswith("record 3: its content was changed") for p in _problems(engine))


def test_rehashing_with_a_guessed_key_is_found(engine: Engine) -> None:
    _fill(engine)
    _rewrite(engine, 2, "user:mallory", _hmac_with(b"attest"))
    assert any(p.startswith("record 2: its content was changed") for p in _problems(engine))


def test_rehashing_with_the_key_passes_the_chain_but_not_a_checkpoint(engine: Engine) -> None:
    """The key alone lets its holder forge the chain; a checkpoint still shows the change."""
    _fill(engine, 3)
    _rewrite(engine, 3, "user:mallory", _hmac_with(audit.audit_key()))
    assert _problems(engine) == []
    _rewrite(engine, 3, "user:u2", _hmac_with(audit.audit_key()))  # back to what was written
    assert audit.checkpoint(engine) is not None
    _rewrite(engine, 3, "user:mallory", _hmac_with(audit.audit_key()))
    problems = _problems(engine)
    assert len(problems) == 1 and problems[0].startswith("record 3: its hash is not the one the checkpoint")


def test_a_cut_tail_and_a_rewound_head_fail_past_a_checkpoint(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(monkeypatch, audit_checkpoint_every="4")
    _fill(engine, 6)  # record 4 is checkpointed as it is written
    _cut_tail(engine, 5)  # after the last checkpoint: undetectable, as the README says
    assert _problems(engine) == []
    _cut_tail(engine, 3)
    problems = _problems(engine)
    assert any(
        p.startswith("record 4: missing, but the checkpoint of") and "ends at record 3" in p for p in problems
    ), problems


def test_the_head_is_checkpointed_on_demand(engine: Engine, installation: Path) -> None:
    _fill(engine, 3)
    published = audit.checkpoint(engine)
    assert published is not None and published.seq == 3
    line = json.loads((installation / "audit-checkpoints.jsonl").read_text().splitlines()[-1])
    with Session(engine) as session:
        report = audit.verify(session)
    assert line["seq"] == 3 and line["hash"] == report.head and report.checkpoints == 1 and report.ok
    _cut_tail(engine, 2)
    assert any(p.startswith("record 3: missing") for p in _problems(engine))


def test_no_checkpoint_for_a_record_rolled_back(
    engine: Engine, installation: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = installation / "elsewhere" / "checkpoints.jsonl"
    _configure(monkeypatch, audit_checkpoint_every="1", audit_checkpoint_file=str(path))
    with Session(engine) as session:
        audit.append(session, actor="user:a", action="ask")
        session.rollback()
        audit.append(session, actor="user:a", action="ask")
        session.commit()
    with Session(engine) as session:
        report = audit.verify(session)
    assert report.ok and report.records == 1 and report.checkpoints == 1, report.problems
    assert json.loads(path.read_text())["seq"] == 1  # one line, for the record kept


def test_the_key_file_is_private_and_the_setting_wins(
    engine: Engine, installation: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(engine, 2)
    key_file = installation / "audit-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert audit.audit_key() == key_file.read_text().strip().encode()
    audit.checkpoint(engine)
    _configure(monkeypatch, audit_key="a-key-from-the-vault")
    assert audit.audit_key() == b"a-key-from-the-vault"
    problems = _problems(engine)  # every record was keyed with the file's key
    assert any("published under another audit key" in p for p in problems)
    assert any(p.startswith("record 1: its content was changed") for p in problems)


def test_an_edited_checkpoint_file_is_reported(engine: Engine, installation: Path) -> None:
    _fill(engine, 2)
    audit.checkpoint(engine)
    with (installation / "audit-checkpoints.jsonl").open("a") as handle:
        handle.write("not json\n")
    assert any("line 2 of" in p and "is not a checkpoint" in p for p in _problems(engine))
