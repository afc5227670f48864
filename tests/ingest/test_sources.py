"""A source keeps the ACL and tags it was ingested with, for every document a later job
creates under it: a new file, a deleted one that came back, one that failed to load.
Real model, real database (SQLite, and PostgreSQL in the second pass)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from attest.core.models import Document, DocumentStatus, Source
from attest.core.settings import Settings
from attest.ingest.pipeline import IngestPipeline
from attest.ingest.sources import enclosing
from attest.text.embedder import SentenceTransformerEmbedder
from tests.conftest import write_corpus

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder) -> IngestPipeline:
    return IngestPipeline(settings, engine=engine, embedder=embedder)


def _access(engine: Engine) -> dict[str, tuple[list[str], list[str], str]]:
    with Session(engine) as session:
        return {
            Path(d.source_uri).name: (d.acl, d.tags, str(d.status)) for d in session.scalars(select(Document))
        }


def test_new_deleted_and_failed_files_take_the_source_acl(
    pipeline: IngestPipeline, engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "hr"
    write_corpus(folder)
    (folder / "empty.md").write_text("  \n")  # fails: no text
    pipeline.run("kb", [folder], acl=["hr"], tags=["people"])
    assert _access(engine)["empty.md"] == (["hr"], ["people"], DocumentStatus.FAILED)
    with Session(engine) as session:
        session.execute(delete(Document).where(Document.source_uri == str(folder / "leave.txt")))
        session.commit()
    (folder / "new.txt").write_text("The new office in Harrow opens on 4 May for the whole team.")
    (folder / "empty.md").write_text("Quiet rooms can be booked for an hour at a time.")
    summary = pipeline.run("kb", [folder])  # a re-index: no ACL given, as from the API
    assert (summary.documents_added, summary.documents_updated) == (2, 1)  # the fixed file was there, failed
    access = _access(engine)
    assert set(access) == {"leave.txt", "travel.md", "security.md", "empty.md", "new.txt"}
    assert all(acl == ["hr"] and tags == ["people"] for acl, tags, _ in access.values()), access


def test_an_explicit_acl_replaces_the_sources_and_sub_folders_inherit_it(
    pipeline: IngestPipeline, engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_corpus(folder)
    pipeline.run("kb", [folder], acl=["hr"])
    pipeline.run("kb", [folder], acl=["hr", "managers"])
    sub = folder / "2026"
    sub.mkdir()
    (sub / "plan.txt").write_text("The 2026 plan adds two teams in Leeds and one in Porto.")
    pipeline.run("kb", [sub])  # a sub-folder named on its own, without an ACL
    assert _access(engine)["plan.txt"][0] == ["hr", "managers"]
    with Session(engine) as session:
        sources = {s.path: s.acl for s in session.scalars(select(Source))}
    assert sources == {str(folder.resolve()): ["hr", "managers"], str(sub.resolve()): ["hr", "managers"]}


def test_an_open_source_stays_open(pipeline: IngestPipeline, engine: Engine, tmp_path: Path) -> None:
    write_corpus(tmp_path / "docs")
    pipeline.run("kb", [tmp_path / "docs"])
    (tmp_path / "docs" / "more.txt").write_text("Lunch is served from noon in the east wing canteen.")
    pipeline.run("kb", [tmp_path / "docs"])
    assert all(acl == [] for acl, _, _ in _access(engine).values())


@pytest.mark.unit
def test_the_most_specific_source_wins() -> None:
    outer = Source(kb_id=1, path="/srv/docs", acl=["staff"], tags=[])
    inner = Source(kb_id=1, path="/srv/docs/hr", acl=["hr"], tags=[])
    sources = [outer, inner]
    assert enclosing(sources, Path("/srv/docs/hr/pay.txt")) is inner
    assert enclosing(sources, Path("/srv/docs/hrx/pay.txt")) is outer  # a prefix of the name is not a parent
    assert enclosing(sources, Path("/srv/docs/hr")) is inner
    assert enclosing(sources, Path("/srv/other.txt")) is None
