"""The entity boost: a chunk naming the question's entities gains ``entity_boost`` × their share."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from attest.answers import Answerer
from attest.core.repository import get_kb
from attest.core.settings import Settings
from attest.ingest.entities import EntityTagger
from attest.ingest.pipeline import IngestPipeline
from attest.retrieval.hybrid import HybridRetriever, QueryEntities, RetrievedChunk, open_retriever
from attest.retrieval.index_store import IndexSnapshot, active_snapshot
from attest.retrieval.service import Retrievers
from attest.text.embedder import SentenceTransformerEmbedder

pytestmark = pytest.mark.integration

DOCS = {
    "bonus.txt": "Annual bonus\n\nEmployees with questions about their annual bonus ask the payroll team, "
    "who answer every bonus question within two working days.\n",
    "mailboxes.txt": "Mailboxes\n\nThe shared mailbox payroll@example.com is read by the finance office "
    "on weekdays.\n",
    "laptops.txt": "Laptops\n\nA lost laptop is reported to it-help@example.com; the help desk locks it "
    "remotely.\n",
    "canteen.txt": "Canteen\n\nThe canteen serves lunch from noon; the soup of the day costs two euros.\n",
}
ENTITY_QUERY = "Who answers bonus questions sent to payroll@example.com?"
PLAIN_QUERY = "Who answers questions about the bonus?"  # the trained NER reads "annual" as a DATE


@pytest.fixture
def snapshot(
    settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> IndexSnapshot:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, body in DOCS.items():
        (folder / name).write_text(body)
    IngestPipeline(settings, engine=engine, embedder=embedder).run("kb", [folder])
    with Session(engine) as session:
        return active_snapshot(session, get_kb(session, name="kb"))


@pytest.fixture
def tagger(settings: Settings) -> QueryEntities:
    """The question's entities, from the tagger the ingest pipeline uses (no KB terms here)."""
    entity_tagger = EntityTagger(settings.spacy_pipeline)

    def texts(query: str) -> Iterable[str]:
        return [e.text for e in entity_tagger.tag(query)]

    return texts


def retriever(
    snapshot: IndexSnapshot,
    embedder: SentenceTransformerEmbedder,
    settings: Settings,
    boost: float,
    query_entities: QueryEntities | None,
) -> HybridRetriever:
    boosted = settings.model_copy(update={"retrieval_entity_boost": boost})
    return open_retriever(snapshot, embedder, boosted, query_entities=query_entities)


def ranked(hits: list[RetrievedChunk]) -> list[tuple[str, float]]:
    return [(Path(h.chunk.source_uri).name, h.score) for h in hits]


def test_chunk_naming_the_query_entity_moves_up(
    snapshot: IndexSnapshot, embedder: SentenceTransformerEmbedder, settings: Settings, tagger: QueryEntities
) -> None:
    assert list(tagger(ENTITY_QUERY)) == ["payroll@example.com"]
    named = [c for c in snapshot.chunks if "payroll@example.com" in {e.text for e in c.entities}]
    assert [Path(c.source_uri).name for c in named] == ["mailboxes.txt"]

    plain = ranked(retriever(snapshot, embedder, settings, 0.0, tagger).retrieve(ENTITY_QUERY, k=4))
    assert plain[0][0] == "bonus.txt"  # without the boost the bonus page wins on wording
    # Min-max fusion over four chunks leaves a wide gap under the top (1.0 against about 0.3),
    # so it takes a large boost to close it.
    boost = 0.8
    assert plain[0][1] - dict(plain)["mailboxes.txt"] < boost
    boosted = ranked(retriever(snapshot, embedder, settings, boost, tagger).retrieve(ENTITY_QUERY, k=4))
    assert boosted[0][0] == "mailboxes.txt"
    # The naming chunk gains exactly the boost (one entity of one named); the others keep their scores.
    before, after = dict(plain), dict(boosted)
    assert after["mailboxes.txt"] == pytest.approx(before["mailboxes.txt"] + boost)
    for name in ("bonus.txt", "laptops.txt", "canteen.txt"):
        assert after[name] == pytest.approx(before[name])


def test_boost_is_the_share_of_the_query_entities_named(
    snapshot: IndexSnapshot, embedder: SentenceTransformerEmbedder, settings: Settings, tagger: QueryEntities
) -> None:
    query = "Do PAYROLL@example.com and hr-desk@example.com answer bonus questions?"
    assert len(list(tagger(query))) == 2
    plain = dict(ranked(retriever(snapshot, embedder, settings, 0.0, tagger).retrieve(query, k=4)))
    boosted = dict(ranked(retriever(snapshot, embedder, settings, 0.4, tagger).retrieve(query, k=4)))
    # One of the two entities is named (case-insensitively): half the boost.
    assert boosted["mailboxes.txt"] == pytest.approx(plain["mailboxes.txt"] + 0.2)
    assert boosted["bonus.txt"] == pytest.approx(plain["bonus.txt"])


def test_boost_zero_changes_nothing(
    snapshot: IndexSnapshot, embedder: SentenceTransformerEmbedder, settings: Settings, tagger: QueryEntities
) -> None:
    without = retriever(snapshot, embedder, settings, 0.0, None).retrieve(ENTITY_QUERY, k=4)
    with_entities = retriever(snapshot, embedder, settings, 0.0, tagger).retrieve(ENTITY_QUERY, k=4)
    assert ranked(with_entities) == ranked(without)
    # A boost with no way to find the query's entities is off as well.
    unhooked = retriever(snapshot, embedder, settings, 0.5, None).retrieve(ENTITY_QUERY, k=4)
    assert ranked(unhooked) == ranked(without)


def test_query_without_entities_is_unaffected(
    snapshot: IndexSnapshot, embedder: SentenceTransformerEmbedder, settings: Settings, tagger: QueryEntities
) -> None:
    assert not list(tagger(PLAIN_QUERY))
    plain = retriever(snapshot, embedder, settings, 0.0, None).retrieve(PLAIN_QUERY, k=4)
    boosted = retriever(snapshot, embedder, settings, 0.5, tagger).retrieve(PLAIN_QUERY, k=4)
    assert ranked(boosted) == ranked(plain)
    assert ranked(plain)[0][0] == "bonus.txt"


def test_the_query_service_wires_the_tagger_when_the_boost_is_on(
    snapshot: IndexSnapshot, settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    boost_off = Answerer(engine, settings, embedder=embedder)
    assert boost_off.retrievers.get("kb").query_entities is None
    boost_on = settings.model_copy(update={"retrieval_entity_boost": 0.8})
    assert Retrievers(engine, embedder, boost_on).get("kb").query_entities is None  # given no hook
    # The answering service is the composition root that hands retrieval the ingest tagger.
    retriever = Answerer(engine, boost_on, embedder=embedder).retrievers.get("kb")
    assert retriever.query_entities is not None
    assert list(retriever.query_entities(ENTITY_QUERY)) == ["payroll@example.com"]
    assert ranked(retriever.retrieve(ENTITY_QUERY, k=1))[0][0] == "mailboxes.txt"
