"""The one function that answers a question: retrieve, build the context, generate, check citations.

The CLI calls it, and so will the REST API and, through the API, the UI. Every stage is
timed. Attest declines plainly, listing the closest documents, in three cases: nothing
retrieved is relevant enough (the best chunk's cosine to the question is below
``ATTEST_ANSWER_MIN_RELEVANCE``); no unit of the passages answers the question by the
reader model (:mod:`attest.reader`), checked before any model is asked; or the model says
the sources do not hold the answer.
When the configured model fails, the extractive backend answers instead and the answer
says so.

:meth:`Answerer.stream` yields :class:`Started` when the model begins, the answer's text as
the model produces it (:class:`Delta`) and then the checked, final :class:`Answer`
(:class:`Final`); :meth:`Answerer.ask` is the same without the deltas. Streamed text is
provisional: the final answer replaces it, with made-up citations removed, or with the
decline when the model found no answer. Closing the stream early stops the model and
frees it for the next question; :class:`Started` holds what such an abandoned answer is
recorded as.
"""

from __future__ import annotations

import collections.abc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from attest.core.errors import ConfigurationError, GenerationError
from attest.core.models import Outcome, Policy
from attest.core.questions import question_key
from attest.core.repository import get_kb
from attest.core.settings import Settings
from attest.generation.backends import Generator, LanguageModel, LlamaCppGenerator, OpenAIGenerator
from attest.generation.chat import Condenser, Turn
from attest.generation.citations import CheckedAnswer, validate
from attest.generation.extractive import ExtractiveGenerator
from attest.generation.prompts import build_prompt, declines, prompt_overhead
from attest.ingest.entities import EntityTagger
from attest.reader.model import shipped_reader
from attest.reader.reading import AnswerModel, PassageReader, Scorer, shipped_answer_model
from attest.retrieval.cache import LRU, CachingEmbedder, SingleFlight, permission_key
from attest.retrieval.context import Context, build_context
from attest.retrieval.filters import Filters
from attest.retrieval.hybrid import HybridRetriever, QueryEntities, RetrievedChunk
from attest.retrieval.service import Retrievers
from attest.text.embedder import Embedder, SentenceTransformerEmbedder
from attest.verify.checker import FactChecker, Verdict
from attest.verify.policy import Gated, apply

NOT_IN_DOCUMENTS = "The knowledge base does not contain the answer to this question."
ABANDONED = "the stream was closed before the answer was finished; the text is the model's, unchecked"
ANSWER_WAIT_S = 120.0  # how long a question waits for the same question being answered already


@dataclass(frozen=True)
class Started:
    """The model has begun to answer; :class:`Delta` events follow."""

    partial: Answer  # the answer as it stands if the stream ends now: no text yet, not checked


@dataclass(frozen=True)
class Delta:
    """A piece of the answer's text, as the model produced it."""

    text: str


@dataclass(frozen=True)
class Final:
    """The finished answer; it always comes last."""

    answer: Answer


Event = Started | Delta | Final
EventStream = collections.abc.Generator[Event, None, None]  # closing it stops the model


@dataclass(frozen=True)
class Answer:
    """What Attest says, what it rests on and how long each stage took."""

    question: str
    query: str  # what was retrieved with: the question, made standalone in a conversation
    text: str
    answered: bool  # False when Attest declined
    reason: str | None  # why it declined, or why a fallback answered
    citations: list[dict[str, Any]]  # one per cited passage, with document offsets
    sentences: list[dict[str, Any]]  # each answer sentence with the source span it rests on
    invalid_citations: list[int]  # citation numbers the model made up, removed from the text
    sources: list[dict[str, Any]]  # the passages the model was given (or the closest, when declined)
    backend: str
    relevance: float  # cosine of the question to the best retrieved chunk
    index_version: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    verdict: dict[str, Any] | None = None  # the factuality checker's verdict on the answer
    gate: dict[str, Any] | None = None  # the verification policy and what it did to the text
    draft: str | None = None  # the checked answer before the policy changed it (for the audit log)
    retrieved: list[dict[str, Any]] = field(default_factory=list)  # chunk ids and fused scores, best first
    cached: bool = False  # True when this is a kept answer to the same question on the same index

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def outcome_of(answer: Answer) -> Outcome:
    """How ``answer`` ended, for the audit log, the dashboard and the metrics.

    An unsupported claim outranks not answering the question: a statement the sources do
    not bear out is the worse news for whoever reviews the log. An answered question
    without a verdict has nothing flagged, so it counts as supported.
    """
    if not answer.answered:
        return Outcome.DECLINED
    verdict = answer.verdict or {}
    if verdict.get("unsupported"):
        return Outcome.UNSUPPORTED
    if verdict.get("answers_question") is False:
        return Outcome.OFF_TOPIC
    return Outcome.SUPPORTED


def audit_details(
    answer: Answer,
    *,
    latency_ms: float,
    abandoned: bool = False,
    conversation_id: int | None = None,
    message_id: int | None = None,
) -> dict[str, Any]:
    """The ``details`` of the ``ask`` audit record of ``answer``, written the same way
    whoever asked: the API passes the conversation and message the answer is kept in, the
    CLI keeps none. The stored ``outcome`` is what the dashboard and the audit filter read,
    so they never re-derive it.

    An ``abandoned`` answer is one whose stream the client left before the end: its text
    is what the model had written by then, sent but never checked.
    """
    return {
        "conversation_id": conversation_id,
        "message_id": message_id,
        "question": answer.question,
        "query": answer.query,
        "retrieved": answer.retrieved,
        "answer": answer.text,
        "draft": answer.draft,
        "answered": answer.answered,
        "outcome": outcome_of(answer).value,
        "reason": answer.reason,
        "citations": answer.citations,
        "verdict": _verdict_summary(answer.verdict),
        "gate": answer.gate,
        "model": answer.backend,
        "index_version": answer.index_version,
        "latency_ms": latency_ms,
        "timings_ms": answer.timings_ms,
        "abandoned": abandoned,
    }


def _verdict_summary(verdict: dict[str, Any] | None) -> dict[str, Any] | None:
    """The verdict's counts for the audit log; the claims themselves stay with the answer."""
    if verdict is None:
        return None
    return {
        "score": verdict["score"],
        "supported": verdict["supported"],
        "unsupported": verdict["unsupported"],
        "answers_question": verdict.get("answers_question"),
    }


def make_generator(settings: Settings, reader: PassageReader) -> Generator:
    """The backend ``ATTEST_GENERATOR`` names."""
    name = settings.generator
    if name == "llama_cpp":
        return LlamaCppGenerator(
            settings.llm_model_path or None,
            context_tokens=settings.llm_context_tokens,
            threads=settings.llm_threads,
        )
    if name == "openai":
        return OpenAIGenerator(
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            api_key=settings.openai_api_key.get_secret_value(),
            timeout_s=settings.openai_timeout_s,
            max_retries=settings.openai_max_retries,
        )
    if name == "extractive":
        return ExtractiveGenerator(reader)
    raise ConfigurationError(f"ATTEST_GENERATOR is {name!r}; choose llama_cpp, openai or extractive.")


def question_entities(pipeline: str, terms: dict[str, list[str]]) -> QueryEntities:
    """The entity boost's hook: a question's entities as the ingest tagger finds them, with the
    knowledge base's terms, so that they match the entities stored with its chunks."""
    tagger = EntityTagger(pipeline, terms)

    def entities(text: str) -> list[str]:
        return [entity.text for entity in tagger.tag(text)]

    return entities


class Answerer:
    """Answers questions over the knowledge bases of one database; safe to share between threads."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
        reader: Scorer | None = None,
        answer_model: AnswerModel | None = None,
    ) -> None:
        """``reader`` and ``answer_model`` default to the shipped reader and its calibration."""
        self.settings = settings
        self.engine = engine
        self.embedder = embedder or SentenceTransformerEmbedder(
            settings.embedding_model, batch_size=settings.embedding_batch_size
        )
        # Questions are embedded for retrieval and again for the relevance gate, and asked again.
        self.query_embedder = CachingEmbedder(self.embedder, settings.query_cache_size)
        self.answers: LRU[Answer] = LRU(settings.answer_cache_size)
        self.in_flight = SingleFlight()  # answers being computed, which the same question waits for
        self.retrievers = Retrievers(
            engine, self.query_embedder, settings, partial(question_entities, settings.spacy_pipeline)
        )
        self.reader = reader or shipped_reader()
        self.answer_model = answer_model or shipped_answer_model()
        self.passage_reader = PassageReader(self.reader, self.query_embedder, self.answer_model)
        self.generator = generator or make_generator(settings, self.passage_reader)
        self.fallback = ExtractiveGenerator(self.passage_reader)
        self.condense = Condenser(self.generator, settings.chat_history_turns)
        self.entities = EntityTagger(settings.spacy_pipeline)  # the checker's, without any KB's terms
        self.checker = FactChecker(
            self.embedder,
            reader=self.reader,
            relevant=self.answer_model.relevant,
            entities=self.entities.labelled,
        )

    def ask(
        self,
        kb: str,
        question: str,
        *,
        groups: frozenset[str] | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Answer ``question`` from what ``groups`` may read in ``kb`` (``None``: everything).

        ``history`` holds the conversation's earlier turns; a follow-up question is made
        standalone with them before retrieval.
        """
        return _last(self.stream(kb, question, groups=groups, history=history))

    def stream(
        self,
        kb: str,
        question: str,
        *,
        groups: frozenset[str] | None = None,
        history: Sequence[Turn] = (),
    ) -> EventStream:
        """:meth:`ask`, yielding the text as it is generated and then the final answer."""
        question = question.strip()
        if not question:
            raise ValueError("The question is empty.")
        timings: dict[str, float] = {}
        query = question
        if history:
            with _timed(timings, "condense"):
                query = self.condense(question, history)
        with _timed(timings, "retrieve"):
            retriever = self.retrievers.get(kb)
            policy = self.policy(kb)
            # A follow-up's answer depends on its conversation: only standalone questions are kept.
            version_id = retriever.snapshot.version_id
            key = None if history else self._cache_key(version_id, groups, policy, question)
            cached, leads = self._kept(key)
        if cached is not None:
            lookup = {"cache": timings.pop("retrieve"), **timings}
            yield Final(replace(cached, question=question, timings_ms=lookup, cached=True))
            return
        try:
            yield from self._compute(retriever, question, query, groups, key, policy, timings)
        finally:  # also when the caller closes the stream early
            if leads:
                self.in_flight.land(key)

    def _kept(self, key: tuple[object, ...] | None) -> tuple[Answer | None, bool]:
        """The kept answer for ``key``, if need be after waiting for the same question being
        answered for someone else; else ``None`` and whether this caller's answer is the one
        that others wait for (the caller must then land ``key`` when done)."""
        if key is None:
            return None, False
        while True:
            cached = self.answers.get(key)
            if cached is not None:
                return cached, False
            flight = self.in_flight.join(key)
            if flight is None:
                return None, True
            if not flight.wait(ANSWER_WAIT_S):
                return None, False  # the first caller is stuck: answer without waiting for it
            # Landed: the answer is kept, or it was not (a fallback, an error) and we go again.

    def _compute(
        self,
        retriever: HybridRetriever,
        question: str,
        query: str,
        groups: frozenset[str] | None,
        key: tuple[object, ...] | None,
        policy: Policy,
        timings: dict[str, float],
    ) -> EventStream:
        with _timed(timings, "retrieve"):
            filters = Filters(groups=groups)
            hits = retriever.retrieve(query, k=self.settings.answer_passages, filters=filters)
            relevance = self._relevance(retriever.dense.embeddings, query, hits)
        version = retriever.snapshot.version
        embeddings = retriever.dense.embeddings
        vectors = {hit.chunk["chunk_id"]: np.asarray(embeddings[hit.row]) for hit in hits}
        stream = self.stream_from(
            query,
            hits,
            relevance=relevance,
            version=version,
            timings=timings,
            policy=policy,
            chunk_vectors=vectors,
        )
        retrieved = [  # for the audit log
            {
                "chunk_id": h.chunk["chunk_id"],
                "document_id": h.chunk["document_id"],
                "score": round(h.score, 5),
            }
            for h in hits
        ]
        with closing(stream) as events:  # closed with this one, so the model stops at once
            for event in events:
                if isinstance(event, Started):
                    yield Started(replace(event.partial, question=question, retrieved=retrieved))
                elif isinstance(event, Final):
                    final = replace(event.answer, question=question, retrieved=retrieved)
                    if key and final.backend == self.generator.name:  # a fallback's answer is not kept
                        self.answers.put(key, final)
                    yield Final(final)
                else:
                    yield event

    def _cache_key(
        self, version_id: int, groups: frozenset[str] | None, policy: Policy, question: str
    ) -> tuple[object, ...] | None:
        if self.answers.size <= 0:
            return None
        return (version_id, permission_key(groups), policy.value, self.generator.name, question_key(question))

    def answer_from(
        self,
        question: str,
        hits: list[RetrievedChunk],
        *,
        relevance: float = 1.0,
        version: int = 0,
        timings: dict[str, float] | None = None,
        policy: Policy | None = None,
    ) -> Answer:
        """Answer from already retrieved ``hits`` (``eval qa --oracle-context`` passes the gold ones)."""
        return _last(
            self.stream_from(
                question, hits, relevance=relevance, version=version, timings=timings, policy=policy
            )
        )

    def stream_from(
        self,
        question: str,
        hits: list[RetrievedChunk],
        *,
        relevance: float = 1.0,
        version: int = 0,
        timings: dict[str, float] | None = None,
        policy: Policy | None = None,
        chunk_vectors: Mapping[int, np.ndarray] | None = None,
    ) -> EventStream:
        """:meth:`answer_from`, yielding the text as it is generated and then the final answer.

        ``policy`` is the verification policy (default: ``ATTEST_VERIFY_POLICY``);
        ``chunk_vectors`` (chunk id to index vector) spare the checker embedding passages.
        """
        timings = {} if timings is None else timings
        if not hits or relevance < self.settings.answer_min_relevance:
            reason = "no passage is relevant enough"
            yield Final(self._declined(question, hits, relevance, version, timings, reason))
            return
        with _timed(timings, "context"):
            context = self._context(hits, question)
        with _timed(timings, "read"):
            passages = [(p.number, p.text) for p in context.passages]
            reading = self.passage_reader.read(question, passages)
        if reading.best < self.answer_model.decline:
            reason = "no passage answers the question"
            yield Final(self._declined(question, hits, relevance, version, timings, reason))
            return
        backend, reason, pieces = self.generator.name, "", []
        yield Started(self._unfinished(question, context, relevance, version, timings))
        began = time.perf_counter()
        try:
            # Closed when this stream is, so that an abandoned answer stops the model and frees it.
            with _closing(self.generator.stream(context, question, self.settings.llm_max_tokens)) as model:
                for piece in model:
                    pieces.append(piece)
                    yield Delta(piece)
        except GenerationError as exc:
            backend, reason = self.fallback.name, f"{self.generator.name} failed ({exc}); extractive answer"
            pieces = [self.fallback.answer(context, question)]
        timings["generate"] = round((time.perf_counter() - began) * 1000, 2)
        text = "".join(pieces)
        if declines(text):
            reason = "the model found no answer"
            yield Final(self._declined(question, hits, relevance, version, timings, reason))
            return
        with _timed(timings, "citations"):
            checked = validate(text, context)
        policy = policy or Policy.from_str(self.settings.verify_policy)
        vectors = _passage_vectors(context, chunk_vectors or {})
        final, verdict, gated = self._verify(question, checked, context, policy, vectors, timings)
        if final is None:
            reason = "the model found no answer when asked again"
            yield Final(self._declined(question, hits, relevance, version, timings, reason))
            return
        answer = self._answered(
            question, final, context, backend, reason or None, relevance, version, timings
        )
        gate = {"policy": policy.value, "action": gated.action, "removed": gated.removed, "note": gated.note}
        yield Final(replace(answer, text=gated.text, verdict=verdict.to_dict(), gate=gate, draft=final.text))

    def policy(self, kb: str) -> Policy:
        """The knowledge base's verification policy, or the global one."""
        with Session(self.engine) as session:
            own = get_kb(session, name=kb).verify_policy
        return Policy.from_str(own or self.settings.verify_policy)

    def _verify(
        self,
        question: str,
        checked: CheckedAnswer,
        context: Context,
        policy: Policy,
        vectors: np.ndarray | None,
        timings: dict[str, float],
    ) -> tuple[CheckedAnswer | None, Verdict, Gated]:
        """Check the answer's claims and apply ``policy``; ``regenerate`` asks the model once more."""
        passages = [(p.number, p.text) for p in context.passages]
        with _timed(timings, "verify"):
            verdict = self.checker.check(checked.text, passages, question, vectors)
        acceptable = verdict.unsupported == 0 and verdict.answers_question is not False
        if policy is not Policy.REGENERATE or acceptable:
            return checked, verdict, apply(policy, checked.text, verdict, self.settings.verify_refuse_below)
        if isinstance(self.generator, LanguageModel):
            with _timed(timings, "regenerate"):
                try:
                    prompt = build_prompt(context, question, strict=True)
                    text = "".join(self.generator.complete(prompt, self.settings.llm_max_tokens))
                except GenerationError:
                    text = checked.text  # keep the first answer; strip applies to it
            if declines(text):
                return None, verdict, apply(Policy.STRIP, checked.text, verdict)
            checked = validate(text, context)
            with _timed(timings, "verify_again"):
                verdict = self.checker.check(checked.text, passages, question, vectors)
        return checked, verdict, apply(Policy.STRIP, checked.text, verdict)

    def _relevance(self, embeddings: np.ndarray, question: str, hits: list[RetrievedChunk]) -> float:
        if not hits:
            return 0.0
        vector = self.query_embedder.embed([question])[0]
        rows = np.asarray([hit.row for hit in hits])
        return float(np.max(np.asarray(embeddings[rows]) @ vector))

    def _context(self, hits: list[RetrievedChunk], question: str) -> Context:
        return answer_context(hits, question, self.settings, self.generator.count_tokens)

    def _answered(
        self,
        question: str,
        checked: CheckedAnswer,
        context: Context,
        backend: str,
        reason: str | None,
        relevance: float,
        version: int,
        timings: dict[str, float],
    ) -> Answer:
        return Answer(
            question=question,
            query=question,
            text=checked.text,
            answered=True,
            reason=reason,
            citations=checked.citations(),
            sentences=[s.to_dict() for s in checked.sentences],
            invalid_citations=list(checked.invalid_citations),
            sources=_sources(context),
            backend=backend,
            relevance=relevance,
            index_version=version,
            timings_ms=timings,
        )

    def _unfinished(
        self, question: str, context: Context, relevance: float, version: int, timings: dict[str, float]
    ) -> Answer:
        """What an answer abandoned while the model writes it is, but for the text so far."""
        return Answer(
            question=question,
            query=question,
            text="",
            answered=False,
            reason=ABANDONED,
            citations=[],
            sentences=[],
            invalid_citations=[],
            sources=_sources(context),
            backend=self.generator.name,
            relevance=relevance,
            index_version=version,
            timings_ms=dict(timings),
        )

    def _declined(
        self,
        question: str,
        hits: list[RetrievedChunk],
        relevance: float,
        version: int,
        timings: dict[str, float],
        reason: str,
    ) -> Answer:
        closest: dict[int, dict[str, Any]] = {}
        for hit in hits:
            chunk = hit.chunk
            closest.setdefault(
                chunk["document_id"],
                {
                    "document_id": chunk["document_id"],
                    "title": chunk["title"],
                    "source_uri": chunk["source_uri"],
                },
            )
        return Answer(
            question=question,
            query=question,
            text=NOT_IN_DOCUMENTS,
            answered=False,
            reason=reason,
            citations=[],
            sentences=[],
            invalid_citations=[],
            sources=list(closest.values())[:5],
            backend=self.generator.name,
            relevance=relevance,
            index_version=version,
            timings_ms=timings,
        )


def answer_context(
    hits: list[RetrievedChunk], question: str, settings: Settings, count: Callable[[str], int]
) -> Context:
    """The passages a generator counting tokens with ``count`` gets for ``question``."""
    budget = settings.llm_context_tokens - settings.llm_max_tokens - count(prompt_overhead(question))
    return build_context(hits, max(budget, 0), count)


def _sources(context: Context) -> list[dict[str, Any]]:
    """The passages the model was given, as an answer lists them."""
    return [p.citation() | {"number": p.number, "text": p.text, "score": p.score} for p in context.passages]


def _passage_vectors(context: Context, chunk_vectors: Mapping[int, np.ndarray]) -> np.ndarray | None:
    """Each passage's vector: the normalised mean of its chunks' index vectors, if all are known."""
    rows = []
    for passage in context.passages:
        if not passage.chunk_ids or any(i not in chunk_vectors for i in passage.chunk_ids):
            return None
        mean = np.mean([chunk_vectors[i] for i in passage.chunk_ids], axis=0)
        rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
    return np.asarray(rows) if rows else None


def _last(events: Iterator[Event]) -> Answer:
    """The final answer of an event stream."""
    for event in events:
        if isinstance(event, Final):
            return event.answer
    raise RuntimeError("the answer stream ended without a final answer")


@contextmanager
def _closing(pieces: Iterator[str]) -> Iterator[Iterator[str]]:
    """``pieces``, closed at the end when they can be (a generator's ``finally`` blocks then run)."""
    try:
        yield pieces
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    began = time.perf_counter()
    try:
        yield
    finally:  # a stage timed twice (the cache lookup, then retrieval) adds up
        timings[stage] = round(timings.get(stage, 0.0) + (time.perf_counter() - began) * 1000, 2)
