"""A bounded LRU map, and the query-embedding cache built on it.

Questions are embedded for retrieval and again for the relevance gate, and asked again;
the vector of each is kept, per process. The answer cache (:mod:`attest.answers.cache`)
uses the same map.
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
    """An :class:`Embedder` that remembers single texts (queries); batches pass straight through."""

    def __init__(self, embedder: Embedder, size: int) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.cache: LRU[np.ndarray] = LRU(size)

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.embed(texts)
        vector = self.cache.get(texts[0])
        if vector is None:
            vector = self.inner.embed(texts)[0]
            vector.setflags(write=False)  # shared between callers
            self.cache.put(texts[0], vector)
        return vector[np.newaxis, :]
