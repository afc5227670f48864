"""The UI client's error messages. The statuses a live server cannot be made to produce on
demand (429 with Retry-After, a 500) come from httpx.MockTransport, a stand-in for the
server; everything else about the client is exercised against the real server by test_app.py."""

from __future__ import annotations

import httpx
import pytest

from attest.ui.client import ApiClient, ApiError, SessionExpired, Unreachable
from tests.live import free_port

pytestmark = pytest.mark.unit


def client_answering(status: int, body: dict | None = None, headers: dict | None = None) -> ApiClient:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body or {}, headers=headers or {})

    return ApiClient("http://attest.test", "token", transport=httpx.MockTransport(reply))


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "message"),
    [
        (401, {"detail": "Invalid token."}, {}, SessionExpired, "session has expired"),
        (403, {"detail": "This needs the admin role."}, {}, ApiError, "This needs the admin role."),
        (404, {"detail": "Unknown knowledge base 'x'."}, {}, ApiError, "Unknown knowledge base 'x'."),
        (429, {"detail": "Too many requests."}, {"Retry-After": "7"}, ApiError, "try again in 7 s"),
        (500, {"detail": "Internal error; it was logged."}, {}, ApiError, "could not complete the request"),
    ],
)
def test_errors_become_readable_messages(
    status: int, body: dict, headers: dict, kind: type[ApiError], message: str
) -> None:
    with pytest.raises(kind) as caught:
        client_answering(status, body, headers).kbs()
    assert message in str(caught.value) and caught.value.status == status


def test_a_server_that_is_down() -> None:
    with pytest.raises(Unreachable, match="cannot be reached"):
        ApiClient(f"http://127.0.0.1:{free_port()}", "token").me()


def test_wrong_password_is_named() -> None:
    with pytest.raises(ApiError, match="Wrong username or password"):
        ApiClient.sign_in(
            "http://attest.test", "u", "p", transport=httpx.MockTransport(lambda r: httpx.Response(401))
        )
