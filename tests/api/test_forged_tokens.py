"""Forged, tampered and stale credentials are refused with 401, whatever they claim.

The signing secret is read from the test server's data directory, so the tokens that
matter are the ones a thief could mint with it or replay: an unsigned token, one signed
with another secret, an expired one, one naming another account's id, one from before a
password change. A well-signed current token passes, so these tests can fail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from tests.live import Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _claims(server: Server, who: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "sub": str(server.ids[who]),
        "name": who,
        "gen": 0,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _me(server: Server, token: str) -> httpx.Response:
    return httpx.get(f"{server.api}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_a_token_minted_with_the_real_secret_passes(server: Server) -> None:
    secret = (server.data_dir / "jwt-secret").read_text().strip()
    reply = _me(server, jwt.encode(_claims(server, "viewer_a"), secret, algorithm="HS256"))
    assert reply.status_code == 200 and reply.json()["name"] == "viewer_a"


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda s, c: jwt.encode(c, None, algorithm="none"), id="unsigned"),
        pytest.param(
            lambda s, c: jwt.encode(c, "not-the-secret-of-this-installation-at-all", algorithm="HS256"),
            id="other-secret",
        ),
        pytest.param(lambda s, c: jwt.encode(c, s, algorithm="HS512"), id="other-algorithm"),
        pytest.param(
            lambda s, c: jwt.encode(
                {**c, "exp": datetime.now(UTC) - timedelta(seconds=5)}, s, algorithm="HS256"
            ),
            id="expired",
        ),
        pytest.param(lambda s, c: jwt.encode({**c, "gen": 1}, s, algorithm="HS256"), id="stale-generation"),
        pytest.param(
            lambda s, c: jwt.encode({k: v for k, v in c.items() if k != "gen"}, s), id="no-generation"
        ),
        pytest.param(lambda s, c: jwt.encode({**c, "name": "admin"}, s, algorithm="HS256"), id="other-name"),
        pytest.param(lambda s, c: jwt.encode({**c, "sub": "999999"}, s, algorithm="HS256"), id="no-such-id"),
        pytest.param(lambda s, c: jwt.encode({**c, "sub": "1 OR 1=1"}, s, algorithm="HS256"), id="odd-id"),
        pytest.param(lambda s, c: "eyJhbGciOiJIUzI1NiJ9.e30." + "A" * 43, id="garbage"),
        pytest.param(lambda s, c: "atk_deadbeef_" + "x" * 43, id="unknown-api-key"),
    ],
)
def test_forged_and_stale_tokens_are_refused(server: Server, forge: Any) -> None:
    secret = (server.data_dir / "jwt-secret").read_text().strip()
    reply = _me(server, forge(secret, _claims(server, "viewer_a")))
    assert reply.status_code == 401, reply.text
    assert reply.headers.get("www-authenticate") == "Bearer"
    assert "viewer_a" not in reply.text and "Traceback" not in reply.text
