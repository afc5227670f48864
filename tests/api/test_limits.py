"""The abuse limits without a server: lockouts, concurrent answers, aggregated refusals, the
dummy password check, the question bound and the proxy options ``attest serve`` passes on."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from attest import cli
from attest.api import errors
from attest.api.deps import RateLimiter
from attest.api.limits import ConcurrencyLimiter, DenialAggregator, SignInGuard
from attest.api.routes import auth
from attest.api.schemas import AskRequest
from attest.core import security
from attest.core.accounts import create_user
from attest.core.settings import Settings, get_settings

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_username_is_locked_after_too_many_failures_and_a_success_clears_the_count() -> None:
    clock = Clock()
    guard = SignInGuard(max_failures=3, window_s=60, lockout_s=300, clock=clock)
    assert [guard.failed("vera") for _ in range(2)] == [0.0, 0.0]
    guard.succeeded("vera")
    assert [guard.failed("vera") for _ in range(2)] == [0.0, 0.0] and guard.locked("vera") == 0
    clock.now += 61  # those two fall out of the window
    assert [guard.failed("vera") for _ in range(2)] == [0.0, 0.0]
    assert guard.failed("vera") == 300 and guard.locked("vera") == 300
    assert guard.locked("walt") == 0  # per username
    clock.now += 299
    assert guard.locked("vera") == pytest.approx(1)
    clock.now += 1
    assert guard.locked("vera") == 0
    assert SignInGuard(0, 60, 300).failed("vera") == 0  # 0: no lockout


def test_concurrent_answers_are_capped_per_owner_and_released() -> None:
    limiter = ConcurrencyLimiter(per_owner=2)
    assert [limiter.acquire("user:1") for _ in range(3)] == [True, True, False]
    assert limiter.acquire("user:2")
    limiter.release("user:1")
    assert limiter.acquire("user:1") and limiter.held("user:1") == 2
    unlimited = ConcurrencyLimiter(per_owner=0)
    assert all(unlimited.acquire("user:1") for _ in range(10))


def test_repeated_refusals_are_recorded_once_per_interval_with_the_count_left_out() -> None:
    clock = Clock()
    denials = DenialAggregator(interval_s=60, clock=clock)
    key = ("anonymous@10.0.0.1", 401, "GET", "/api/v1/auth/me")
    assert [denials.admit(key) for _ in range(4)] == [0, None, None, None]
    assert denials.admit(("anonymous@10.0.0.1", 429, "GET", "/api/v1/auth/me")) == 0  # another key
    clock.now += 60
    assert denials.admit(key) == 3  # the next record carries the three left out
    assert denials.admit(key) is None
    assert DenialAggregator(interval_s=0).admit(key) == 0  # 0: every refusal is recorded


def test_the_rate_limiter_can_be_asked_without_taking() -> None:
    limiter = RateLimiter(per_minute=2)
    assert limiter.wait("a") == 0 and limiter.wait("a") == 0  # asking takes nothing
    limiter.take("a")
    limiter.take("a")
    assert limiter.wait("a") > 0 and limiter.wait("b") == 0


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__()
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified.append(hash if isinstance(hash, str) else hash.decode())
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(security, "_hasher", counting)
    return counting


def test_an_unknown_user_costs_an_argon2_verification_like_a_known_one(hasher: CountingHasher) -> None:
    stored = security.hash_password("the right one")
    assert security.check_password(stored, "the right one")
    assert not security.check_password(stored, "a wrong one")
    assert not security.check_password(None, "a wrong one")
    assert not security.check_password("not an argon2 hash", "a wrong one")
    assert len(hasher.verified) == 5  # the unusable hash is followed by the dummy one
    assert hasher.verified[2].startswith("$argon2id$") and hasher.verified[2] != stored


@pytest.fixture
def auth_app(engine: Engine, settings: Settings) -> Iterator[TestClient]:
    """The sign-in route in-process over a real database; of the services it needs only the
    engine and the settings, so a namespace stands in for the rest (no models load)."""
    with Session(engine) as session:
        create_user(session, username="vera", role="viewer", password="correct-horse-battery")
        create_user(session, username="ida", role="viewer", password="correct-horse-battery")
        session.commit()
    app = FastAPI()
    app.state.services = SimpleNamespace(engine=engine, settings=settings)
    app.state.limiter = RateLimiter(0)
    errors.install(app)
    api = APIRouter(prefix="/api/v1")
    api.include_router(auth.router)
    app.include_router(api)
    with TestClient(app) as client:
        yield client


@pytest.mark.integration
def test_sign_in_verifies_a_password_for_unknown_and_disabled_users_too(
    auth_app: TestClient, hasher: CountingHasher, engine: Engine
) -> None:
    from attest.core.models import User

    with Session(engine) as session:
        ida = session.query(User).filter(User.username == "ida").one()
        ida.active = False
        session.commit()
    for username in ("vera", "nobody", "ida"):
        before = len(hasher.verified)
        reply = auth_app.post("/api/v1/auth/token", data={"username": username, "password": "wrong-guess"})
        assert reply.status_code == 401 and reply.json()["detail"] == "Wrong username or password."
        assert len(hasher.verified) == before + 1, username


def test_a_question_over_the_limit_is_refused_naming_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTEST_MAX_QUESTION_CHARS", "50")
    get_settings.cache_clear()
    try:
        assert AskRequest(kb="demo", question="q" * 50).question == "q" * 50
        with pytest.raises(ValidationError, match=r"limit is 50 \(ATTEST_MAX_QUESTION_CHARS\)"):
            AskRequest(kb="demo", question="q" * 51)
    finally:
        monkeypatch.delenv("ATTEST_MAX_QUESTION_CHARS")
        get_settings.cache_clear()


def serve_options(monkeypatch: pytest.MonkeyPatch, trusted: str | None) -> dict[str, Any]:
    """The keyword arguments ``attest serve`` hands uvicorn (uvicorn itself is not started)."""
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.setattr(cli.serve, "ready", lambda: None)
    if trusted is None:
        monkeypatch.delenv("ATTEST_TRUSTED_PROXIES", raising=False)
    else:
        monkeypatch.setenv("ATTEST_TRUSTED_PROXIES", trusted)
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(cli.app, ["serve"])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    return seen


def test_serve_trusts_forwarded_headers_only_from_configured_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    assert serve_options(monkeypatch, None)["proxy_headers"] is False
    trusted = serve_options(monkeypatch, "10.0.0.7, 10.0.0.8")
    assert trusted["proxy_headers"] is True and trusted["forwarded_allow_ips"] == "10.0.0.7,10.0.0.8"
