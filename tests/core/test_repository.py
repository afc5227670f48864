"""Repository functions on a real database."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from attest.core.models import Document, DocumentStatus, IndexStatus, IndexVersion
from attest.core.repository import KbSummary, create_kb, kb_summaries

pytestmark = pytest.mark.integration


def test_kb_summaries_count_every_document_and_name_the_active_version(engine: Engine) -> None:
    with Session(engine) as session:
        assert kb_summaries(session) == []
        hr = create_kb(session, name="hr")
        create_kb(session, name="empty")
        create_kb(session, name="acl")  # sorted by name: acl, empty, hr
        for i, acl in enumerate([[], ["managers"], ["nobody"]]):
            session.add(Document(kb_id=hr.id, source_uri=f"f{i}.txt", status=DocumentStatus.INDEXED, acl=acl))
        versions = [
            IndexVersion(
                kb_id=hr.id,
                version=n,
                status=IndexStatus.ACTIVE if n == 1 else IndexStatus.BUILDING,
                path=f"/idx/{n}",
                embedding_model="m",
                embedding_dim=3,
            )
            for n in (1, 2)
        ]
        session.add_all(versions)
        session.flush()
        hr.active_index_id = versions[0].id  # version 2 is still being built
        session.flush()

        assert kb_summaries(session) == [
            KbSummary(name="acl", documents=0, index_version=None),
            KbSummary(name="empty", documents=0, index_version=None),
            KbSummary(name="hr", documents=3, index_version=1),  # the active one, not the newest
        ]
