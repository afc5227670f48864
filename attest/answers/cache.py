"""Whole answers to repeated questions, kept per process, and one computation per question.

An answer is keyed by the index version it was computed on, the asker's permission set,
the verification policy, the generator and the question (normalised by
:func:`~attest.core.questions.question_key`), so activating a new version (a re-index, a
deletion, an ACL change) makes every older entry unreachable: nothing needs to be
flushed, and the stale entries age out. Only standalone questions are kept; a follow-up's
answer depends on its conversation.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from attest.answers.records import Answer
from attest.core.models import Policy
from attest.core.questions import question_key
from attest.retrieval.cache import LRU

ANSWER_WAIT_S = 120.0  # how long a question waits for the same question being answered already

Key = tuple[object, ...]


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


def permission_key(groups: frozenset[str] | None) -> tuple[str, ...] | None:
    """``None`` (reads everything) stays distinct from an empty set of groups."""
    return None if groups is None else tuple(sorted(groups))


class AnswerCache:
    """Kept answers, and the questions being answered now; safe to share between threads."""

    def __init__(self, size: int, wait_s: float = ANSWER_WAIT_S) -> None:
        self.answers: LRU[Answer] = LRU(size)
        self.in_flight = SingleFlight()
        self.wait_s = wait_s

    def key(
        self, version_id: int, groups: frozenset[str] | None, policy: Policy, generator: str, question: str
    ) -> Key | None:
        """The key of a standalone question, or ``None`` when nothing is kept."""
        if self.answers.size <= 0:
            return None
        return (version_id, permission_key(groups), policy.value, generator, question_key(question))

    def kept(self, key: Key | None) -> tuple[Answer | None, bool]:
        """The kept answer for ``key``, if need be after waiting for the same question being
        answered for someone else; else ``None`` and whether this caller's answer is the one
        that others wait for (the caller must then :meth:`land` ``key`` when done)."""
        if key is None:
            return None, False
        while True:
            cached = self.answers.get(key)
            if cached is not None:
                return cached, False
            flight = self.in_flight.join(key)
            if flight is None:
                return None, True
            if not flight.wait(self.wait_s):
                return None, False  # the first caller is stuck: answer without waiting for it
            # Landed: the answer is kept, or it was not (a fallback, an error) and we go again.

    def keep(self, key: Key, answer: Answer) -> None:
        self.answers.put(key, answer)

    def land(self, key: Key) -> None:
        """The leading caller is done with ``key``: wake those waiting for it."""
        self.in_flight.land(key)
