"""Database engine, sessions and migrations."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from attest.core.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


# Up to one connection per API worker thread (AnyIO runs sync routes on 40): a request
# never waits for the pool behind requests that wait for the database (bench/load.py).
POOL = {"pool_size": 10, "max_overflow": 40, "pool_timeout": 60}


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **POOL)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **POOL)


_WRITE_GATES: dict[str, threading.Lock] = {}
_GATES_LOCK = threading.Lock()


def write_gate(engine: Engine) -> AbstractContextManager[object]:
    """Hold this around a busy write transaction so the process's threads take turns on SQLite.

    SQLite has one writer at a time, and a connection that finds the database locked polls
    for it with growing sleeps, so under load (40 API threads, one CPU-bound process) some
    requests lose every round and give up after the busy timeout. Threads waiting here
    instead queue without a time limit, and only one of them at a time competes with other
    processes and the ingest thread for the lock (bench/load.py through a re-index: 17
    "database is locked" failures in 3,995 questions before, 1 after, and that one was the
    wait that :func:`attest.api.deps.rule` removes). PostgreSQL queues writers on row
    locks by itself, so there the gate does nothing.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    key = str(engine.url)
    with _GATES_LOCK:
        gate = _WRITE_GATES.setdefault(key, threading.Lock())
    return gate


def private_data_dir(path: Path) -> Path:
    """Create the data directory readable by its owner only (mode 0700), or make it so.

    It holds restricted text (the database, index versions, uploads) and the signing
    secrets; closing the directory closes everything in it, whatever the files' own modes.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_mode & 0o077 and info.st_uid == os.getuid():
        path.chmod(0o700)
    return path


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database)."""
    settings = get_settings()
    if url is None and settings.database_url is None:
        private_data_dir(settings.data_dir)
    return make_engine(url or settings.sqlalchemy_url)


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the packaged migrations and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Migrate the database forward (the only way the schema is created)."""
    command.upgrade(alembic_config(url or _default_url()), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Migrate the database back to ``revision``."""
    command.downgrade(alembic_config(url or _default_url()), revision)


def _default_url() -> str:
    settings = get_settings()
    if settings.database_url is None:
        private_data_dir(settings.data_dir)
    return settings.sqlalchemy_url


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error."""
    factory = sessionmaker(bind=engine or get_engine(), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def create_database(server_url: str, prefix: str) -> str:
    """Create an empty PostgreSQL database named ``prefix`` + a random suffix on the server
    of ``server_url`` (a URL of an existing database there); the new database's URL.

    For tests and benchmarks, which each want a database of their own.
    """
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(server_url: str, database_url: str) -> None:
    """Drop the database of ``database_url``, made by :func:`create_database`, even if in use."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database_url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()
