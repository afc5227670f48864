"""The UI's only way to Attest: a small client of the REST API, holding one user's token.

The UI never opens the database or the indexes, so every permission rule lives in the API.
Every failure becomes an :class:`ApiError` whose message a person can read: the API's own
problem detail for 4xx answers, and plain words for an expired session (:class:`SessionExpired`),
a rate limit, a server error or a server that cannot be reached (:class:`Unreachable`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

DEFAULT_TIMEOUT_S = 120.0  # a question on a slow local model can take a while


class ApiError(Exception):
    """A request the API refused or could not answer; ``str()`` is the message to show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SessionExpired(ApiError):
    """401: the token expired or was revoked; the user must sign in again."""


class Unreachable(ApiError):
    """No HTTP answer at all: the server is down, or the address is wrong."""


def _message(reply: httpx.Response) -> str:
    try:
        body = reply.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # a validation error FastAPI did not turn into a problem
        detail = "; ".join(str(d.get("msg", d)) for d in detail if isinstance(d, dict))
    return str(detail or reply.reason_phrase or f"HTTP {reply.status_code}")


def raise_for(reply: httpx.Response) -> None:
    """Turn an error response into the :class:`ApiError` whose message the UI shows."""
    status = reply.status_code
    if status < 400:
        return
    if status == 401:
        raise SessionExpired(status, "Your session has expired or is no longer valid; please sign in again.")
    if status == 429:
        wait = reply.headers.get("Retry-After")
        later = f" in {wait} s" if wait else " in a moment"
        raise ApiError(status, f"Too many requests; please try again{later}.")
    if status >= 500:
        raise ApiError(
            status, f"The Attest server could not complete the request (HTTP {status}); try again."
        )
    raise ApiError(status, _message(reply))


class ApiClient:
    """One user's session with the API: ``ApiClient.sign_in(url, user, password)``, then calls."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=f"{self.base_url}/api/v1", headers=headers, timeout=timeout, transport=transport
        )

    @classmethod
    def sign_in(cls, base_url: str, username: str, password: str, **kwargs: Any) -> ApiClient:
        anonymous = cls(base_url, **kwargs)
        reply = anonymous._send("POST", "/auth/token", data={"username": username, "password": password})
        if reply.status_code == 401:
            raise ApiError(401, "Wrong username or password.")
        raise_for(reply)
        return cls(base_url, reply.json()["access_token"], **kwargs)

    # -- plumbing ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise Unreachable(0, "The Attest server did not answer in time; try again.") from None
        except httpx.TransportError:
            raise Unreachable(0, f"The Attest server at {self.base_url} cannot be reached.") from None

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = self._send(method, path, **kwargs)
        raise_for(reply)
        if reply.status_code == 204 or not reply.content:
            return None
        return reply.json()

    def _get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params={k: v for k, v in params.items() if v not in (None, "")})

    # -- the signed-in user -----------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return dict(self._get("/auth/me"))

    # -- questions and conversations --------------------------------------------------------

    def ask(self, kb: str, question: str, conversation_id: int | None = None) -> dict[str, Any]:
        body = {"kb": kb, "question": question, "conversation_id": conversation_id}
        return dict(self._call("POST", "/ask", json=body))

    def stream(
        self, kb: str, question: str, conversation_id: int | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The answer as ``(event, data)`` pairs: ``token``..., then ``answer``; an ``error``
        event is raised as :class:`ApiError`."""
        body = {"kb": kb, "question": question, "conversation_id": conversation_id}
        try:
            with self._http.stream("POST", "/ask/stream", json=body) as reply:
                if reply.status_code >= 400:
                    reply.read()
                    raise_for(reply)
                event = "message"
                for line in reply.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data = json.loads(line[5:])
                        if event == "error":
                            raise ApiError(int(data.get("status", 500)), str(data.get("detail")))
                        if event == "done":
                            return
                        yield event, data
        except httpx.TimeoutException:
            raise Unreachable(0, "The Attest server did not answer in time; try again.") from None
        except httpx.TransportError:
            raise Unreachable(0, f"The Attest server at {self.base_url} cannot be reached.") from None

    def conversations(self) -> list[dict[str, Any]]:
        return list(self._get("/conversations")["items"])

    def conversation(self, conversation_id: int) -> dict[str, Any]:
        return dict(self._get(f"/conversations/{conversation_id}"))

    def delete_conversation(self, conversation_id: int) -> None:
        self._call("DELETE", f"/conversations/{conversation_id}")

    def feedback(self, message_id: int, rating: int, comment: str = "") -> dict[str, Any]:
        body = {"message_id": message_id, "rating": rating, "comment": comment}
        return dict(self._call("POST", "/feedback", json=body))

    # -- knowledge bases, documents, jobs -----------------------------------------------------

    def kbs(self) -> list[dict[str, Any]]:
        return list(self._get("/kbs")["items"])

    def create_kb(self, name: str, description: str = "") -> dict[str, Any]:
        return dict(self._call("POST", "/kbs", json={"name": name, "description": description}))

    def update_kb(self, kb: str, **changes: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", f"/kbs/{kb}", json=changes))

    def delete_kb(self, kb: str) -> None:
        self._call("DELETE", f"/kbs/{kb}")

    def documents(self, kb: str) -> list[dict[str, Any]]:
        return list(self._get(f"/kbs/{kb}/documents", limit=1000)["items"])

    def upload(self, kb: str, filename: str, data: bytes, acl: str = "", tags: str = "") -> dict[str, Any]:
        files = {"file": (filename, data, "application/octet-stream")}
        return dict(self._call("POST", f"/kbs/{kb}/documents", files=files, data={"acl": acl, "tags": tags}))

    def update_document(self, kb: str, document_id: int, **changes: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", f"/kbs/{kb}/documents/{document_id}", json=changes))

    def delete_document(self, kb: str, document_id: int) -> None:
        self._call("DELETE", f"/kbs/{kb}/documents/{document_id}")

    def start_job(self, kb: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/kbs/{kb}/jobs", json={"sync": True}))

    def jobs(self, kb: str) -> list[dict[str, Any]]:
        return list(self._get(f"/kbs/{kb}/jobs")["items"])

    def job(self, kb: str, job_id: int) -> dict[str, Any]:
        return dict(self._get(f"/kbs/{kb}/jobs/{job_id}"))

    def cancel_job(self, kb: str, job_id: int) -> dict[str, Any]:
        return dict(self._call("POST", f"/kbs/{kb}/jobs/{job_id}/cancel"))

    # -- people and access (admin) ----------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        return list(self._get("/users")["items"])

    def create_user(
        self, username: str, role: str, groups: list[str], password: str | None
    ) -> dict[str, Any]:
        body = {"username": username, "role": role, "groups": groups, "password": password or None}
        return dict(self._call("POST", "/users", json=body))

    def update_user(self, user_id: int, **changes: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", f"/users/{user_id}", json=changes))

    def delete_user(self, user_id: int) -> None:
        self._call("DELETE", f"/users/{user_id}")

    def groups(self) -> list[dict[str, Any]]:
        return list(self._get("/groups")["items"])

    def create_group(self, name: str, description: str = "") -> dict[str, Any]:
        return dict(self._call("POST", "/groups", json={"name": name, "description": description}))

    def delete_group(self, name: str) -> None:
        self._call("DELETE", f"/groups/{name}")

    def grants(self, kb: str) -> list[dict[str, Any]]:
        return list(self._get(f"/kbs/{kb}/grants")["items"])

    def grant(self, kb: str, *, user_id: int | None = None, group: str | None = None) -> dict[str, Any]:
        return dict(self._call("POST", f"/kbs/{kb}/grants", json={"user_id": user_id, "group": group}))

    def revoke_grant(self, kb: str, grant_id: int) -> None:
        self._call("DELETE", f"/kbs/{kb}/grants/{grant_id}")

    def apikeys(self) -> list[dict[str, Any]]:
        return list(self._get("/apikeys")["items"])

    def create_apikey(self, name: str, role: str, kbs: list[str], groups: list[str]) -> dict[str, Any]:
        body = {"name": name, "role": role, "kbs": kbs, "groups": groups}
        return dict(self._call("POST", "/apikeys", json=body))

    def revoke_apikey(self, key_id: int) -> None:
        self._call("DELETE", f"/apikeys/{key_id}")

    # -- audit and dashboard (admin) ----------------------------------------------------------

    def audit(self, **filters: Any) -> dict[str, Any]:
        return dict(self._get("/audit", **filters))

    def audit_csv(self, **filters: Any) -> bytes:
        params = {k: v for k, v in {**filters, "format": "csv"}.items() if v not in (None, "")}
        reply = self._send("GET", "/audit", params=params)
        raise_for(reply)
        return reply.content

    def audit_record(self, record_id: int) -> dict[str, Any]:
        return dict(self._get(f"/audit/{record_id}"))

    def dashboard(self, days: int = 30, kb: str | None = None) -> dict[str, Any]:
        return dict(self._get("/dashboard", days=days, kb=kb))
