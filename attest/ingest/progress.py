"""Progress reporting for ingest jobs: a progress bar on stderr, or nothing."""

from __future__ import annotations

import sys
from typing import Protocol

from tqdm import tqdm


class Progress(Protocol):
    def start(self, total_documents: int) -> None: ...

    def advance(self, documents: int, chunks: int) -> None: ...

    def close(self) -> None: ...


class NullProgress:
    """Reports nothing."""

    def start(self, total_documents: int) -> None:
        pass

    def advance(self, documents: int, chunks: int) -> None:
        pass

    def close(self) -> None:
        pass


class BarProgress:
    """A tqdm bar on stderr: documents done of total, chunks, rate and ETA."""

    def __init__(self, description: str = "ingest") -> None:
        self.description = description
        self._bar: tqdm | None = None
        self._chunks = 0

    def start(self, total_documents: int) -> None:
        self._bar = tqdm(
            total=total_documents, desc=self.description, unit="doc", file=sys.stderr, dynamic_ncols=True
        )

    def advance(self, documents: int, chunks: int) -> None:
        if self._bar is None:
            return
        self._chunks += chunks
        self._bar.set_postfix(chunks=self._chunks, refresh=False)
        self._bar.update(documents)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
