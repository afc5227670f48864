"""The records of the answer path: what a question becomes, and the answer with what it rests on.

Every record is a frozen dataclass. :meth:`Answer.to_public` is the one place that decides
what a caller sees: the REST API returns it, the CLI prints it with ``--json``, and the UI
reads it through the API. The pre-policy draft and the raw retrieval scores stay out of it
(the audit log keeps them), and every ``source_uri`` is cut to the file's name, since
where a file lies on the server is none of the asker's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from attest.generation.citations import AnswerSentence
from attest.retrieval.context import Passage
from attest.verify.checker import Verdict
from attest.verify.policy import Gate


@dataclass(frozen=True)
class Query:
    """A question as asked, and what is retrieved and answered with.

    In a conversation a follow-up ("and contractors?") is made ``standalone`` with the
    earlier turns; any other question is its own standalone query.
    """

    text: str
    standalone: str
    follow_up: bool = False

    @classmethod
    def alone(cls, text: str) -> Query:
        """A question asked outside any conversation."""
        return cls(text, text, False)


@dataclass(frozen=True)
class Citation:
    """A passage the answer cites: where it comes from, and its ``[n]``."""

    number: int
    document_id: int
    title: str
    source_uri: str
    page: int | None
    char_start: int
    char_end: int  # exclusive
    chunk_ids: tuple[int, ...]

    @classmethod
    def of(cls, passage: Passage) -> Citation:
        return cls(
            passage.number,
            passage.document_id,
            passage.title,
            passage.source_uri,
            passage.page,
            passage.char_start,
            passage.char_end,
            passage.chunk_ids,
        )

    def to_dict(self) -> dict[str, Any]:
        """As JSON-compatible values, with the file's full path (for the audit log)."""
        return {
            "number": self.number,
            "document_id": self.document_id,
            "title": self.title,
            "source_uri": self.source_uri,
            "page": self.page,
            "char_start": self.char_start,
            "char_end": self.char_end,
            "chunk_ids": list(self.chunk_ids),
        }

    def to_public(self) -> dict[str, Any]:
        """As a caller sees it: the file's name only."""
        return self.to_dict() | {"source_uri": _file_name(self.source_uri)}


@dataclass(frozen=True)
class Source:
    """A passage the model was given, with its text; or, when Attest declined, one of the
    closest documents, with only ``document_id``, ``title`` and ``source_uri``."""

    document_id: int
    title: str
    source_uri: str
    passage: Citation | None = None
    text: str = ""
    score: float | None = None

    @classmethod
    def given(cls, passage: Passage) -> Source:
        """A passage of the context the model answered from."""
        return cls(
            passage.document_id,
            passage.title,
            passage.source_uri,
            Citation.of(passage),
            passage.text,
            passage.score,
        )

    def to_public(self) -> dict[str, Any]:
        if self.passage is None:
            return {
                "document_id": self.document_id,
                "title": self.title,
                "source_uri": _file_name(self.source_uri),
            }
        return self.passage.to_public() | {"text": self.text, "score": self.score}


@dataclass(frozen=True)
class Retrieved:
    """A retrieved chunk, for the audit log: which one, and its fused score."""

    chunk_id: int
    document_id: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"chunk_id": self.chunk_id, "document_id": self.document_id, "score": round(self.score, 5)}


@dataclass(frozen=True)
class Answer:
    """What Attest says, what it rests on and how long each stage took."""

    query: Query
    text: str
    answered: bool  # False when Attest declined
    reason: str | None  # why it declined, or why a fallback answered
    citations: tuple[Citation, ...]  # one per cited passage
    sentences: tuple[AnswerSentence, ...]  # each answer sentence with the source span it rests on
    invalid_citations: tuple[int, ...]  # citation numbers the model made up, removed from the text
    sources: tuple[Source, ...]  # the passages the model was given (or the closest, when declined)
    backend: str
    relevance: float  # cosine of the question to the best retrieved chunk
    index_version: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    index_backend: str = "local"  # the index backend the passages came from: local or milvus
    verdict: Verdict | None = None  # the factuality checker's verdict on the answer
    gate: Gate | None = None  # the verification policy and what it did to the text
    draft: str | None = None  # the checked answer before the policy changed it (for the audit log)
    retrieved: tuple[Retrieved, ...] = ()  # best first (for the audit log)
    cached: bool = False  # True when this is a kept answer to the same question on the same index

    @property
    def question(self) -> str:
        """The question as asked."""
        return self.query.text

    def to_public(self) -> dict[str, Any]:
        """What the caller sees, as JSON-compatible values."""
        return {
            "question": self.query.text,
            "query": self.query.standalone,
            "answer": self.text,
            "answered": self.answered,
            "reason": self.reason,
            "citations": [c.to_public() for c in self.citations],
            "sentences": [_public_sentence(s) for s in self.sentences],
            "invalid_citations": list(self.invalid_citations),
            "sources": [s.to_public() for s in self.sources],
            "backend": self.backend,
            "relevance": self.relevance,
            "index_version": self.index_version,
            "index_backend": self.index_backend,
            "timings_ms": dict(self.timings_ms),
            "verdict": None if self.verdict is None else self.verdict.to_dict(),
            "gate": None if self.gate is None else self.gate.to_dict(),
            "cached": self.cached,
        }


def _public_sentence(sentence: AnswerSentence) -> dict[str, Any]:
    data = sentence.to_dict()
    if data["support"] is not None:
        data["support"]["source_uri"] = _file_name(data["support"]["source_uri"])
    return data


def _file_name(uri: str) -> str:
    return PurePath(uri).name
