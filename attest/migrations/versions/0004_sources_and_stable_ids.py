"""sources keep the ACL and tags they were ingested with; ids are never reused; tokens carry a generation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

SQLite hands out ``max(rowid) + 1``, so deleting the newest user (document, chunk, ...)
gave its id to the next one: a deleted viewer's token then named the new admin, and an
audit record's chunk id named another document's text. ``AUTOINCREMENT`` never reuses an
id; on SQLite it can only be declared by recreating the table (the environment turns
foreign keys off while migrating, so recreating a parent does not cascade into its
children). PostgreSQL's sequences never go back, so there nothing changes.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table whose rows are deleted and whose ids are referred to from elsewhere
# (tokens, audit records, conversations, index files).
TABLES = (
    "knowledge_bases",
    "documents",
    "chunks",
    "index_versions",
    "ingest_jobs",
    "users",
    "groups",
    "grants",
    "api_keys",
    "conversations",
    "messages",
    "feedback",
)


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "kb_id", sa.Integer(), sa.ForeignKey("knowledge_bases.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("acl", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kb_id", "path", name="uq_source_path"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_sources_kb_id", "sources", ["kb_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
                pass
    _backfill_sources()


def _backfill_sources() -> None:
    """One source per folder or file a successful job read, with the ACL its documents share.

    Older installations kept no source ACL. Each document counts towards the most specific
    source it lies under. A source whose documents are all open stays open; otherwise it
    takes the groups its restricted documents share or, when they share none, a group no
    one can be in (:data:`UNSET_ACL`), so that a new file there stays hidden from all but
    admins until an editor sets its ACL. Restricting too much is the safe direction.
    """
    bind = op.get_bind()
    jobs = sa.table("ingest_jobs", sa.column("kb_id"), sa.column("sources", sa.JSON()), sa.column("status"))
    docs = sa.table("documents", sa.column("kb_id"), sa.column("source_uri"), sa.column("acl", sa.JSON()))
    sources = sa.table(
        "sources",
        sa.column("kb_id"),
        sa.column("path"),
        sa.column("acl", sa.JSON()),
        sa.column("tags", sa.JSON()),
        sa.column("created_by"),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    roots: set[tuple[int, str]] = set()
    query = sa.select(jobs.c.kb_id, jobs.c.sources).where(jobs.c.status == "succeeded")
    for kb_id, paths in bind.execute(query):
        roots.update((kb_id, str(p)) for p in paths or [])
    acls: dict[tuple[int, str], list[list[str]]] = {root: [] for root in roots}
    for kb_id, uri, acl in bind.execute(sa.select(docs.c.kb_id, docs.c.source_uri, docs.c.acl)):
        under = [
            r for r in roots if r[0] == kb_id and (uri == r[1] or uri.startswith(r[1].rstrip("/") + "/"))
        ]
        if under:
            acls[max(under, key=lambda r: len(r[1]))].append([str(g) for g in acl or []])
    now = datetime.now(UTC)
    rows = [
        {
            "kb_id": kb_id,
            "path": path,
            "acl": _strictest(acls[(kb_id, path)]),
            "tags": [],
            "created_by": "migration 0004",
            "created_at": now,
            "updated_at": now,
        }
        for kb_id, path in sorted(roots)
    ]
    if rows:
        op.bulk_insert(sources, rows)


UNSET_ACL = "(set an ACL)"  # not a valid group name, so no user or key is ever in it


def _strictest(acls: list[list[str]]) -> list[str]:
    restricted = [set(acl) for acl in acls if acl]
    if not restricted:
        return []
    shared = set.intersection(*restricted)
    return sorted(shared) if shared else [UNSET_ACL]


def downgrade() -> None:
    # The tables keep AUTOINCREMENT: it changes nothing the older code relies on.
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_generation")
    op.drop_index("ix_sources_kb_id", table_name="sources")
    op.drop_table("sources")
