"""Request bodies (every field validated, with limits, so that errors name the field) and the
``...Public`` models the routes answer with, published in OpenAPI.

A route builds its ``...Public`` model while its session is open and returns it dumped
(``model_dump()``); the models are never FastAPI response models (see :func:`attest.api.deps.rule`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from attest.core.enums import Policy
from attest.core.settings import get_settings

Name = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
KbName = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
RoleName = Literal["admin", "editor", "viewer"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskRequest(Strict):
    kb: str = KbName
    question: str = Field(min_length=1, max_length=2000)
    conversation_id: int | None = Field(default=None, ge=1, le=2**31 - 1)

    @field_validator("question")
    @classmethod
    def _bounded(cls, question: str) -> str:
        # pydantic's protocol: a validator raises ValueError, which becomes a 422 naming the field.
        if not question.strip():
            raise ValueError("the question is empty")
        # The cost of an answer grows with the question, so the installation bounds it.
        limit = get_settings().max_question_chars
        if len(question) > limit:
            raise ValueError(
                f"the question is {len(question)} characters long; the limit is {limit} "
                "(ATTEST_MAX_QUESTION_CHARS)"
            )
        return question


class KbCreate(Strict):
    name: str = KbName
    description: str = Field(default="", max_length=2000)
    verify_policy: Policy | None = None


class KbUpdate(Strict):
    name: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )
    description: str | None = Field(default=None, max_length=2000)
    verify_policy: Policy | Literal["default"] | None = None


class DocumentUpdate(Strict):
    acl: list[str] | None = Field(default=None, max_length=100)
    tags: list[str] | None = Field(default=None, max_length=100)


class JobCreate(Strict):
    sync: bool = True  # remove documents whose source files are gone


class UserCreate(Strict):
    username: str = Name
    role: RoleName
    groups: list[str] = Field(default_factory=list, max_length=100)
    password: str | None = Field(default=None, min_length=8, max_length=256)


class UserUpdate(Strict):
    role: RoleName | None = None
    groups: list[str] | None = Field(default=None, max_length=100)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


class GroupCreate(Strict):
    name: str = Name
    description: str = Field(default="", max_length=2000)


class GrantCreate(Strict):
    user_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    group: str | None = Field(default=None, min_length=1, max_length=64)


class ApiKeyCreate(Strict):
    name: str = Name
    role: RoleName = "viewer"
    kbs: list[str] = Field(default_factory=list, max_length=100)
    groups: list[str] = Field(default_factory=list, max_length=100)


class FeedbackCreate(Strict):
    message_id: int = Field(ge=1, le=2**31 - 1)
    rating: Literal[1, -1]
    comment: str = Field(default="", max_length=4000)


# Responses -------------------------------------------------------------------------------


class KbPublic(BaseModel):
    """A knowledge base; ``documents`` and ``chunks`` count only what the caller may read."""

    name: str
    description: str
    verify_policy: str | None = Field(description="null: the installation's ATTEST_VERIFY_POLICY")
    documents: int
    index_version: int | None = Field(description="the active index version; null before the first")
    chunks: int
    created_at: datetime


class KbList(BaseModel):
    items: list[KbPublic]


class GrantPublic(BaseModel):
    """A grant of a knowledge base to one user or to a group."""

    id: int
    user_id: int | None
    username: str | None
    group: str | None
    created_at: datetime


class GrantList(BaseModel):
    items: list[GrantPublic]


class DocumentPublic(BaseModel):
    id: int
    title: str
    file_name: str
    media_type: str
    size_bytes: int
    status: Literal["pending", "indexed", "failed"]
    error: str | None = Field(description="why ingesting it failed")
    acl: list[str] = Field(description="groups that may read it; empty: everyone with access to the KB")
    tags: list[str]
    chunks: int | None = Field(description="chunks in the index; null where not counted")
    updated_at: datetime


class DocumentList(BaseModel):
    total: int = Field(description="documents the caller may read, on every page")
    items: list[DocumentPublic]


class DocumentText(DocumentPublic):
    text: str = Field(description="the extracted text that chunk offsets point into")


class DocumentUpdated(DocumentPublic):
    index_version: int | None = Field(description="the index version the change is in force in")


class DocumentDeleted(BaseModel):
    deleted: int = Field(description="the deleted document's id")
    index_version: int | None


class ConversationPublic(BaseModel):
    id: int
    kb: str | None
    title: str
    created_at: datetime
    updated_at: datetime


class ConversationList(BaseModel):
    items: list[ConversationPublic]


class MessagePublic(BaseModel):
    """A question and its stored answer; the answer's other fields (citations, sources, verdict
    and the rest of ``POST /ask``'s answer) follow, unless the answer is withheld."""

    model_config = ConfigDict(extra="allow")

    id: int
    question: str
    created_at: datetime
    answer: str
    answered: bool
    withheld: bool = Field(description="true: it rests on a document the caller can no longer read")


class ConversationDetail(ConversationPublic):
    messages: list[MessagePublic]


class FeedbackPublic(BaseModel):
    id: int
    message_id: int
    rating: Literal[1, -1]


class AuditRecordPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    kb: str | None
    status: int = Field(description="the HTTP status, or 0 outside HTTP")
    details: dict[str, Any]
    hash: str
    outcome: str | None = Field(description="a question's outcome; null for other records")


class AuditPage(BaseModel):
    total: int
    items: list[AuditRecordPublic]


class RetrievedChunk(BaseModel):
    """A chunk a question retrieved; ``title``, ``page`` and ``text`` are as stored now, null
    when a later re-index or a deletion removed it. The rest is as the record stored it."""

    rank: int
    chunk_id: JsonValue
    document_id: JsonValue
    score: JsonValue
    title: str | None
    page: int | None
    text: str | None


class AuditRecordDetail(AuditRecordPublic):
    prev_hash: str
    chunks: list[RetrievedChunk]


class DashboardDay(BaseModel):
    day: str
    questions: int
    declined: int
    p50_ms: float | None
    p95_ms: float | None


class FeedbackShare(BaseModel):
    up: int
    down: int
    ratio: float | None = Field(description="thumbs up / all ratings; null without ratings")


class Gap(BaseModel):
    question: str
    count: int
    last_asked: datetime


class DashboardPublic(BaseModel):
    since: datetime
    kb: str | None
    questions: int
    days: list[DashboardDay]
    outcomes: dict[str, int]
    feedback: FeedbackShare
    gaps: list[Gap] = Field(description="the questions most often declined")


class UserPublic(BaseModel):
    id: int
    username: str
    role: RoleName
    groups: list[str]
    active: bool
    created_at: datetime


class UserCreated(UserPublic):
    password: str | None = Field(
        default=None, description="the generated password, shown once; absent when one was given"
    )


class UserList(BaseModel):
    items: list[UserPublic]


class GroupPublic(BaseModel):
    name: str
    description: str
    created_at: datetime


class GroupList(BaseModel):
    items: list[GroupPublic]


class ApiKeyPublic(BaseModel):
    id: int
    name: str
    prefix: str
    role: RoleName
    kbs: list[str]
    groups: list[str]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the key itself, in this response only")


class ApiKeyList(BaseModel):
    items: list[ApiKeyPublic]


class JobPublic(BaseModel):
    """A re-index job. For a caller who may not read every document it touched, the counts
    are null (they would reveal the hidden ones) and ``progress`` says how far it is."""

    id: int
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] = Field(
        description="queued: waiting for an `attest worker` (ATTEST_JOB_RUNNER=worker)"
    )
    documents_total: int | None
    documents_done: int | None
    chunks_done: int | None
    progress: float = Field(description="the fraction of the job's files read, 0 to 1 (0 while queued)")
    eta_seconds: float | None = Field(description="a running job's time left; null when not known")
    cancel_requested: bool
    started_by: str | None
    queued_at: datetime | None = Field(description="when it was queued for the workers; null if never")
    attempts: int = Field(description="how often the worker running it stopped and it was queued again")
    started_at: datetime | None = Field(description="when it began to run; null while queued")
    finished_at: datetime | None
    error: str | None
    summary: dict[str, JsonValue] | None


class JobList(BaseModel):
    items: list[JobPublic]


class CitationPublic(BaseModel):
    """A passage the answer cites: its ``[n]``, the document, and where in it the passage lies."""

    number: int
    document_id: int
    title: str
    source_uri: str = Field(description="the file's name only")
    page: int | None
    char_start: int
    char_end: int
    chunk_ids: list[int]


class SourcePublic(BaseModel):
    """A passage the answer was given (with ``number``, ``text`` and ``score``), or, when Attest
    declined, one of the closest documents (only ``document_id``, ``title``, ``source_uri``)."""

    document_id: int
    title: str
    source_uri: str
    number: int | None = None
    page: int | None = None
    char_start: int | None = None
    char_end: int | None = None
    chunk_ids: list[int] | None = None
    text: str | None = None
    score: float | None = None


class SupportPublic(BaseModel):
    """The source span an answer sentence rests on; offsets are into the document."""

    number: int
    document_id: int
    title: str
    source_uri: str
    page: int | None
    char_start: int
    char_end: int
    quote: str
    score: float


class SentencePublic(BaseModel):
    text: str
    char_start: int
    char_end: int
    cited: list[int]
    support: SupportPublic | None


class VerdictPublic(BaseModel):
    """The factuality checker's verdict: each claim with its evidence and signals."""

    score: float
    threshold: float
    supported: int
    unsupported: int
    wrong_citations: int
    claims: list[dict[str, JsonValue]]
    answers_question: bool | None = Field(description="null: not checked")
    relevance: float | None
    relevance_threshold: float | None
    latency_ms: float


class GatePublic(BaseModel):
    """The verification policy, and what it did to the answer's text."""

    policy: Policy
    action: Literal["shown", "flagged", "stripped", "refused"]
    removed: int
    note: str | None


class AnswerPublic(BaseModel):
    """An answer (``Answer.to_public()``), and the conversation and message it is kept in."""

    question: str
    query: str = Field(description="what was retrieved with: the question, made standalone in a conversation")
    answer: str
    answered: bool = Field(description="false: Attest declined; the sources are then the closest documents")
    reason: str | None
    citations: list[CitationPublic]
    sentences: list[SentencePublic]
    invalid_citations: list[int]
    sources: list[SourcePublic]
    backend: str
    relevance: float
    index_version: int
    index_backend: str = Field(description="where the passages were retrieved: local or milvus")
    timings_ms: dict[str, float]
    verdict: VerdictPublic | None
    gate: GatePublic | None
    cached: bool
    conversation_id: int | None = None
    message_id: int | None = None
