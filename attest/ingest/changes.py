"""Change detection: what an ingest job does with a file, judged by its stored document.

A document's pipeline signature has two parts joined by :data:`ENTITIES`: what its chunks'
text and vectors depend on besides the file (how the loaders write text, the embedding
model and the window settings), and what its entities depend on (the spaCy pipeline and
the knowledge base's terms). A change in the first re-embeds the file; a change in the
second alone only re-tags it.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence

from attest.core.models import Document, DocumentStatus
from attest.core.settings import Settings
from attest.ingest.entities import pipeline_signature
from attest.ingest.storage import failed_before

ENTITIES = "|entities:"  # separates the embedding and entity parts of a document's signature
# How the loaders write a document's text; raised when that changes, so that a re-index
# loads every file again. 2: table rows written with their column names (2026-12-06).
# 3: PDF running headers and footers left out, a sentence across a page break kept whole.
TEXT_VERSION = 3


class Change(enum.Enum):
    """What a job does with a file it found."""

    UNCHANGED = "unchanged"  # same content, same pipeline: nothing
    RETAG = "retag"  # same content, only the entity pipeline changed: tag again, no embedding
    FAILED = "failed"  # failed before with this content and pipeline: report the same error
    INDEX = "index"  # new, changed or from another embedding pipeline: load, embed, store


def embedding_signature(model_name: str, settings: Settings) -> str:
    """What the chunks' text and vectors depend on besides the file: a change re-embeds.
    (A signature written before the text version was part of it differs, so its document
    is loaded again.)"""
    s = settings
    windows = f"w{s.chunk_tokens}/o{s.chunk_overlap}/s{s.chunk_boundary_slack}"
    return f"text{TEXT_VERSION}|{model_name}|{windows}"[:200]


def signature(embedding: str, spacy_pipeline: str, terms: Mapping[str, Sequence[str]] | None) -> str:
    """A document's whole signature: ``embedding`` and a digest of what the entities depend on."""
    entities = pipeline_signature(spacy_pipeline, terms)
    return f"{embedding}{ENTITIES}{hashlib.sha256(entities.encode()).hexdigest()[:16]}"


def change_of(doc: Document | None, digest: str, signature: str) -> Change:
    """What becomes of a file with content hash ``digest`` whose stored document is ``doc``,
    under the current ``signature``."""
    if doc is not None and doc.status == DocumentStatus.INDEXED and doc.content_hash == digest:
        if doc.pipeline_signature == signature:
            return Change.UNCHANGED
        if doc.pipeline_signature.split(ENTITIES)[0] == signature.split(ENTITIES)[0]:
            return Change.RETAG
    if doc is not None and doc.status == DocumentStatus.FAILED and failed_before(doc, digest, signature):
        return Change.FAILED
    return Change.INDEX
