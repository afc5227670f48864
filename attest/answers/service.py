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
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from attest.answers.cache import AnswerCache, Key
from attest.answers.generators import make_generator
from attest.answers.records import Answer, Citation, Query, Retrieved, Source
from attest.core.errors import GenerationError, InvalidInput
from attest.core.models import Policy
from attest.core.repository import get_kb
from attest.core.settings import Settings
from attest.generation.backends import Generator, LanguageModel
from attest.generation.chat import Condenser, Turn
from attest.generation.citations import CheckedAnswer, validate
from attest.generation.extractive import ExtractiveGenerator
from attest.generation.prompts import build_prompt, declines, prompt_overhead
from attest.ingest.entities import EntityTagger
from attest.reader.model import shipped_reader
from attest.reader.reading import AnswerModel, PassageReader, Scorer, shipped_answer_model
from attest.retrieval.backend import Searcher
from attest.retrieval.cache import CachingEmbedder
from attest.retrieval.context import Context, build_context
from attest.retrieval.filters import Filters
from attest.retrieval.hybrid import QueryEntities, RetrievedChunk
from attest.retrieval.service import Retrievers
from attest.text.embedder import Embedder, QuestionTimeEmbedder, SentenceTransformerEmbedder
from attest.text.words import has_abbreviation, spell_out
from attest.verify.checker import FactChecker, Verdict
from attest.verify.policy import Gated, apply, try_again

NOT_IN_DOCUMENTS = "The knowledge base does not contain the answer to this question."
SPELLING_DEPTH = 4  # an abbreviation's spelling is looked for in 4 × answer_passages passages
ABANDONED = "the stream was closed before the answer was finished; the text is the model's, unchecked"


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
        # What is embedded while answering runs in bfloat16 where the CPU has it; documents do not.
        question_time = QuestionTimeEmbedder(self.embedder, settings.model_precision)
        # Questions are embedded for retrieval and again for the relevance gate, and asked again.
        self.query_embedder = CachingEmbedder(question_time, settings.query_cache_size)
        self.cache = AnswerCache(settings.answer_cache_size)
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
            question_time,
            reader=self.reader,
            relevant=self.answer_model.relevant,
            entities=self.entities.labelled,
            settle=settings.verify_refuse_below is None,
        )

    def warm_up(self) -> None:
        """Load every model and run it once, so that the first question does not pay for it
        (the server does this at start-up)."""
        self.embedder.embed(["warm up"])  # documents' precision (float32)
        self.checker.embedder.embed(["warm up"])  # question-time (bfloat16 where it runs)
        self.reader.logits("warm up?", ["warm up"])  # also checks the reader's hashes
        self.checker.consistency.logits(["warm up"], ["warm up"])  # and the consistency model's
        self.entities.warm_up()  # and the spaCy pipeline's

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
            raise InvalidInput("The question is empty.")
        timings: dict[str, float] = {}
        query = Query.alone(question)
        if history:
            with _timed(timings, "condense"):
                standalone = self.condense(question, history)
            query = Query(question, standalone, follow_up=standalone != " ".join(question.split()))
        with _timed(timings, "retrieve"):
            retriever = self.retrievers.get(kb)
            policy = self.policy(kb)
            # A follow-up's answer depends on its conversation: only standalone questions are kept.
            version_id = retriever.version_id
            key = (
                None if history else self.cache.key(version_id, groups, policy, self.generator.name, question)
            )
            cached, leads = self.cache.kept(key)
        if cached is not None:
            lookup = {"cache": timings.pop("retrieve"), **timings}
            yield Final(replace(cached, query=query, timings_ms=lookup, cached=True))
            return
        try:
            yield from self._compute(retriever, query, groups, key, policy, timings)
        finally:  # also when the caller closes the stream early
            if leads and key is not None:
                self.cache.land(key)

    def _compute(
        self,
        retriever: Searcher,
        query: Query,
        groups: frozenset[str] | None,
        key: Key | None,
        policy: Policy,
        timings: dict[str, float],
    ) -> EventStream:
        with _timed(timings, "retrieve"):
            searched, hits = self._retrieve(retriever, query.standalone, Filters(groups=groups))
            relevance = self._relevance(searched, hits)
        stream = self.stream_from(
            query,
            hits,
            relevance=relevance,
            version=retriever.version,
            timings=timings,
            policy=policy,
        )
        with closing(stream) as events:  # closed with this one, so the model stops at once
            for event in events:
                if isinstance(event, Final):
                    event = Final(replace(event.answer, index_backend=retriever.backend.value))
                # A fallback's answer is not kept.
                if isinstance(event, Final) and key and event.answer.backend == self.generator.name:
                    self.cache.keep(key, event.answer)
                yield event

    def answer_from(
        self,
        query: Query | str,
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
                query, hits, relevance=relevance, version=version, timings=timings, policy=policy
            )
        )

    def stream_from(
        self,
        query: Query | str,
        hits: list[RetrievedChunk],
        *,
        relevance: float = 1.0,
        version: int = 0,
        timings: dict[str, float] | None = None,
        policy: Policy | None = None,
    ) -> EventStream:
        """:meth:`answer_from`, yielding the text as it is generated and then the final answer.

        The passages are read, the model asked and the answer checked with the standalone
        query. ``policy`` is the verification policy (default: ``ATTEST_VERIFY_POLICY``); the
        hits' index vectors, when they carry them, spare the checker embedding passages.
        """
        query = Query.alone(query) if isinstance(query, str) else query
        question = query.standalone
        answer = _Draft(self, query, hits, relevance, version, {} if timings is None else timings)
        if not hits or relevance < self.settings.answer_min_relevance:
            yield Final(answer.declined("no passage is relevant enough"))
            return
        with _timed(answer.timings, "context"):
            context = self._context(hits, question)
        with _timed(answer.timings, "read"):
            reading = self.passage_reader.read_context(question, context.passages)
            # a question of several parts may be answered by its parts (read only then here;
            # the extractive backend reads them for its answer anyway)
            doubted = self.answer_model.declines(reading)
            parts = self.passage_reader.read_parts(question, context.passages) if doubted else []
        if doubted and self.answer_model.declines(reading, parts):
            yield Final(answer.declined("no passage answers the question"))
            return
        backend, reason = self.generator.name, ""
        pieces: list[str] = []
        yield Started(answer.unfinished(context))
        # Two stages: until the model's first piece of text (mostly reading the prompt), then
        # the rest of the answer; the time to the first word is the stages up to "first_token".
        began = time.perf_counter()
        try:
            # Closed when this stream is, so that an abandoned answer stops the model and frees it.
            with _closing(self.generator.stream(context, question, self.settings.llm_max_tokens)) as model:
                for piece in model:
                    if not pieces:
                        answer.timings["first_token"] = round((time.perf_counter() - began) * 1000, 2)
                        began = time.perf_counter()
                    pieces.append(piece)
                    yield Delta(piece)
        except GenerationError as exc:
            backend, reason = self.fallback.name, f"{self.generator.name} failed ({exc}); extractive answer"
            pieces = [self.fallback.answer(context, question)]
        answer.timings["generate"] = round((time.perf_counter() - began) * 1000, 2)
        text = "".join(pieces)
        if declines(text):
            yield Final(answer.declined("the model found no answer"))
            return
        with _timed(answer.timings, "citations"):
            checked = validate(text, context)
        policy = policy or Policy.from_str(self.settings.verify_policy)
        vectors = _passage_vectors(context, hits)
        final, verdict, gated = self._verify(question, checked, context, policy, vectors, answer.timings)
        if final is None:
            yield Final(answer.declined("the model found no answer when asked again"))
            return
        yield Final(answer.answered(final, gated, verdict, backend, reason or None))

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
        """Check the answer's claims and apply ``policy``; ``regenerate`` may ask the model again."""
        passages = [(p.number, p.text) for p in context.passages]
        titles = {p.number: p.title for p in context.passages}
        with _timed(timings, "verify"):
            verdict = self.checker.check(checked.text, passages, question, vectors, titles)
        if not try_again(policy, verdict) or not isinstance(self.generator, LanguageModel):
            return checked, verdict, apply(policy, checked.text, verdict, self.settings.verify_refuse_below)
        with _timed(timings, "regenerate"):
            try:
                prompt = build_prompt(context, question, strict=True)
                text = "".join(self.generator.complete(prompt, self.settings.llm_max_tokens))
            except GenerationError:
                text = checked.text  # keep the first answer; regenerate strips it
        if declines(text):
            return None, verdict, apply(policy, checked.text, verdict)
        checked = validate(text, context)
        with _timed(timings, "verify_again"):
            verdict = self.checker.check(checked.text, passages, question, vectors, titles)
        return checked, verdict, apply(policy, checked.text, verdict)

    def _retrieve(
        self, retriever: Searcher, question: str, filters: Filters
    ) -> tuple[str, list[RetrievedChunk]]:
        """What was searched for ``question``, and the passages found. A question with an
        abbreviation ("Who is the CEO?") is searched again with the abbreviation spelled out
        ("... Who is the Chief Executive Officer?") when the passages the asker may read
        spell it out (among the :data:`SPELLING_DEPTH` × ``answer_passages`` best): a unit
        that answers it often uses the spelling, which neither BM25 nor the embedding
        matches to the letters."""
        k = self.settings.answer_passages
        hits = retriever.retrieve(question, k=k, filters=filters)
        if not has_abbreviation(question):
            return question, hits
        wider = retriever.retrieve(question, k=SPELLING_DEPTH * k, filters=filters)
        spelled = spell_out(question, [hit.chunk.text for hit in wider])
        if spelled == question:
            return question, hits
        searched = f"{question} {spelled}"
        return searched, retriever.retrieve(searched, k=k, filters=filters)

    def _relevance(self, question: str, hits: list[RetrievedChunk]) -> float:
        """The best cosine of ``question`` to a hit's index vector (0 without hits)."""
        if not hits:
            return 0.0
        vector = self.query_embedder.embed([question])[0]
        cosines = [float(np.asarray(hit.vector) @ vector) for hit in hits if hit.vector is not None]
        return max(cosines, default=0.0)

    def _context(self, hits: list[RetrievedChunk], question: str) -> Context:
        return answer_context(hits, question, self.settings, self.generator)


class _Draft:
    """What every answer to one query shares, and the three ways it ends."""

    def __init__(
        self,
        answerer: Answerer,
        query: Query,
        hits: list[RetrievedChunk],
        relevance: float,
        version: int,
        timings: dict[str, float],
    ) -> None:
        self.query, self.hits, self.relevance = query, hits, relevance
        self.version, self.timings = version, timings
        self.backend = answerer.generator.name
        self.retrieved = tuple(Retrieved(h.chunk.chunk_id, h.chunk.document_id, h.score) for h in hits)

    def declined(self, reason: str) -> Answer:
        """Attest declines, listing the closest documents."""
        closest: dict[int, Source] = {}
        for hit in self.hits:
            chunk = hit.chunk
            closest.setdefault(chunk.document_id, Source(chunk.document_id, chunk.title, chunk.source_uri))
        return self._answer(NOT_IN_DOCUMENTS, False, reason, tuple(closest.values())[:5])

    def unfinished(self, context: Context) -> Answer:
        """What an answer abandoned while the model writes it is, but for the text so far."""
        sources = tuple(Source.given(p) for p in context.passages)
        return replace(self._answer("", False, ABANDONED, sources), timings_ms=dict(self.timings))

    def answered(
        self, checked: CheckedAnswer, gated: Gated, verdict: Verdict, backend: str, reason: str | None
    ) -> Answer:
        """The checked answer, as the verification policy shows it. Its sentences and
        citations are those of the text shown: after ``strip`` the kept statements', after a
        refusal none (the draft, kept for the audit log, had them)."""
        shown = checked.shown_as(gated.text) if gated.action == "stripped" else checked
        refused = gated.action == "refused"
        return replace(
            self._answer(gated.text, True, reason, tuple(Source.given(p) for p in checked.passages)),
            citations=() if refused else tuple(Citation.of(p) for p in shown.cited()),
            sentences=() if refused else shown.sentences,
            invalid_citations=checked.invalid_citations,
            backend=backend,
            verdict=verdict,
            gate=gated.gate,
            draft=checked.text,
        )

    def _answer(self, text: str, answered: bool, reason: str | None, sources: tuple[Source, ...]) -> Answer:
        return Answer(
            query=self.query,
            text=text,
            answered=answered,
            reason=reason,
            citations=(),
            sentences=(),
            invalid_citations=(),
            sources=sources,
            backend=self.backend,
            relevance=self.relevance,
            index_version=self.version,
            timings_ms=self.timings,
            retrieved=self.retrieved,
        )


def answer_context(
    hits: list[RetrievedChunk], question: str, settings: Settings, generator: Generator
) -> Context:
    """The passages ``generator`` gets for ``question``: what the context window leaves after
    the prompt and the answer, and for a language model at most ``ATTEST_LLM_SOURCE_TOKENS``."""
    count = generator.count_tokens
    model = generator if isinstance(generator, LanguageModel) else None
    chat = model is not None and model.uses_chat()
    overhead = prompt_overhead(question, count, chat=chat)
    budget = settings.llm_context_tokens - settings.llm_max_tokens - overhead
    if model is not None and settings.llm_source_tokens:
        budget = min(budget, settings.llm_source_tokens)
    return build_context(hits, max(budget, 0), count)


def _passage_vectors(context: Context, hits: Sequence[RetrievedChunk]) -> np.ndarray | None:
    """Each passage's vector: the normalised mean of its chunks' index vectors, if all are known."""
    vectors = {hit.chunk.chunk_id: hit.vector for hit in hits if hit.vector is not None}
    rows = []
    for passage in context.passages:
        if not passage.chunk_ids or any(i not in vectors for i in passage.chunk_ids):
            return None
        mean = np.mean([vectors[i] for i in passage.chunk_ids], axis=0)
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
