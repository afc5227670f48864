"""Getting a batch of files ready to store: load, chunk, tag entities, embed.

Nothing here touches the database, so a batch can be prepared in a worker thread while
the previous one is embedded and stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attest.core.errors import IngestError, LoadError
from attest.core.settings import Settings
from attest.ingest.chunker import SlidingWindowChunker, Window, hf_offsets
from attest.ingest.entities import Entity, EntityTagger, entities_in
from attest.ingest.loaders import LoadedDocument, load_bytes
from attest.text.embedder import SentenceTransformerEmbedder


@dataclass(frozen=True)
class Candidate:
    """A file to load and embed, as the change scan found it."""

    path: Path
    digest: str  # its content hash when scanned
    size: int


@dataclass(frozen=True)
class Prepared:
    """A loaded, chunked and tagged document waiting for its embeddings."""

    path: Path
    content_hash: str
    size: int
    loaded: LoadedDocument
    windows: list[Window]
    chunk_entities: list[list[dict[str, Any]]]

    def texts(self) -> list[str]:
        return [self.loaded.text[w.char_start : w.char_end] for w in self.windows]


_Loaded = tuple[Path, bytes, LoadedDocument, list[Window]]  # a file read, extracted and cut


def build_chunker(settings: Settings, embedder: SentenceTransformerEmbedder) -> SlidingWindowChunker:
    """The chunker for ``embedder``'s tokenizer; IngestError when a window does not fit the model."""
    limit = embedder.max_tokens - 2  # [CLS] and [SEP]
    if settings.chunk_tokens > limit:
        raise IngestError(
            f"ATTEST_CHUNK_TOKENS={settings.chunk_tokens} does not fit the embedding model, "
            f"which reads at most {limit} tokens besides its special tokens."
        )
    return SlidingWindowChunker(
        hf_offsets(embedder.tokenizer),
        window=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
        slack=settings.chunk_boundary_slack,
    )


class Preparer:
    """Loads, chunks and tags the files of a batch, and embeds prepared documents."""

    def __init__(
        self,
        chunker: SlidingWindowChunker,
        tagger: EntityTagger,
        embedder: SentenceTransformerEmbedder,
        *,
        max_bytes: int,
    ) -> None:
        self.chunker = chunker
        self.tagger = tagger
        self.embedder = embedder
        self.max_bytes = max_bytes

    def prepare(self, batch: Sequence[Candidate]) -> list[Prepared | LoadError]:
        """Load, chunk and tag each file of a batch; a file that cannot be loaded gives its error.

        The batch's texts are tagged together, in one ``nlp.pipe`` stream.
        """
        outcomes: list[_Loaded | LoadError] = []
        for candidate in batch:
            try:
                outcomes.append(self._load(candidate.path))
            except LoadError as exc:
                outcomes.append(exc)
            except OSError as exc:
                outcomes.append(LoadError(f"{candidate.path.name}: cannot be read ({exc.strerror or exc})."))
        loaded = [o for o in outcomes if not isinstance(o, LoadError)]
        tagged = iter(self.tagger.tag_many([text.text for _, _, text, _ in loaded]))
        return [o if isinstance(o, LoadError) else _prepared(*o, next(tagged)) for o in outcomes]

    def embed(self, prepared: Sequence[Prepared]) -> np.ndarray:
        """One vector per window of the prepared documents, in order."""
        return self.embedder.embed([text for item in prepared for text in item.texts()])

    def _load(self, path: Path) -> _Loaded:
        data = path.read_bytes()
        loaded = load_bytes(data, filename=path.name, max_bytes=self.max_bytes)
        windows = list(self.chunker.windows(loaded.text))
        if not windows:
            raise LoadError(f"{path.name}: no tokens to index after text extraction.")
        return path, data, loaded, windows


def chunk_entities(entities: list[Entity], spans: Sequence[tuple[int, int]]) -> list[list[dict[str, Any]]]:
    """The entities inside each ``(char_start, char_end)`` span; both in document order."""
    found: list[list[dict[str, Any]]] = []
    first = 0
    for start, end in spans:
        inside, first = entities_in(entities, start, end, first)
        found.append([e.to_dict() for e in inside])
    return found


def _prepared(
    path: Path, data: bytes, loaded: LoadedDocument, windows: list[Window], entities: list[Entity]
) -> Prepared:
    """A loaded file with each window's entities (``entities`` in document offsets, sorted)."""
    spans = [(w.char_start, w.char_end) for w in windows]
    return Prepared(
        path, hashlib.sha256(data).hexdigest(), len(data), loaded, windows, chunk_entities(entities, spans)
    )
