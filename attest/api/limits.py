"""Abuse limits kept in each API process: sign-in lockouts per username, concurrent answers
per caller, and the aggregation of repeated refusals in the audit log.

They hold no database state, so each worker process counts on its own (like the request
rate limiter in :mod:`attest.api.deps`). Every table is bounded: entries that no longer
matter are dropped once a table passes :data:`MAX_TRACKED` keys, and the oldest go first
if that is not enough.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

from starlette.requests import Request

from attest.core.settings import Settings

MAX_TRACKED = 10_000
Clock = Callable[[], float]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def client_address(request: Request) -> str:
    """The peer's address: the TCP peer, or what a trusted proxy reported (``attest serve``)."""
    return request.client.host if request.client else "unknown"


class SignInGuard:
    """Locks a username for ``lockout_s`` after ``max_failures`` failed sign-ins within ``window_s``.

    Usernames are counted whether or not an account has them, so a lockout tells nothing
    about which accounts exist. A successful sign-in clears the count.
    """

    def __init__(self, max_failures: int, window_s: float, lockout_s: float, clock: Clock = time.monotonic):
        self.max_failures, self.window_s, self.lockout_s = max_failures, window_s, lockout_s
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def locked(self, username: str) -> float:
        """Seconds the username stays locked; 0 when it may sign in."""
        with self._lock:
            until = self._locked_until.get(username, 0.0)
            left = until - self._clock()
            if left <= 0:
                self._locked_until.pop(username, None)
                return 0.0
            return left

    def failed(self, username: str) -> float:
        """Count a failed sign-in; the lockout's length when this one starts a lockout, else 0."""
        if self.max_failures <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            recent = [t for t in self._failures.pop(username, []) if now - t < self.window_s]
            recent.append(now)
            if len(recent) >= self.max_failures:
                self._locked_until[username] = now + self.lockout_s
                _bound(self._locked_until, lambda until: until <= now)
                return self.lockout_s
            self._failures[username] = recent
            _bound(self._failures, lambda times: now - times[-1] >= self.window_s)
            return 0.0

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)


class ConcurrencyLimiter:
    """At most ``per_owner`` slots held at once by each owner (0: no limit)."""

    def __init__(self, per_owner: int) -> None:
        self.per_owner = per_owner
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, owner: str) -> bool:
        """Take a slot; False when the owner already holds all of theirs."""
        if self.per_owner <= 0:
            return True
        with self._lock:
            held = self._held.get(owner, 0)
            if held >= self.per_owner:
                return False
            self._held[owner] = held + 1
            return True

    def release(self, owner: str) -> None:
        if self.per_owner <= 0:
            return
        with self._lock:
            held = self._held.get(owner, 0) - 1
            if held > 0:
                self._held[owner] = held
            else:
                self._held.pop(owner, None)

    def held(self, owner: str) -> int:
        with self._lock:
            return self._held.get(owner, 0)


class DenialAggregator:
    """At most one audit record per key and ``interval_s``; the next one carries the count of
    those left out since (0 s: every refusal is recorded)."""

    def __init__(self, interval_s: float, clock: Clock = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._last: dict[Hashable, tuple[float, int]] = {}  # key -> (last recorded, left out since)
        self._lock = threading.Lock()

    def admit(self, key: Hashable) -> int | None:
        """None when this refusal is only counted; otherwise record it, with this many left out."""
        if self.interval_s <= 0:
            return 0
        now = self._clock()
        with self._lock:
            last, left_out = self._last.get(key, (-math.inf, 0))
            if now - last < self.interval_s:
                self._last[key] = (last, left_out + 1)
                return None
            self._last[key] = (now, 0)
            _bound(self._last, lambda entry: now - entry[0] >= self.interval_s and not entry[1])
            return left_out


def _bound(table: dict[K, V], stale: Callable[[V], bool]) -> None:
    """Drop stale entries once the table is full, then the oldest if it still is."""
    if len(table) <= MAX_TRACKED:
        return
    for key in [k for k, v in table.items() if stale(v)]:
        del table[key]
    while len(table) > MAX_TRACKED:
        del table[next(iter(table))]


@dataclass(frozen=True)
class Limits:
    signin: SignInGuard
    answers: ConcurrencyLimiter
    denials: DenialAggregator

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            signin=SignInGuard(
                settings.signin_max_failures, settings.signin_failure_window_s, settings.signin_lockout_s
            ),
            answers=ConcurrencyLimiter(settings.max_concurrent_answers),
            denials=DenialAggregator(settings.audit_denied_interval_s),
        )


_creating = threading.Lock()


def limits_of(request: Request) -> Limits:
    """The application's limits, made from its settings on first use."""
    state = request.app.state
    limits = getattr(state, "limits", None)
    if limits is None:
        with _creating:
            limits = getattr(state, "limits", None)
            if limits is None:
                limits = state.limits = Limits.from_settings(state.services.settings)
    return limits
