"""Sign-in and credential abuse against a live server with small limits (issue #17).

Its own ``attest serve`` over an empty knowledge base, with 10 requests a minute per caller
and per address, a lockout after 3 failed sign-ins and refusals aggregated per 5 s. Each
test sends from its own loopback address (127.0.0.2, ...: Linux routes all of 127/8 to the
loopback interface), so that the per-address limits of one test do not spend another's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from attest.core.models import AuditRecord
from tests.live import PASSWORD, Server, attest, start_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PER_MINUTE = 10
MAX_FAILURES = 3
DENIED_INTERVAL_S = 5


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("guarded-server")
    server = start_server(
        data_dir,
        ATTEST_RATE_LIMIT_PER_MINUTE=str(PER_MINUTE),
        ATTEST_SIGNIN_MAX_FAILURES=str(MAX_FAILURES),
        ATTEST_SIGNIN_LOCKOUT_S="600",
        ATTEST_AUDIT_DENIED_INTERVAL_S=str(DENIED_INTERVAL_S),
    )
    try:
        for username in ("vera", "walt"):
            done = attest(
                server.env,
                "users",
                "create",
                "--username",
                username,
                "--role",
                "viewer",
                "--password",
                PASSWORD,
            )
            assert done.returncode == 0, done.stderr
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)


def client_from(server: Server, address: str) -> httpx.Client:
    """A client whose connections come from ``address``."""
    return httpx.Client(base_url=server.api, transport=httpx.HTTPTransport(local_address=address), timeout=60)


def sign_in(client: httpx.Client, username: str, password: str, **headers: str) -> httpx.Response:
    return client.post("/auth/token", data={"username": username, "password": password}, headers=headers)


def audit_records(server: Server, **where: str) -> list[AuditRecord]:
    """The records the server wrote, read from its database."""
    engine = create_engine(f"sqlite:///{server.data_dir / 'attest.db'}")
    try:
        with Session(engine) as session:
            query = select(AuditRecord).order_by(AuditRecord.id)
            for column, value in where.items():
                query = query.where(getattr(AuditRecord, column) == value)
            return list(session.scalars(query))
    finally:
        engine.dispose()


def test_a_rotated_x_forwarded_for_neither_escapes_the_address_limit_nor_reaches_the_audit_log(
    guarded: Server,
) -> None:
    # From 127.0.0.1, the address uvicorn trusts forwarded headers from by default.
    with client_from(guarded, "127.0.0.1") as client:
        statuses = [
            sign_in(client, f"ghost{i}", "wrong-guess", **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(PER_MINUTE + 4)
        ]
    assert statuses[:PER_MINUTE] == [401] * PER_MINUTE
    assert statuses.count(429) >= 3, statuses
    failed = [
        r for r in audit_records(guarded, action="auth.failed") if r.details["username"].startswith("ghost")
    ]
    assert {r.actor for r in failed} == {"anonymous@127.0.0.1"} and len(failed) == statuses.count(401)
    assert not [r.id for r in audit_records(guarded) if "203.0.113." in f"{r.actor} {r.details}"]


def test_a_username_is_locked_after_failed_sign_ins_alike_whether_or_not_it_exists(guarded: Server) -> None:
    refusals = []
    with client_from(guarded, "127.0.0.2") as client:
        for username in ("vera", "nobody"):
            failures = [sign_in(client, username, "wrong-guess").status_code for _ in range(MAX_FAILURES)]
            assert failures == [401] * MAX_FAILURES, username
            locked = sign_in(client, username, PASSWORD)  # even the right password, for vera
            assert locked.status_code == 429, (username, locked.text)
            assert 590 <= int(locked.headers["Retry-After"]) <= 600
            refusals.append(re.sub(r"\d+", "N", locked.json()["detail"]))
    assert refusals[0] == refusals[1]  # nothing tells the account that exists from the one that does not
    tripped = [r for r in audit_records(guarded, action="auth.failed") if "locked_for_s" in r.details]
    assert {r.details["username"] for r in tripped} == {"vera", "nobody"}


def test_a_successful_sign_in_clears_the_failed_ones(guarded: Server) -> None:
    with client_from(guarded, "127.0.0.3") as client:
        for _ in range(2):
            failures = [sign_in(client, "walt", "wrong-guess").status_code for _ in range(MAX_FAILURES - 1)]
            assert failures == [401] * (MAX_FAILURES - 1)
            assert sign_in(client, "walt", PASSWORD).status_code == 200


def test_requests_without_valid_credentials_are_limited_per_address_and_aggregated_in_the_log(
    guarded: Server,
) -> None:
    bad = [{}, {"Authorization": "Bearer not-a-token"}, {"X-API-Key": "atk_deadbeef_not-a-key"}]
    actor = "anonymous@127.0.0.4"
    with client_from(guarded, "127.0.0.4") as client:
        replies = [client.get("/auth/me", headers=bad[i % 3]) for i in range(40)]
        statuses = [r.status_code for r in replies]
        assert statuses[:PER_MINUTE] == [401] * PER_MINUTE
        assert statuses[PER_MINUTE:].count(429) >= 25, statuses
        assert all(int(r.headers["Retry-After"]) >= 1 for r in replies if r.status_code == 429)
        assert len(audit_records(guarded, actor=actor, action="denied")) <= 6  # not 40
        # Once the interval has passed (and the address has earned one more try), the next
        # refusal of each kind is recorded with the count of those left out.
        time.sleep(60 / PER_MINUTE + 1)
        statuses += [client.get("/auth/me").status_code for _ in range(2)]
    assert statuses[-2:] == [401, 429]
    records = audit_records(guarded, actor=actor, action="denied")
    assert sum(1 + r.details.get("suppressed", 0) for r in records) == len(statuses)
    assert len(records) <= 8 and {r.status for r in records} == {401, 429}
