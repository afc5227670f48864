"""Alembic environment: metadata from the ORM models, URL from the caller or the settings."""

from __future__ import annotations

from alembic import context

from attest.core.db import make_engine
from attest.core.models import Base
from attest.core.settings import get_settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations recreate SQLite tables; with foreign keys on, dropping the old
            # copy of a parent table would cascade-delete its children. The pragma only takes
            # effect outside a transaction, so it is set before the migrations' one begins.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            if broken:
                raise RuntimeError(f"the migration left rows whose parent is missing: {broken[:5]}")
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
