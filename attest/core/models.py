"""SQLAlchemy ORM models: the database schema (created only by Alembic migrations)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from attest.core.enums import Choice
from attest.core.enums import Policy as Policy  # re-exported, beside the other stored modes


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


# SQLite AUTOINCREMENT: an id is never handed out twice, even after its row is deleted
# (tokens, audit records and index files refer to ids). PostgreSQL sequences already behave so.
_NEVER_REUSED = {"sqlite_autoincrement": True}


class DocumentStatus(enum.StrEnum):
    PENDING = "pending"  # uploaded, waiting for the next re-index job
    INDEXED = "indexed"
    FAILED = "failed"


class IndexStatus(enum.StrEnum):
    BUILDING = "building"
    ACTIVE = "active"
    RETIRED = "retired"
    FAILED = "failed"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for an ``attest worker`` (ATTEST_JOB_RUNNER=worker)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Role(Choice):
    ADMIN = "admin"  # everything
    EDITOR = "editor"  # manage documents and re-index in granted knowledge bases
    VIEWER = "viewer"  # ask in granted knowledge bases


class Outcome(enum.StrEnum):
    """How a question ended, as its ``ask`` audit record stores it. ``attest.answers.outcome_of``
    decides it; the dashboard and the audit log's filter read it back."""

    SUPPORTED = "supported"  # answered, every claim supported by the sources
    UNSUPPORTED = "unsupported"  # answered, at least one claim not supported
    OFF_TOPIC = "off_topic"  # answered, claims supported, but it does not answer the question
    DECLINED = "declined"  # not answered


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (no native ENUM type) so that adding a value needs no DDL.
    return Enum(cls, name=name, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class KnowledgeBase(Base):
    __tablename__ = "knowledge_bases"
    __table_args__ = _NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # Admin-supplied entity terms: {"PRODUCT": ["Harbor", ...], "TEAM": [...]}
    entity_terms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # flag, strip, refuse or regenerate; None: ATTEST_VERIFY_POLICY.
    verify_policy: Mapped[str | None] = mapped_column(String(16), default=None)
    # Bumped whenever a document's chunks change; an index version records the revision it holds.
    content_revision: Mapped[int] = mapped_column(Integer, default=0)
    active_index_id: Mapped[int | None] = mapped_column(
        ForeignKey("index_versions.id", use_alter=True, name="fk_kb_active_index", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    documents: Mapped[list[Document]] = relationship(
        back_populates="knowledge_base", cascade="all, delete-orphan", passive_deletes=True
    )


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("kb_id", "source_uri", name="uq_document_source"), _NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    source_uri: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(String(512), default="")
    media_type: Mapped[str] = mapped_column(String(128), default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    # Model and chunking parameters the chunks were made with; a change re-processes the file.
    pipeline_signature: Mapped[str] = mapped_column(String(256), default="")
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[DocumentStatus] = mapped_column(_enum(DocumentStatus, "document_status"))
    error: Mapped[str | None] = mapped_column(Text)
    acl: Mapped[list[Any]] = mapped_column(default=list)  # group names; empty: everyone with KB access
    tags: Mapped[list[Any]] = mapped_column(default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    text: Mapped[str] = mapped_column(Text, default="")  # extracted text; chunk offsets point into it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    knowledge_base: Mapped[KnowledgeBase] = relationship(back_populates="documents")
    chunks: Mapped[list[Chunk]] = relationship(
        back_populates="document",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Chunk.position",
    )


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (Index("ix_chunks_document_position", "document_id", "position"), _NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    token_start: Mapped[int] = mapped_column(Integer)
    token_end: Mapped[int] = mapped_column(Integer)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer)
    entities: Mapped[list[Any]] = mapped_column(default=list)  # [{"label", "text", "start", "end"}]
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32, normalized

    document: Mapped[Document] = relationship(back_populates="chunks")


class Source(Base):
    """A folder or file a knowledge base is ingested from, with the ACL and tags it was given.

    Every document a later job creates under it (a new file, a deleted one that came back,
    one that failed to load) takes these, whoever runs the job, so that a re-index never
    creates an open document in a restricted folder.
    """

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("kb_id", "path", name="uq_source_path"), _NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(2048))
    acl: Mapped[list[Any]] = mapped_column(default=list)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class IndexVersion(Base):
    __tablename__ = "index_versions"
    __table_args__ = (UniqueConstraint("kb_id", "version", name="uq_index_version"), _NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[IndexStatus] = mapped_column(_enum(IndexStatus, "index_status"))
    path: Mapped[str] = mapped_column(String(2048))
    embedding_model: Mapped[str] = mapped_column(String(512))
    embedding_dim: Mapped[int] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    document_count: Mapped[int] = mapped_column(Integer, default=0)
    content_revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IngestJob(Base):
    __tablename__ = "ingest_jobs"
    __table_args__ = _NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"), index=True)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    sync: Mapped[bool] = mapped_column(default=False)
    owner: Mapped[str] = mapped_column(String(256), default="")  # host:pid of the process running it
    # When it was queued for the workers; None for a job run at once by the process that
    # started it (`attest ingest`, an API thread). Only a queued job is run again when its
    # process dies, ``attempts`` counting how often that happened.
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    documents_total: Mapped[int] = mapped_column(Integer, default=0)
    documents_done: Mapped[int] = mapped_column(Integer, default=0)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    index_version_id: Mapped[int | None] = mapped_column(ForeignKey("index_versions.id", ondelete="SET NULL"))
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    started_by: Mapped[str] = mapped_column(String(256), default="")  # the API caller, or "" for the CLI
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class User(Base):
    __tablename__ = "users"
    __table_args__ = _NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    groups: Mapped[list[Any]] = mapped_column(default=list)  # group names; matched against document ACLs
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped by a password change or deactivation: tokens issued before stop working.
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = _NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Grant(Base):
    """A knowledge base granted to one user or to every member of a group."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("kb_id", "user_id", "group_name", name="uq_grant"), _NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    group_name: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    """A key for an integration: shown once, stored as a SHA-256 hash, scoped to a role and KBs."""

    __tablename__ = "api_keys"
    __table_args__ = _NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # shown in lists, used for lookup
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    kb_ids: Mapped[list[Any]] = mapped_column(default=list)  # the knowledge bases it may use
    groups: Mapped[list[Any]] = mapped_column(default=list)  # matched against document ACLs
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = _NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)  # "user:<id>" or "key:<id>"
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    messages: Mapped[list[Message]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="Message.id"
    )


class Message(Base):
    """One question and the answer Attest gave, as the asker saw it."""

    __tablename__ = "messages"
    __table_args__ = _NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    answered: Mapped[bool] = mapped_column(default=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # citations, sources, verdict, timings
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = _NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    owner: Mapped[str] = mapped_column(String(64))
    rating: Mapped[int] = mapped_column(Integer)  # +1 or -1
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditRecord(Base):
    """One append-only audit record; ``hash`` covers its fields and the previous record's hash."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # 1, 2, 3, ... no gaps
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(160), index=True)  # "user:alice", "key:ci (3)", "anonymous"
    action: Mapped[str] = mapped_column(String(64), index=True)
    kb: Mapped[str | None] = mapped_column(String(128), index=True)
    status: Mapped[int] = mapped_column(Integer)  # the HTTP status, or 0 outside HTTP
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last record (one row): appending locks it, so records are written one at a time."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))
