"""The answer cache: permission keys, and one computation per question."""

from __future__ import annotations

import threading

import pytest

from attest.answers.cache import AnswerCache, SingleFlight, permission_key
from attest.core.models import Policy

pytestmark = pytest.mark.unit


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


def test_the_key_names_version_readers_policy_backend_and_question() -> None:
    cache = AnswerCache(8)
    key = cache.key(3, frozenset({"hr"}), Policy.FLAG, "extractive", "How many days?")
    assert key == cache.key(3, frozenset({"hr"}), Policy.FLAG, "extractive", "how many  days")
    assert key != cache.key(4, frozenset({"hr"}), Policy.FLAG, "extractive", "How many days?")
    assert key != cache.key(3, None, Policy.FLAG, "extractive", "How many days?")
    assert key != cache.key(3, frozenset({"hr"}), Policy.STRIP, "extractive", "How many days?")
    assert AnswerCache(0).key(3, None, Policy.FLAG, "extractive", "How many days?") is None  # keeps nothing


def test_a_waiting_caller_gets_the_leaders_answer() -> None:
    cache = AnswerCache(8)
    key = ("k",)
    assert cache.kept(key) == (None, True)  # the first caller leads
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(cache.kept(key)))
    waiter.start()
    sentinel = object()
    cache.keep(key, sentinel)  # type: ignore[arg-type]
    cache.land(key)
    waiter.join(5)
    assert got == [(sentinel, False)]
