"""Alembic migrations run forward and back on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

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
