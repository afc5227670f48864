"""The answering service end to end over a real knowledge base: answer, cite, decline, fall back."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from attest.answers import NOT_IN_DOCUMENTS, Answerer, Delta, Final
from attest.core.errors import NotFound
from attest.core.settings import Settings
from attest.generation.backends import LlamaCppGenerator, OpenAIGenerator
from attest.generation.chat import Turn
from attest.generation.extractive import ExtractiveGenerator
from attest.generation.prompts import NOT_FOUND
from attest.ingest.embedder import SentenceTransformerEmbedder
from attest.ingest.pipeline import IngestPipeline
from attest.retrieval.context import Context
from tests.conftest import write_corpus

pytestmark = pytest.mark.integration

LEAVE = "How many days of annual leave do full-time employees receive?"


class Scripted:
    """A generator that always says ``reply``.

    It stands in for model behaviour a real small model cannot be made to show on demand
    (declining, inventing a citation); every other test uses real backends.
    """

    name = "scripted"

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, context: Context, question: str, max_tokens: int) -> Iterator[str]:
        yield from self.reply.split(" ")[:1]
        yield from (" " + word for word in self.reply.split(" ")[1:])


@pytest.fixture
def kb(settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    write_corpus(docs)
    pipeline = IngestPipeline(settings, engine=engine, embedder=embedder)
    pipeline.run("hr", [docs])
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "bonus.txt").write_text(
        "Bonus pool\n\nThe executive bonus pool for this year is 4.2 million euros.\n"
    )
    pipeline.run("hr", [tmp_path / "secret"], acl=["board"])
    return docs


def answerer(
    settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, generator: object
) -> Answerer:
    return Answerer(engine, settings, embedder=embedder, generator=generator)  # type: ignore[arg-type]


def test_extractive_answer_cites_the_right_document(
    kb: Path, settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    answer = answerer(settings, engine, embedder, ExtractiveGenerator(embedder)).ask("hr", LEAVE)
    assert answer.answered and "27 days" in answer.text
    assert [c["title"] for c in answer.citations] == ["Annual leave"]
    leave_text = (kb / "leave.txt").read_text()
    for sentence in answer.sentences:
        support = sentence["support"]
        assert support is not None and support["title"] == "Annual leave"
        assert leave_text[support["char_start"] : support["char_end"]] == support["quote"]
    assert answer.relevance > settings.answer_min_relevance
    assert set(answer.timings_ms) == {"retrieve", "context", "generate", "citations"}


def test_irrelevant_question_is_declined_with_the_closest_documents(
    kb: Path, settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    answer = answerer(settings, engine, embedder, ExtractiveGenerator(embedder)).ask(
        "hr", "What is the orbital period of Neptune?"
    )
    assert not answer.answered and answer.text == NOT_IN_DOCUMENTS
    assert answer.reason == "no passage is relevant enough" and answer.sources
    assert "generate" not in answer.timings_ms  # the model was never asked


def test_a_model_that_finds_no_answer_is_reported_plainly(
    kb: Path, settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    answer = answerer(settings, engine, embedder, Scripted(NOT_FOUND)).ask("hr", LEAVE)
    assert not answer.answered and answer.text == NOT_IN_DOCUMENTS
    assert answer.reason == "the model found no answer"
    assert "Annual leave" in {s["title"] for s in answer.sources}


def test_invented_citations_are_removed_and_reported(
    kb: Path, settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    answer = answerer(settings, engine, embedder, Scripted("Employees get 27 days [1] [9].")).ask("hr", LEAVE)
    assert answer.answered and answer.invalid_citations == [9]
    assert "[9]" not in answer.text and "[1]" in answer.text


def test_a_failing_endpoint_falls_back_to_extractive_with_a_note(
    kb: Path, settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = OpenAIGenerator(
        base_url=f"http://127.0.0.1:{port}/v1", model="m", api_key="k", timeout_s=2, max_retries=0
    )
    answer = answerer(settings, engine, embedder, down).ask("hr", LEAVE)  # a real refused connection
    assert answer.answered and answer.backend == "extractive" and "27 days" in answer.text
    assert answer.reason is not None and "openai failed" in answer.reason and "Cannot reach" in answer.reason


def test_answers_come_only_from_what_the_asker_may_read(
    kb: Path, settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    service = answerer(settings, engine, embedder, ExtractiveGenerator(embedder))
    question = "How large is the executive bonus pool?"
    board = service.ask("hr", question, groups=frozenset({"board"}))
    assert board.answered and "4.2 million" in board.text
    staff = service.ask("hr", question, groups=frozenset({"staff"}))
    assert "4.2 million" not in staff.text
    assert all(s["title"] != "Bonus pool" for s in staff.sources)


def test_bad_requests_name_the_problem(
    kb: Path, settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    service = answerer(settings, engine, embedder, ExtractiveGenerator(embedder))
    with pytest.raises(ValueError, match="empty"):
        service.ask("hr", "   ")
    with pytest.raises(NotFound, match="nope"):
        service.ask("nope", LEAVE)


def test_a_follow_up_is_made_standalone_from_the_conversation(
    kb: Path, settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    service = answerer(settings, engine, embedder, ExtractiveGenerator(embedder))
    history = [Turn(LEAVE, "Full-time employees receive 27 days of annual leave each year [1].")]
    answer = service.ask("hr", "and how many unused days carry over?", history=history)
    assert answer.query == f"{LEAVE} and how many unused days carry over?"
    assert "condense" in answer.timings_ms
    assert answer.question == "and how many unused days carry over?"
    assert answer.answered and "5 unused days" in answer.text
    assert [c["title"] for c in answer.citations] == ["Annual leave"]


def test_the_answer_streams_then_ends_with_the_checked_answer(
    kb: Path,
    settings: Settings,
    engine: Engine,
    embedder: SentenceTransformerEmbedder,
    llama: LlamaCppGenerator,
) -> None:
    events = list(answerer(settings, engine, embedder, llama).stream("hr", LEAVE))
    *deltas, final = events
    assert isinstance(final, Final) and all(isinstance(event, Delta) for event in deltas)
    assert len(deltas) > 1  # the real model's text arrives piece by piece
    answer = final.answer
    assert answer.backend == "llama_cpp" and "generate" in answer.timings_ms
    if answer.answered:  # the final text is the streamed text, checked (made-up citations removed)
        streamed = "".join(d.text for d in deltas)
        assert set(re.findall(r"[A-Za-z]+", answer.text)) <= set(re.findall(r"[A-Za-z]+", streamed))


def test_streamed_text_is_provisional_when_the_model_declines(
    kb: Path, settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    events = list(answerer(settings, engine, embedder, Scripted(NOT_FOUND)).stream("hr", LEAVE))
    assert "".join(e.text for e in events if isinstance(e, Delta)) == NOT_FOUND
    final = events[-1]
    assert isinstance(final, Final) and final.answer.text == NOT_IN_DOCUMENTS


def test_a_declined_question_streams_only_the_final_answer(
    kb: Path, settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    events = list(
        answerer(settings, engine, embedder, Scripted("never used")).stream("hr", "Orbit of Neptune?")
    )
    assert len(events) == 1 and isinstance(events[0], Final) and not events[0].answer.answered
