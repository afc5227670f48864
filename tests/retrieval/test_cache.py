"""The LRU maps behind the query-embedding and answer caches."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from attest.retrieval.cache import LRU, CachingEmbedder, SingleFlight, permission_key

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


def test_permission_keys() -> None:
    assert permission_key(None) is None and permission_key(frozenset()) == ()
    assert permission_key(frozenset({"b", "a"})) == ("a", "b")


def test_single_flight_lets_one_caller_compute_and_the_others_wait() -> None:
    flights = SingleFlight()
    assert flights.join("q") is None  # the first caller leads
    waiting = flights.join("q")
    assert waiting is not None and not waiting.is_set()
    assert flights.join("other") is None  # another key is independent
    woke = threading.Event()
    threading.Thread(target=lambda: waiting.wait(5) and woke.set()).start()
    flights.land("q")
    assert woke.wait(5) and waiting.is_set()
    assert flights.join("q") is None  # landed: the next miss leads again
