"""A retrieval-only answer used until the generation issue lands.

Finds the passages closest to the question in the active index version and answers with
the single sentence that is closest to the question, citing its passage.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from attest.core.repository import get_kb
from attest.core.settings import get_settings
from attest.ingest.embedder import SentenceTransformerEmbedder
from attest.retrieval.hybrid import open_retriever
from attest.retrieval.index_store import active_snapshot

# A sentence ends at . ! ? before whitespace, or at a blank line; single line breaks
# inside a paragraph (hard-wrapped text) do not end it.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


def answer_preview(kb_name: str, question: str, *, k: int, engine: Engine) -> dict[str, Any]:
    """The best sentence from the top ``k`` passages, with the passages as sources."""
    if not question.strip():
        raise ValueError("The question is empty.")
    settings = get_settings()
    with Session(engine) as session:
        snapshot = active_snapshot(session, get_kb(session, name=kb_name))
    embedder = SentenceTransformerEmbedder(settings.embedding_model, batch_size=settings.embedding_batch_size)
    query = embedder.embed([question])[0]
    hits = open_retriever(snapshot, embedder, settings).retrieve(question, k)
    sources = [
        {key: hit.chunk[key] for key in ("title", "source_uri", "page", "char_start", "char_end", "text")}
        | {"score": hit.score}
        for hit in hits
    ]
    candidates = [
        (i, " ".join(sentence.split()))
        for i, s in enumerate(sources)
        for sentence in _SENTENCE_END.split(s["text"])
        if len(sentence.split()) >= 4
    ]
    if not candidates:
        return {"answer": "The knowledge base has no passages to answer from.", "sources": sources}
    scores = embedder.embed([c[1] for c in candidates]) @ query
    best = int(np.argmax(scores))
    source, sentence = candidates[best]
    return {"answer": f"{sentence} [{source + 1}]", "sources": sources, "index_version": snapshot.version}
