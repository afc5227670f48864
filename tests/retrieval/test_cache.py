"""The LRU map, and the question-time embedding cache built on it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from attest.retrieval.cache import LRU, CachingEmbedder

pytestmark = pytest.mark.unit


class Counting:
    """A tiny embedder that counts the texts it embeds."""

    name = "counting"
    dimension = 2

    def __init__(self) -> None:
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return np.asarray([[len(t), 1.0] for t in texts], dtype=np.float32).reshape(-1, 2)


def test_lru_evicts_the_least_recently_used() -> None:
    cache: LRU[int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the oldest
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    assert (cache.hits, cache.misses, len(cache)) == (3, 1, 2)
    off: LRU[int] = LRU(0)
    off.put("a", 1)
    assert off.get("a") is None


def test_caching_embedder_embeds_each_text_once() -> None:
    inner = Counting()
    cached = CachingEmbedder(inner, 8)
    first = cached.embed(["how many days?"])
    again = cached.embed(["how many days?"])
    assert inner.texts == 1 and np.array_equal(first, again) and again.shape == (1, 2)
    # Answer units: only the texts not seen yet are embedded, once each, in the caller's order.
    units = cached.embed(["a", "how many days?", "bb", "a"])
    assert inner.texts == 3 and units.shape == (4, 2)
    assert np.array_equal(units[1], first[0]) and np.array_equal(units[0], units[3])
    assert np.array_equal(cached.embed(["bb", "a"]), units[[2, 0]]) and inner.texts == 3
    again[0, 0] = 42.0  # a caller's copy: the kept vector stays
    assert np.array_equal(cached.embed(["how many days?"]), first)
    assert cached.embed([]).shape == (0, 2)
    assert cached.cache.get("bb").base is None  # kept on its own, not as a view of its batch
