"""One contract, two index backends: ``local`` (files) and ``milvus`` (embedded milvus-lite).

Every test here runs against both, through the interface the answer path uses
(``Retrievers`` and the ``Searcher`` it returns): ranking, access control before the cut,
filters, deletions, hot swap under concurrent queries, an interrupted build. Milvus is the
real engine: milvus-lite in this process, on a database in the test's data directory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from attest.core.enums import IndexBackendName
from attest.core.models import Document, IndexStatus, IndexVersion
from attest.core.settings import Settings
from attest.ingest.pipeline import IngestPipeline
from attest.retrieval import index_store
from attest.retrieval.backend import Searcher
from attest.retrieval.filters import Filters
from attest.retrieval.hybrid import Mode, RetrievedChunk
from attest.retrieval.service import Retrievers
from attest.text.embedder import SentenceTransformerEmbedder
from tests.retrieval.test_hybrid import AIMED_AT_HR, ENG, ENG_DOCS, HR_DOCS, ON_TOPIC, PUBLIC_DOCS, write

pytestmark = pytest.mark.integration

MODES = [Mode.BM25, Mode.DENSE, Mode.HYBRID]


@pytest.fixture(params=[IndexBackendName.LOCAL, IndexBackendName.MILVUS], ids=["local", "milvus"])
def backend_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    return settings.model_copy(update={"index_backend": request.param})


@pytest.fixture
def pipeline(
    backend_settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> IngestPipeline:
    return IngestPipeline(backend_settings, engine=engine, embedder=embedder)


@pytest.fixture
def retrievers(
    backend_settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder
) -> Retrievers:
    return Retrievers(engine, embedder, backend_settings)


@pytest.fixture
def company(pipeline: IngestPipeline, retrievers: Retrievers, tmp_path: Path) -> Searcher:
    """Thirteen documents in one knowledge base: six for hr, six for eng, one for everyone."""
    write(tmp_path / "hr", HR_DOCS)
    write(tmp_path / "eng", ENG_DOCS)
    write(tmp_path / "public", PUBLIC_DOCS)
    pipeline.run("company", [tmp_path / "hr"], acl=["hr"], tags=["people"])
    pipeline.run("company", [tmp_path / "eng"], acl=["eng"], tags=["engineering"])
    pipeline.run("company", [tmp_path / "public"], tags=["office"])
    searcher = retrievers.get("company")
    assert searcher.backend == pipeline.settings.index_backend
    return searcher


def put(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (folder / name).write_text(body)


def source(hit: RetrievedChunk) -> str:
    return Path(hit.chunk.source_uri).name


def visible_to_eng(hit: RetrievedChunk) -> bool:
    return not hit.chunk.acl or "eng" in hit.chunk.acl


def everything(searcher: Searcher, query: str, mode: Mode = Mode.DENSE) -> list[RetrievedChunk]:
    return searcher.retrieve(query, k=1000, mode=mode)


def test_each_mode_finds_the_on_topic_document(company: Searcher) -> None:
    for mode in MODES:
        for query, expected in ON_TOPIC:
            hits = company.retrieve(query, k=3, mode=mode)
            assert hits and source(hits[0]) == expected, (mode, query, [source(h) for h in hits])
            assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
            assert hits[0].vector is not None and abs(float(hits[0].vector @ hits[0].vector) - 1) < 1e-4


def test_a_restricted_user_gets_a_full_top_k_and_never_a_forbidden_chunk(company: Searcher) -> None:
    chunks = everything(company, "anything at all")
    visible = [h for h in chunks if visible_to_eng(h)]
    assert 4 <= len(visible) < len(chunks)
    k = 4
    for query, hr_doc in AIMED_AT_HR:
        # The query really is aimed at an hr document: unrestricted, it comes first.
        assert source(company.retrieve(query, k=1, mode=Mode.DENSE)[0]) == hr_doc
        for mode in (Mode.DENSE, Mode.HYBRID):
            hits = company.retrieve(query, k=k, filters=ENG, mode=mode)
            assert len(hits) == k and all(visible_to_eng(h) for h in hits), (mode, query)
        hits = company.retrieve(query, k=k, filters=ENG, mode=Mode.BM25)  # positive scores only
        assert len(hits) <= k and all(visible_to_eng(h) for h in hits)
        # Filtering happens before the cut: the unrestricted dense ranking, forbidden struck out.
        expected = [h.chunk.chunk_id for h in everything(company, query) if visible_to_eng(h)][:k]
        assert [
            h.chunk.chunk_id for h in company.retrieve(query, k=k, filters=ENG, mode=Mode.DENSE)
        ] == expected

    # Asking for more than may be seen returns exactly what may be seen.
    hits = company.retrieve(AIMED_AT_HR[0][0], k=1000, filters=ENG, mode=Mode.DENSE)
    assert sorted(h.chunk.chunk_id for h in hits) == sorted(h.chunk.chunk_id for h in visible)
    # Someone in no group sees only what has an empty ACL: the cafeteria page. (Local BM25
    # scores it with the statistics of that one page, where no term is rare: no positive score.)
    for mode in MODES:
        hits = company.retrieve("parental leave soup", k=4, filters=Filters(groups=frozenset()), mode=mode)
        assert {source(h) for h in hits} <= {"cafeteria.txt"}, mode
        assert hits or mode is Mode.BM25, mode


def test_document_tag_and_entity_filters_apply_inside_the_search(company: Searcher) -> None:
    ids = {source(h): h.chunk.document_id for h in everything(company, "x")}
    chosen = frozenset({ids["pension.txt"], ids["ci.txt"]})
    for mode in (Mode.DENSE, Mode.HYBRID):
        hits = company.retrieve(
            "how are the unit tests run", k=10, filters=Filters(documents=chosen), mode=mode
        )
        assert {h.chunk.document_id for h in hits} == chosen and source(hits[0]) == "ci.txt"
    hits = company.retrieve("parental leave", k=4, filters=Filters(tags=frozenset({"engineering"})))
    assert len(hits) == 4 and all(h.chunk.tags == ("engineering",) for h in hits)
    by_email = Filters(entities=frozenset({"SECURITY@Example.com"}))  # case-insensitive
    for mode in MODES:
        hits = company.retrieve("report a leaked key", k=5, filters=by_email, mode=mode)
        assert {source(h) for h in hits} == {"ssh.txt"}, mode
    # Kinds combine with AND; empty sets match nothing.
    both = frozenset({ids["salary.txt"], ids["ssh.txt"]})
    hits = company.retrieve("salary", k=5, filters=Filters(groups=ENG.groups, documents=both))
    assert [source(h) for h in hits] == ["ssh.txt"]
    assert company.retrieve("salary", k=5, filters=Filters(documents=frozenset())) == []


def test_a_deleted_document_leaves_the_index(
    pipeline: IngestPipeline, retrievers: Retrievers, company: Searcher
) -> None:
    before = company.version

    def delete_dental(session: Session, _kb: object) -> None:
        doc = session.scalars(select(Document).where(Document.source_uri.endswith("dental.txt"))).one()
        session.delete(doc)

    summary = pipeline.rebuild("company", delete_dental)
    searcher = retrievers.get("company")
    assert searcher.version == summary.index_version == before + 1
    for mode in MODES:
        assert "dental.txt" not in {source(h) for h in searcher.retrieve("dental cleanings", k=20, mode=mode)}
    # The searcher that was open before the deletion still answers from its own version.
    assert "dental.txt" in {source(h) for h in company.retrieve("dental cleanings", k=3)}


def test_versions_swap_under_concurrent_queries(
    pipeline: IngestPipeline,
    retrievers: Retrievers,
    tmp_path: Path,
    backend_settings: Settings,
    engine: Engine,
) -> None:
    docs = tmp_path / "docs"
    put(
        docs,
        {
            "leave.txt": "Annual leave\n\nTwenty-five days a year.\n",
            "mug.txt": "Kitchen\n\nClean your mug.\n",
        },
    )
    v1 = pipeline.run("kb", [docs]).index_version
    assert v1 is not None
    query = "zebra crossing safety rule"
    seen: list[tuple[int, set[str]]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                searcher = retrievers.get("kb")
                seen.append((searcher.version, {source(h) for h in searcher.retrieve(query, k=4)}))
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
                return

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        put(docs, {"zebra.txt": "Zebra crossing\n\nThe zebra crossing safety rule: stop for walkers.\n"})
        assert pipeline.run("kb", [docs]).index_version == v1 + 1
        (docs / "mug.txt").unlink()
        assert pipeline.run("kb", [docs], sync=True).index_version == v1 + 2  # prunes version 1
        while not any(version == v1 + 2 for version, _ in seen) and not errors:
            threading.Event().wait(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors, errors
    for version, sources in seen:  # each answer is wholly one version's
        assert ("zebra.txt" in sources) == (version > v1), (version, sources)
        assert ("mug.txt" in sources) == (version < v1 + 2), (version, sources)
    with Session(engine) as session:
        kept = session.scalars(select(IndexVersion.version).where(IndexVersion.status != IndexStatus.FAILED))
        assert sorted(kept) == [v1 + 1, v1 + 2]  # version 1 was pruned from the backend too


def test_an_interrupted_build_leaves_the_active_version_whole(
    pipeline: IngestPipeline,
    retrievers: Retrievers,
    company: Searcher,
    tmp_path: Path,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = [h.chunk.chunk_id for h in company.retrieve("parental leave", k=5)]
    real_rows = index_store.version_rows

    def dies_half_way(session: Session, kb_id: int) -> Iterator[tuple[object, object]]:
        for i, row in enumerate(real_rows(session, kb_id)):
            if i == 5:
                raise KeyboardInterrupt  # as if the process were stopped mid-build
            yield row

    monkeypatch.setattr(index_store, "version_rows", dies_half_way)
    put(tmp_path / "public", {"zebra.txt": "Zebra crossing\n\nStop for walkers.\n"})
    with pytest.raises(KeyboardInterrupt):
        pipeline.run("company", [tmp_path / "public"], tags=["office"])
    monkeypatch.undo()

    searcher = retrievers.get("company")
    assert searcher.version == company.version
    assert [h.chunk.chunk_id for h in searcher.retrieve("parental leave", k=5)] == before
    with Session(engine) as session:
        building = session.scalars(
            select(IndexVersion).where(IndexVersion.status == IndexStatus.BUILDING)
        ).one()
        assert not pipeline.backend.readable(building)  # nothing readable was left under its name
    # The next run clears the unfinished version and activates a new one.
    assert (
        pipeline.run("company", [tmp_path / "public"], tags=["office"]).index_version == company.version + 2
    )
    with Session(engine) as session:
        statuses = session.scalars(
            select(IndexVersion.status).where(IndexVersion.version == company.version + 1)
        )
        assert list(statuses) == [IndexStatus.FAILED]
