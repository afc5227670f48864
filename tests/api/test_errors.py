"""Errors become problem details: the caller's errors 4xx with their message, the service's 5xx,
and a bug a 500 that shows nothing of it but is logged with its traceback."""

from __future__ import annotations

import logging
from http import HTTPStatus

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from attest.api import errors
from attest.core.accounts import Principal, require_admin, require_editor
from attest.core.errors import (
    AttestError,
    ConfigurationError,
    Conflict,
    GenerationError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RetrievalError,
    VerificationError,
)
from attest.core.models import Role

pytestmark = pytest.mark.unit


class Body(BaseModel):
    count: int


def app_raising(exc: Exception) -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    @app.post("/body")
    def body(body: Body) -> dict[str, int]:
        return {"count": body.count}

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (InvalidInput("Invalid user name 'a b': use letters."), 422),
        (PermissionDenied("This needs the admin role."), 403),
        (NotFound("Unknown knowledge base 'x'."), 404),
        (Conflict("User 'a' already exists."), 409),
    ],
)
def test_a_client_error_is_4xx_with_its_message(exc: AttestError, status: int) -> None:
    reply = app_raising(exc).get("/boom")
    assert reply.status_code == status
    assert reply.headers["content-type"] == errors.PROBLEM
    assert reply.json() == {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": str(exc),
        "instance": "/boom",
    }


@pytest.mark.parametrize(
    "exc",
    [
        RetrievalError("BM25 index in /x lacks idf.npy; rebuild it"),
        GenerationError("Cannot reach the endpoint http://llm: is it running?"),
        VerificationError("the checker could not run"),
        ConfigurationError("ATTEST_LLM_MODEL_PATH does not exist"),
    ],
)
def test_a_failed_part_of_the_service_is_503_and_logged(
    exc: AttestError, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger=errors.log.name):
        reply = app_raising(exc).get("/boom")
    assert reply.status_code == 503 and reply.json()["detail"] == str(exc)
    assert [r.exc_info[1] for r in caplog.records if r.exc_info] == [exc]


def test_another_attest_error_is_a_500() -> None:
    assert errors.status_of(AttestError("something of Attest's failed")) == 500


@pytest.mark.parametrize(
    "exc", [ValueError("secret internals 0xdead"), KeyError("token"), RuntimeError("pool state 17")]
)
def test_a_bug_is_a_500_without_its_details_and_logged_with_its_traceback(
    exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger=errors.log.name):
        reply = app_raising(exc).get("/boom")
    assert reply.status_code == 500
    assert reply.headers["content-type"] == errors.PROBLEM
    assert reply.json()["detail"] == errors.UNEXPECTED
    assert str(exc) not in reply.text and "Traceback" not in reply.text
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is exc]
    assert len(logged) == 1 and "/boom" in logged[0].getMessage()
    assert "Traceback" in caplog.text  # the traceback is in the server's log


def test_an_invalid_body_is_still_a_422_naming_the_field() -> None:
    reply = app_raising(RuntimeError()).post("/body", json={"count": "many"})
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "count"


def test_a_permission_denied_is_audited_as_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    audited: list[tuple[int, str]] = []
    monkeypatch.setattr(errors, "_audit_denied", lambda _request, status, why: audited.append((status, why)))
    reply = app_raising(PermissionDenied("This needs the admin role.")).get("/boom")
    assert reply.status_code == 403
    assert audited == [(403, "This needs the admin role.")]


def test_the_role_rules_raise_permission_denied() -> None:
    def caller(role: Role) -> Principal:
        return Principal("user", 1, "u", role, frozenset())

    assert require_admin(caller(Role.ADMIN)).role is Role.ADMIN
    assert require_editor(caller(Role.EDITOR)).role is Role.EDITOR
    with pytest.raises(PermissionDenied, match="admin role"):
        require_admin(caller(Role.EDITOR))
    with pytest.raises(PermissionDenied, match="editor or admin role"):
        require_editor(caller(Role.VIEWER))
