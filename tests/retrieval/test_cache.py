"""The LRU map, and the query-embedding cache built on it."""

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
        return np.asarray([[len(t), 1.0] for t in texts], dtype=np.float32)


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


def test_caching_embedder_remembers_single_texts_only() -> None:
    inner = Counting()
    cached = CachingEmbedder(inner, 8)
    first = cached.embed(["how many days?"])
    again = cached.embed(["how many days?"])
    assert inner.texts == 1 and np.array_equal(first, again) and again.shape == (1, 2)
    cached.embed(["a", "b"])
    cached.embed(["a", "b"])
    assert inner.texts == 5  # batches (documents, claims) are not kept
    with pytest.raises(ValueError):
        again[0, 0] = 0.0  # a shared vector cannot be changed by a caller
