"""Caches where they pay: query embeddings, and whole answers to repeated questions.

Both are bounded LRU maps, safe to share between threads, per process. An answer is
keyed by the index version it was computed on, the asker's permission set, the
verification policy and the question, so activating a new version (a re-index, a
deletion, an ACL change) makes every older entry unreachable: nothing needs to be
flushed, and the stale entries age out.
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


class SingleFlight:
    """One computation per missing key at a time: later callers wait for the first one's result.

    When a re-index activates a new version, every kept answer becomes unreachable at once,
    and fifty clients asking the same twenty questions would otherwise compute each answer
    fifty times over, all competing for the same CPUs (bench/load.py: requests stalled for
    over 20 s after each activation).
    """

    def __init__(self) -> None:
        self._flights: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()

    def join(self, key: Hashable) -> threading.Event | None:
        """``None`` when the caller is first, and must call :meth:`land` when done; else the
        event that is set when the first caller lands."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:
                self._flights[key] = threading.Event()
            return flight

    def land(self, key: Hashable) -> None:
        with self._lock:
            flight = self._flights.pop(key, None)
        if flight is not None:
            flight.set()


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


def permission_key(groups: frozenset[str] | None) -> tuple[str, ...] | None:
    """``None`` (reads everything) stays distinct from an empty set of groups."""
    return None if groups is None else tuple(sorted(groups))
