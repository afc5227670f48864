"""A bounded LRU map, and the question-time embedding cache built on it.

Questions are embedded for retrieval and again for the relevance gate, and asked again.
The answer units of the retrieved passages are embedded for the reader's similarity
feature, and the same passages come back for many questions (and for each part of a
two-part question). The vector of each text is kept, per process. The answer cache
(:mod:`attest.answers.cache`) uses the same map.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

import numpy as np

from attest.text.embedder import Embedder

V = TypeVar("V")


class LRU(Generic[V]):
    """A bounded, thread-safe least-recently-used map (``size`` 0: stores nothing)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: V) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class CachingEmbedder:
    """An :class:`Embedder` that remembers the vector of each text it embedded; the texts
    it has not seen are embedded together, in one batch."""

    def __init__(self, embedder: Embedder, size: int) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.cache: LRU[np.ndarray] = LRU(size)

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.cache.size <= 0 or not texts:
            return self.inner.embed(texts)
        distinct = list(dict.fromkeys(texts))
        found = {text: vector for text in distinct if (vector := self.cache.get(text)) is not None}
        missing = [text for text in distinct if text not in found]
        if missing:
            for text, row in zip(missing, self.inner.embed(missing), strict=True):
                vector = row.copy()  # not a view: a kept row would keep its whole batch alive
                vector.setflags(write=False)  # kept: a caller gets a copy
                self.cache.put(text, vector)
                found[text] = vector
        return np.stack([found[text] for text in texts])
