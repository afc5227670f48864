"""What only the Milvus backend has: filter expressions built from untrusted values, its own
collections and alias, and a Milvus that cannot be reached."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from milvus_lite.search.filter.tokens import TokenKind, tokenize
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from attest.core.enums import IndexBackendName
from attest.core.errors import NotFound, RetrievalError
from attest.core.models import IndexVersion
from attest.core.settings import Settings
from attest.ingest.pipeline import IngestPipeline
from attest.retrieval.filters import Filters
from attest.retrieval.milvus import alias_name, connect, shown_uri
from attest.retrieval.milvus_search import filter_expression, quote
from attest.retrieval.service import Retrievers
from attest.text.embedder import SentenceTransformerEmbedder
from tests.live import free_port

HOSTILE = [
    'eng"]) or true or array_contains_any(acl, ["x',
    "eng'] or public == false or ['",
    "back\\slash\\",
    'quote " and \\" escaped quote',
    "line\nbreak\r\ttab",
    "[brackets], (parens) and , commas",
    "",
]


@pytest.mark.unit
@pytest.mark.parametrize("value", HOSTILE)
def test_a_quoted_value_is_one_string_literal_holding_exactly_the_value(value: str) -> None:
    tokens = [t for t in tokenize(quote(value)) if t.kind is not TokenKind.EOF]
    assert len(tokens) == 1 and tokens[0].kind is TokenKind.STRING and tokens[0].value == value


@pytest.mark.unit
def test_filter_expressions() -> None:
    assert filter_expression(Filters()) is None
    assert filter_expression(Filters(groups=frozenset())) == "public == true"
    assert (
        filter_expression(Filters(groups=frozenset({"hr", "eng"}), documents=frozenset({3, 1})))
        == '(public == true or array_contains_any(acl, ["eng", "hr"])) and document_id in [1, 3]'
    )
    assert (
        filter_expression(Filters(entities=frozenset({"ACME"}))) == 'array_contains_any(entities, ["acme"])'
    )


@pytest.mark.unit
def test_a_password_in_the_uri_is_never_shown() -> None:
    assert shown_uri("http://root:s3cret@milvus:19530") == "http://root:***@milvus:19530"
    assert shown_uri("/data/milvus.db") == "/data/milvus.db"


@pytest.fixture
def milvus_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"index_backend": IndexBackendName.MILVUS})


@pytest.fixture
def company(
    milvus_settings: Settings, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> IngestPipeline:
    for folder, name, text in (
        ("hr", "salary.txt", "Salary bands\n\nAn analyst starts at 85,000 a year.\n"),
        ("public", "soup.txt", "Cafeteria\n\nThe soup of the day costs two euros.\n"),
    ):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text(text)
    pipeline = IngestPipeline(milvus_settings, engine=engine, embedder=embedder)
    pipeline.run("company", [tmp_path / "hr"], acl=["hr"])
    pipeline.run("company", [tmp_path / "public"])
    return pipeline


@pytest.mark.integration
def test_a_group_name_cannot_change_the_filter(
    company: IngestPipeline, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    searcher = Retrievers(engine, embedder, company.settings).get("company")
    for group in HOSTILE:
        for groups in ({group}, {group, "staff"}):
            hits = searcher.retrieve("analyst salary", k=10, filters=Filters(groups=frozenset(groups)))
            assert [Path(h.chunk.source_uri).name for h in hits] == ["soup.txt"], groups
    # and the same search with the real group finds the salary page, so the check has teeth
    hits = searcher.retrieve("analyst salary", k=10, filters=Filters(groups=frozenset({"hr"})))
    assert "salary.txt" in {Path(h.chunk.source_uri).name for h in hits}


@pytest.mark.integration
def test_one_collection_per_version_and_the_alias_follows_activation(
    company: IngestPipeline, engine: Engine, milvus_settings: Settings
) -> None:
    client = connect(milvus_settings)
    with Session(engine) as session:
        versions = session.scalars(select(IndexVersion).order_by(IndexVersion.version)).all()
        names = [v.path.removeprefix("milvus:") for v in versions]
        kb_id = versions[0].kb_id
    assert names == [f"attest_kb{kb_id}_v1", f"attest_kb{kb_id}_v2"]
    assert all(client.has_collection(n) for n in names)
    assert client.describe_alias(alias_name(kb_id))["collection_name"] == names[-1]
    assert client.get_collection_stats(names[-1])["row_count"] == 2


@pytest.mark.integration
def test_a_milvus_that_cannot_be_reached_is_a_retrieval_error_naming_it(
    company: IngestPipeline, engine: Engine, embedder: SentenceTransformerEmbedder
) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = company.settings.model_copy(update={"milvus_uri": down, "milvus_timeout": 2.0})
    with pytest.raises(RetrievalError, match=f"Milvus index at {down}"):
        Retrievers(engine, embedder, settings).get("company")


@pytest.mark.integration
def test_switching_backends_asks_for_a_re_index_and_the_next_ingest_rebuilds(
    company: IngestPipeline, engine: Engine, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    local = company.settings.model_copy(update={"index_backend": IndexBackendName.LOCAL})
    with pytest.raises(NotFound, match="another index backend .*re-index"):
        Retrievers(engine, embedder, local).get("company")
    summary = IngestPipeline(local, engine=engine, embedder=embedder).run("company", [tmp_path / "public"])
    assert summary.documents_unchanged == 1 and summary.index_version == 3  # rebuilt in local files
    searcher = Retrievers(engine, embedder, local).get("company")
    assert searcher.backend is IndexBackendName.LOCAL and len(searcher.retrieve("soup", k=5)) == 2
    with pytest.raises(NotFound, match="local index backend; re-index"):
        Retrievers(engine, embedder, company.settings).get("company")


@pytest.mark.integration
def test_a_second_process_on_the_embedded_database_is_told_to_use_a_server(milvus_settings: Settings) -> None:
    connect(milvus_settings)  # this process holds milvus-lite's lock on the database
    probe = (
        "from attest.core.errors import RetrievalError\n"
        "from attest.retrieval.milvus import connect\n"
        "from attest.core.settings import Settings\n"
        "try:\n    connect(Settings())\nexcept RetrievalError as exc:\n    print(exc)\n"
    )
    env = {**os.environ, "ATTEST_DATA_DIR": str(milvus_settings.data_dir)}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert "Only one process can open it at a time: run `milvus-lite server" in done.stdout, done
    assert "Traceback" not in done.stderr, done.stderr
