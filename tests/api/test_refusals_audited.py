"""Refusals answered 404 leave an audit record, and still answer exactly like a missing thing.

viewer_a (group ``staff``, granted ``demo`` only) asks for the ``hr`` document, for knowledge
base ``b``, and for viewer_b's conversation and answer. Each answer is compared with the
one for something that does not exist, and the admin then finds a ``denied`` record of
each in the audit log.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.live import Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MISSING = 987654


def _same(hidden: httpx.Response, missing: httpx.Response, hidden_name: str, missing_name: str) -> None:
    """Equal but for the name or id asked for (and the path, in ``instance``)."""
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"] == missing.headers["content-type"]
    shown = {k: v for k, v in hidden.json().items() if k != "instance"}
    expected = {k: v for k, v in missing.json().items() if k != "instance"}
    assert shown["detail"].replace(hidden_name, "N") == expected["detail"].replace(missing_name, "N")
    assert {**shown, "detail": ""} == {**expected, "detail": ""}


def _denied(server: Server) -> list[dict[str, Any]]:
    with server.client("admin") as admin:
        reply = admin.get("/audit", params={"action": "denied", "actor": "user:viewer_a", "limit": 1000})
    reply.raise_for_status()
    return [r for r in reply.json()["items"] if r["status"] == 404]


def test_hidden_things_are_audited_and_answer_like_missing_ones(server: Server) -> None:
    with server.client("viewer_b") as owner:
        asked = owner.post("/ask", json={"kb": "b", "question": "When does the B team meet?"})
    assert asked.status_code == 200, asked.text
    conversation, message = asked.json()["conversation_id"], asked.json()["message_id"]
    secret = server.ids["secret_doc"]
    before = {r["id"] for r in _denied(server)}

    with server.client("viewer_a") as viewer:
        _same(
            viewer.get(f"/kbs/demo/documents/{secret}"),
            viewer.get(f"/kbs/demo/documents/{MISSING}"),
            f" {secret} ",
            f" {MISSING} ",
        )
        _same(viewer.get("/kbs/b/documents"), viewer.get("/kbs/nowhere/documents"), "'b'", "'nowhere'")
        _same(
            viewer.get(f"/conversations/{conversation}"),
            viewer.get(f"/conversations/{MISSING}"),
            f" {conversation}.",
            f" {MISSING}.",
        )
        _same(
            viewer.post("/feedback", json={"message_id": message, "rating": 1}),
            viewer.post("/feedback", json={"message_id": MISSING, "rating": 1}),
            f" {message}.",
            f" {MISSING}.",
        )
        assert viewer.get("/no/such/endpoint").status_code == 404

    new = [r for r in _denied(server) if r["id"] not in before]
    paths = {(r["details"]["method"], r["details"]["path"]) for r in new}
    for expected in (
        ("GET", f"/api/v1/kbs/demo/documents/{secret}"),
        ("GET", "/api/v1/kbs/b/documents"),
        ("GET", f"/api/v1/conversations/{conversation}"),
        ("POST", "/api/v1/feedback"),
    ):
        assert expected in paths, (expected, paths)
    assert ("GET", "/api/v1/no/such/endpoint") not in paths
    reasons = {r["details"]["path"]: r["details"]["reason"] for r in new}
    assert reasons[f"/api/v1/conversations/{conversation}"] == f"Unknown conversation {conversation}."
