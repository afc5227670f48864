"""the job queue: when a job was queued, how often it was interrupted, an index on its status

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09

``ATTEST_JOB_RUNNER=worker`` makes the API queue jobs (status "queued") for ``attest
worker`` processes. The status is stored as a plain string, so the new value needs no DDL;
the workers look for queued jobs and for running ones whose process died, hence the index.
The downgrade cancels the jobs still queued: the code of 0005 knows no such status and
nothing there would run them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JOBS = sa.table(
    "ingest_jobs",
    sa.column("status", sa.String()),
    sa.column("error", sa.Text()),
    sa.column("finished_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("ingest_jobs") as batch:
        batch.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index(batch.f("ix_ingest_jobs_status"), ["status"], unique=False)


def downgrade() -> None:
    op.get_bind().execute(
        _JOBS.update()
        .where(_JOBS.c.status == "queued")
        .values(status="cancelled", error="cancelled: the database was downgraded", finished_at=sa.func.now())
    )
    # Dropping a column may recreate the table on SQLite: it keeps AUTOINCREMENT (see 0004).
    with op.batch_alter_table("ingest_jobs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index(batch.f("ix_ingest_jobs_status"))
        batch.drop_column("attempts")
        batch.drop_column("queued_at")
