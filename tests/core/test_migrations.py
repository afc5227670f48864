"""Alembic migrations run forward and back on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, inspect, text

from attest.core import db
from attest.core.models import Base

pytestmark = pytest.mark.integration

TABLES = {"knowledge_bases", "documents", "chunks", "index_versions", "ingest_jobs"}


def _round_trip(url: str) -> None:
    db.upgrade(url)
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    # The migration creates exactly what the models declare.
    for table in Base.metadata.sorted_tables:
        columns = {c["name"] for c in inspect(engine).get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name
    db.downgrade(url)
    assert not TABLES & set(inspect(engine).get_table_names())
    db.upgrade(url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_sqlite_up_down_up(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgres_up_down_up(postgres_url: str) -> None:
    _round_trip(postgres_url)


def _insert(conn: Connection, table: str, **values: object) -> None:
    columns = ", ".join(values)
    conn.execute(
        text(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(':' + c for c in values)})"), values
    )


def test_upgrade_to_0004_keeps_every_row_and_backfills_source_acls(tmp_path: Path) -> None:
    """0004 recreates the SQLite tables (AUTOINCREMENT) with foreign keys off: no child row
    is cascade-deleted, and each ingested folder becomes a source with its documents' ACL."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    db.upgrade(url, "0003")
    engine = db.make_engine(url)  # foreign keys on, as in production
    now = "2026-11-30 10:00:00"
    empty = {"title": "", "media_type": "", "content_hash": "", "pipeline_signature": "", "size_bytes": 0}
    document = {**empty, "status": "indexed", "tags": "[]", "metadata": "{}", "text": ""}
    with engine.begin() as conn:
        _insert(conn, "knowledge_bases", id=1, name="kb", description="", entity_terms="{}",
                content_revision=1, created_at=now)  # fmt: skip
        for doc_id, uri, acl in ((1, "/srv/hr/pay.txt", '["hr"]'), (2, "/srv/open/faq.txt", "[]")):
            _insert(conn, "documents", id=doc_id, kb_id=1, source_uri=uri, acl=acl, **document,
                    created_at=now, updated_at=now)  # fmt: skip
            _insert(conn, "chunks", document_id=doc_id, kb_id=1, position=0, text="t", token_start=0,
                    token_end=1, char_start=0, char_end=1, entities="[]", embedding=b"\0")  # fmt: skip
        _insert(conn, "ingest_jobs", kb_id=1, status="succeeded", sources='["/srv/hr", "/srv/open"]', sync=0,
                owner="", documents_total=0, documents_done=0, chunks_done=0, summary="{}",
                cancel_requested=0, started_by="", started_at=now, heartbeat_at=now)  # fmt: skip
    engine.dispose()
    db.upgrade(url)
    engine = db.make_engine(url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM chunks")).scalar() == 2
        assert conn.execute(text("SELECT count(*) FROM documents")).scalar() == 2
        sources = dict(conn.execute(text("SELECT path, acl FROM sources")).all())
        assert sources == {"/srv/hr": '["hr"]', "/srv/open": "[]"}
        conn.execute(text("DELETE FROM documents WHERE id = 2"))
        _insert(conn, "documents", kb_id=1, source_uri="/srv/open/new.txt", acl="[]", **document,
                created_at=now, updated_at=now)  # fmt: skip
        newest = conn.execute(text("SELECT max(id) FROM documents")).scalar()
    assert newest == 3  # not 2: a deleted document's id is never handed out again
    engine.dispose()
