"""Hybrid retrieval over a real index built by the ingest pipeline, with ACL and other filters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from attest.core.errors import InvalidInput, RetrievalError
from attest.core.repository import get_kb
from attest.core.settings import Settings
from attest.ingest.pipeline import IngestPipeline
from attest.retrieval.filters import Filters
from attest.retrieval.hybrid import HybridRetriever, Mode, RetrievedChunk, open_retriever
from attest.retrieval.index_store import active_snapshot
from attest.retrieval.records import ChunkRecord
from attest.text.embedder import SentenceTransformerEmbedder

pytestmark = pytest.mark.integration

MODES = [Mode.BM25, Mode.DENSE, Mode.HYBRID]

# Six documents only the "hr" group may read, six only "eng" may read, one for everyone.
HR_DOCS = {
    "salary.txt": "Salary bands\n\nEvery salary band has a minimum and a maximum. An analyst starts at "
    "$85,000 a year and pay is reviewed every April against market data.\n",
    "parental.txt": "Parental leave\n\nNew mothers and fathers get sixteen weeks of fully paid parental "
    "leave after the birth or adoption of a child.\n",
    "pension.txt": "Pension plan\n\nThe company pays six percent of your gross salary into the pension "
    "fund; you can add voluntary retirement contributions on top.\n",
    "disciplinary.txt": "Disciplinary procedure\n\nMisconduct is handled with a verbal warning first, then "
    "a written warning, and dismissal only after a formal hearing.\n",
    "recruiting.txt": "Recruiting\n\nCandidates meet a hiring manager and two interviewers; references are "
    "checked before a job offer is signed.\n",
    "dental.txt": "Health insurance\n\nThe health insurance covers dental cleanings twice a year, eye "
    "glasses and physiotherapy sessions for the whole family.\n",
}
ENG_DOCS = {
    "deploy.txt": "Deployments\n\nServices deploy to the Kubernetes cluster through a Helm chart; a canary "
    "release receives five percent of traffic for an hour.\n",
    "oncall.txt": "On-call rotation\n\nEngineers take turns carrying the pager for a week and must "
    "acknowledge an incident alert within fifteen minutes.\n",
    "backups.txt": "Database backups\n\nThe Postgres database is backed up every night with a point in "
    "time recovery window of seven days.\n",
    "review.txt": "Code review\n\nEvery pull request needs one approving review and a green test run "
    "before it may be merged into the main branch.\n",
    "ci.txt": "Continuous integration\n\nThe build pipeline compiles the code, runs the unit tests and "
    "lints every commit pushed to the repository.\n",
    "ssh.txt": "SSH keys\n\nRotate your SSH keys every ninety days and report a leaked private key to "
    "security@example.com immediately.\n",
}
PUBLIC_DOCS = {
    "cafeteria.txt": "Cafeteria\n\nThe cafeteria on the ground floor serves breakfast and lunch; the "
    "vegetarian soup of the day costs two euros.\n",
}


@dataclass
class Corpus:
    kb: str
    hr: dict[str, Path]
    eng: dict[str, Path]
    public: dict[str, Path]
    retriever: HybridRetriever

    def doc_ids(self, *names: str) -> frozenset[int]:
        paths = {str(p) for files in (self.hr, self.eng, self.public) for n, p in files.items() if n in names}
        ids = {c.document_id for c in self.retriever.snapshot.chunks if c.source_uri in paths}
        assert len(ids) == len(names)
        return frozenset(ids)


def write(folder: Path, files: dict[str, str]) -> dict[str, Path]:
    folder.mkdir(parents=True)
    paths = {}
    for name, body in files.items():
        paths[name] = folder / name
        paths[name].write_text(body)
    return paths


def open_kb(
    engine: Engine, embedder: SentenceTransformerEmbedder, settings: Settings, kb: str
) -> HybridRetriever:
    with Session(engine) as session:
        snapshot = active_snapshot(session, get_kb(session, name=kb))
    return open_retriever(snapshot, embedder, settings)


@pytest.fixture
def pipeline(settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder) -> IngestPipeline:
    return IngestPipeline(settings, engine=engine, embedder=embedder)


@pytest.fixture
def corpus(
    pipeline: IngestPipeline,
    engine: Engine,
    embedder: SentenceTransformerEmbedder,
    settings: Settings,
    tmp_path: Path,
) -> Corpus:
    """One knowledge base filled by three ingest runs into the same KB, each with its own ACL."""
    hr = write(tmp_path / "hr", HR_DOCS)
    eng = write(tmp_path / "eng", ENG_DOCS)
    public = write(tmp_path / "public", PUBLIC_DOCS)
    pipeline.run("company", [tmp_path / "hr"], acl=["hr"], tags=["people"])
    pipeline.run("company", [tmp_path / "eng"], acl=["eng"], tags=["engineering"])
    pipeline.run("company", [tmp_path / "public"], tags=["office"])  # empty ACL: everyone
    retriever = open_kb(engine, embedder, settings, "company")
    assert len({c.document_id for c in retriever.snapshot.chunks}) == 13
    return Corpus("company", hr, eng, public, retriever)


def source(hit: RetrievedChunk) -> str:
    return Path(hit.chunk.source_uri).name


def visible_to_eng(chunk: ChunkRecord) -> bool:
    return not chunk.acl or "eng" in chunk.acl


ON_TOPIC = [
    ("how many weeks of parental leave after adoption", "parental.txt"),
    ("does health insurance pay for dental cleanings", "dental.txt"),
    ("how often is the Postgres database backed up", "backups.txt"),
    ("what does the vegetarian soup cost in the cafeteria", "cafeteria.txt"),
]


def test_each_mode_finds_the_on_topic_document(corpus: Corpus) -> None:
    for mode in MODES:
        for query, expected in ON_TOPIC:
            hits = corpus.retriever.retrieve(query, k=3, mode=mode)
            assert hits, (mode, query)
            assert source(hits[0]) == expected, (mode, query, [source(h) for h in hits])
            assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
            for hit in hits:
                assert corpus.retriever.snapshot.chunks[hit.row] == hit.chunk


AIMED_AT_HR = [
    ("how many weeks of parental leave after adoption", "parental.txt"),
    ("what salary does an analyst start at", "salary.txt"),
]
ENG = Filters(groups=frozenset({"eng"}))


def test_restricted_user_gets_a_full_top_k_of_visible_chunks(corpus: Corpus) -> None:
    retriever = corpus.retriever
    chunks = retriever.snapshot.chunks
    visible = [i for i, c in enumerate(chunks) if visible_to_eng(c)]
    assert 4 <= len(visible) < len(chunks)
    k = 4
    for query, hr_doc in AIMED_AT_HR:
        for mode in (Mode.DENSE, Mode.HYBRID):
            hits = retriever.retrieve(query, k=k, filters=ENG, mode=mode)
            assert len(hits) == k, (mode, query)  # the forbidden matches took no slot
            assert all(visible_to_eng(h.chunk) for h in hits), (mode, query)
        # BM25 returns only chunks with a positive score, so it may return fewer than k;
        # whatever it returns is visible.
        hits = retriever.retrieve(query, k=k, filters=ENG, mode=Mode.BM25)
        assert len(hits) <= k and all(visible_to_eng(h.chunk) for h in hits)

        # Filtering happens before the cut: the restricted dense top-k is the unrestricted
        # ranking with the forbidden chunks struck out, cut at k. (BM25 rescores with the
        # statistics of the readable chunks; the next test covers it.)
        everything = retriever.retrieve(query, k=len(chunks), mode=Mode.DENSE)
        # The query really is aimed at an hr document: unrestricted, it comes first.
        assert source(everything[0]) == hr_doc
        expected = [(h.row, h.score) for h in everything if visible_to_eng(h.chunk)][:k]
        got = [(h.row, h.score) for h in retriever.retrieve(query, k=k, filters=ENG, mode=Mode.DENSE)]
        assert got == expected, query

    # Asking for more than may be seen returns exactly what may be seen.
    hits = retriever.retrieve(AIMED_AT_HR[0][0], k=len(chunks), filters=ENG, mode=Mode.DENSE)
    assert sorted(h.row for h in hits) == visible
    # Someone in no group sees only what has an empty ACL: the cafeteria page.
    hits = retriever.retrieve("parental leave", k=4, filters=Filters(groups=frozenset()), mode=Mode.HYBRID)
    assert [source(h) for h in hits] == ["cafeteria.txt"]


def test_forbidden_documents_change_nothing_in_the_ranking(
    corpus: Corpus,
    pipeline: IngestPipeline,
    engine: Engine,
    embedder: SentenceTransformerEmbedder,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """A restricted user's ranking equals the one over an index of only what they may see.

    * DENSE: a chunk's score depends only on its own embedding, and the mask is applied
      inside the FAISS search before the cut.
    * BM25: scored with the statistics (document frequencies, average length, idf floor)
      of the chunks the user may read, so forbidden text shifts no score.
    * HYBRID: fuses the two, over candidates drawn from the readable chunks only.
    Scores agree up to float noise (the two knowledge bases embedded their chunks in
    different batches).
    """
    # The same files, ingested the same way, into a KB that holds only what eng may read.
    pipeline.run("eng-only", [tmp_path / "eng"], acl=["eng"], tags=["engineering"])
    pipeline.run("eng-only", [tmp_path / "public"], tags=["office"])
    alone = open_kb(engine, embedder, settings, "eng-only")
    visible = [c for c in corpus.retriever.snapshot.chunks if visible_to_eng(c)]
    assert len(alone.snapshot.chunks) == len(visible)

    def key(hit: RetrievedChunk) -> tuple[str, int]:  # row and chunk ids differ between KBs
        return source(hit), hit.chunk.position

    queries = [q for q, _ in AIMED_AT_HR] + ["database backup and the pager", "the office kitchen"]
    for query in queries:
        for mode, tolerance in ((Mode.DENSE, 1e-5), (Mode.BM25, 1e-9), (Mode.HYBRID, 1e-4)):
            restricted = corpus.retriever.retrieve(query, k=len(visible), filters=ENG, mode=mode)
            reference = alone.retrieve(query, k=len(visible), mode=mode)
            assert [key(h) for h in restricted] == [key(h) for h in reference], (mode, query)
            assert [h.score for h in restricted] == pytest.approx([h.score for h in reference], abs=tolerance)
        # and the forbidden chunks do shift an unrestricted BM25 score, so the check has teeth
        unrestricted = {key(h): h.score for h in corpus.retriever.retrieve(query, k=50, mode=Mode.BM25)}
        alone_scores = {key(h): h.score for h in alone.retrieve(query, k=50, mode=Mode.BM25)}
        shared = set(unrestricted) & set(alone_scores)
        assert not shared or any(abs(unrestricted[k] - alone_scores[k]) > 1e-6 for k in shared)


def test_document_tag_and_entity_filters(corpus: Corpus) -> None:
    retriever = corpus.retriever
    chunks = retriever.snapshot.chunks

    # documents: only chunks of the chosen documents, all of them when k allows.
    chosen = corpus.doc_ids("pension.txt", "ci.txt")
    n_chosen = sum(c.document_id in chosen for c in chunks)
    for mode in (Mode.DENSE, Mode.HYBRID):
        hits = retriever.retrieve(
            "how are the unit tests run", k=10, filters=Filters(documents=chosen), mode=mode
        )
        assert len(hits) == n_chosen and {h.chunk.document_id for h in hits} == chosen
        assert source(hits[0]) == "ci.txt"

    # tags (any of): a query aimed at hr, restricted to the engineering tag, still fills k.
    hits = retriever.retrieve("parental leave", k=4, filters=Filters(tags=frozenset({"engineering"})))
    assert len(hits) == 4 and all(h.chunk.tags == ("engineering",) for h in hits)
    hits = retriever.retrieve(
        "kubernetes deployment", k=20, filters=Filters(tags=frozenset({"office", "people"})), mode=Mode.DENSE
    )
    assert {source(h) for h in hits} == set(HR_DOCS) | set(PUBLIC_DOCS)

    # entities (case-insensitive): the e-mail address found by the tagger in ssh.txt.
    by_email = Filters(entities=frozenset({"SECURITY@Example.com"}))
    for mode in MODES:
        hits = retriever.retrieve("report a leaked key", k=5, filters=by_email, mode=mode)
        assert hits and {source(h) for h in hits} == {"ssh.txt"}, mode
    money = Filters(entities=frozenset({"$85,000"}))
    assert {source(h) for h in retriever.retrieve("pay", k=5, filters=money, mode=Mode.DENSE)} == {
        "salary.txt"
    }

    # Filter kinds combine with AND: eng may not read salary.txt, so nothing is left.
    for mode in MODES:
        assert (
            retriever.retrieve(
                "salary", k=5, filters=Filters(groups=ENG.groups, entities=money.entities), mode=mode
            )
            == []
        )
    both = corpus.doc_ids("salary.txt", "ssh.txt")
    hits = retriever.retrieve("salary", k=5, filters=Filters(groups=ENG.groups, documents=both))
    assert [source(h) for h in hits] == ["ssh.txt"]


def test_empty_query_is_an_error(corpus: Corpus) -> None:
    for query in ("", "   ", "\n\t"):
        for mode in MODES:
            with pytest.raises(RetrievalError, match="empty"):
                corpus.retriever.retrieve(query, k=3, mode=mode)


@pytest.mark.unit
def test_mode_from_str_names_the_three_retrievers_only() -> None:
    assert list(Mode) == MODES
    assert Mode.from_str(" BM25 ") is Mode.BM25
    assert Mode.from_str("Hybrid") is Mode.HYBRID
    for name in ("sparse", "all"):  # "all" is the evaluation's word for every mode, not a mode
        with pytest.raises(
            InvalidInput, match="unknown retrieval mode .*; valid values: bm25, dense, hybrid.$"
        ):
            Mode.from_str(name)
