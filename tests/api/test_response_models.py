"""The answers of the knowledge-base, document, conversation, audit and admin routes are
published in OpenAPI as their ``...Public`` models, and what the routes send matches them.

The models are published only: no route has a FastAPI response model, whose validation
would run between the route and the commit of its transaction (see ``attest.api.deps.rule``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from attest.api import schemas
from attest.api.app import create_app
from attest.api.routes import admin, ask, audit, auth, conversations, documents, jobs, kbs
from attest.core.settings import Settings
from tests.live import PASSWORD, Server

P = "/api/v1"
# (method, path, status, model) for every route whose answer is a published model
PUBLISHED = [
    ("get", "/kbs", 200, schemas.KbList),
    ("post", "/kbs", 201, schemas.KbPublic),
    ("get", "/kbs/{kb}", 200, schemas.KbPublic),
    ("patch", "/kbs/{kb}", 200, schemas.KbPublic),
    ("get", "/kbs/{kb}/grants", 200, schemas.GrantList),
    ("post", "/kbs/{kb}/grants", 201, schemas.GrantPublic),
    ("get", "/kbs/{kb}/documents", 200, schemas.DocumentList),
    ("post", "/kbs/{kb}/documents", 201, schemas.DocumentPublic),
    ("get", "/kbs/{kb}/documents/{document_id}", 200, schemas.DocumentText),
    ("patch", "/kbs/{kb}/documents/{document_id}", 200, schemas.DocumentUpdated),
    ("delete", "/kbs/{kb}/documents/{document_id}", 200, schemas.DocumentDeleted),
    ("get", "/conversations", 200, schemas.ConversationList),
    ("get", "/conversations/{conversation_id}", 200, schemas.ConversationDetail),
    ("post", "/feedback", 201, schemas.FeedbackPublic),
    ("get", "/audit", 200, schemas.AuditPage),
    ("get", "/audit/{record_id}", 200, schemas.AuditRecordDetail),
    ("get", "/dashboard", 200, schemas.DashboardPublic),
    ("get", "/users", 200, schemas.UserList),
    ("post", "/users", 201, schemas.UserCreated),
    ("get", "/users/{user_id}", 200, schemas.UserPublic),
    ("patch", "/users/{user_id}", 200, schemas.UserPublic),
    ("get", "/groups", 200, schemas.GroupList),
    ("post", "/groups", 201, schemas.GroupPublic),
    ("get", "/apikeys", 200, schemas.ApiKeyList),
    ("post", "/apikeys", 201, schemas.ApiKeyCreated),
    ("delete", "/apikeys/{key_id}", 200, schemas.ApiKeyPublic),
]


def response_schema(document: dict[str, Any], method: str, path: str, status: int) -> dict[str, Any]:
    operation = document["paths"][P + path][method]
    return dict(operation["responses"][str(status)]["content"]["application/json"]["schema"])


def conform(document: dict[str, Any], method: str, path: str, status: int, body: Any) -> None:
    """``body`` is valid against the schema that the OpenAPI ``document`` publishes for it."""
    schema = {**response_schema(document, method, path, status), "components": document["components"]}
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(body)]
    assert not errors, f"{method.upper()} {path}: {errors}"


@pytest.mark.unit
def test_the_openapi_document_names_each_routes_model(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    document = app.openapi()
    for method, path, status, model in PUBLISHED:
        schema = response_schema(document, method, path, status)
        assert schema == {"$ref": f"#/components/schemas/{model.__name__}"}, (method, path)
        assert "200" not in document["paths"][P + path][method]["responses"] or status == 200, (method, path)
        assert model.__name__ in document["components"]["schemas"]
    kb = document["components"]["schemas"]["KbPublic"]
    assert set(kb["required"]) >= {"name", "documents", "index_version", "chunks", "created_at"}


@pytest.mark.unit
def test_no_route_validates_its_answer_before_the_commit() -> None:
    modules = (auth, ask, conversations, kbs, documents, jobs, admin, audit)
    routes = [r for m in modules for r in m.router.routes if isinstance(r, APIRoute)]
    assert len(routes) > len(PUBLISHED)
    assert [r.path for r in routes if r.response_model is not None or r.response_field is not None] == []


def check(reply: httpx.Response, document: dict[str, Any], method: str, path: str, status: int) -> Any:
    """The reply has ``status``, and its body is valid for the route's model and published schema."""
    assert reply.status_code == status, reply.text
    model = next(m for m_, p, s, m in PUBLISHED if (m_, p, s) == (method, path, status))
    body = reply.json()
    assert isinstance(model.model_validate(body), BaseModel)
    conform(document, method, path, status, body)
    return body


@pytest.mark.integration
@pytest.mark.slow
def test_what_the_routes_send_matches_their_models(server: Server) -> None:
    document = httpx.get(f"{server.api}/openapi.json").json()
    with server.client("admin") as admin:
        asked = admin.post("/ask", json={"kb": "demo", "question": "How many days of annual leave?"})
        assert asked.status_code == 200, asked.text
        conversation, message = asked.json()["conversation_id"], asked.json()["message_id"]

        check(admin.get("/kbs"), document, "get", "/kbs", 200)
        check(admin.get("/kbs/demo"), document, "get", "/kbs/{kb}", 200)
        check(admin.get("/kbs/demo/grants"), document, "get", "/kbs/{kb}/grants", 200)
        listed = check(admin.get("/kbs/demo/documents"), document, "get", "/kbs/{kb}/documents", 200)
        first = listed["items"][0]["id"]
        shown = check(
            admin.get(f"/kbs/demo/documents/{first}"),
            document,
            "get",
            "/kbs/{kb}/documents/{document_id}",
            200,
        )
        assert shown["text"] and shown["updated_at"]
        check(admin.get("/conversations"), document, "get", "/conversations", 200)
        turn = check(
            admin.get(f"/conversations/{conversation}"),
            document,
            "get",
            "/conversations/{conversation_id}",
            200,
        )
        assert "citations" in turn["messages"][-1]  # the stored answer's own fields come along
        rated = admin.post("/feedback", json={"message_id": message, "rating": 1})
        check(rated, document, "post", "/feedback", 201)
        page = check(admin.get("/audit", params={"action": "ask"}), document, "get", "/audit", 200)
        record = page["items"][0]["id"]
        detail = check(admin.get(f"/audit/{record}"), document, "get", "/audit/{record_id}", 200)
        assert detail["chunks"] and detail["outcome"]
        check(admin.get("/dashboard"), document, "get", "/dashboard", 200)

        made = admin.post("/users", json={"username": "schema_check", "role": "viewer"})
        assert "password" in check(made, document, "post", "/users", 201)
        user = made.json()["id"]
        given = admin.post(
            "/users", json={"username": "schema_given", "role": "viewer", "password": PASSWORD}
        )
        assert "password" not in check(given, document, "post", "/users", 201)  # not echoed back
        check(admin.get("/users"), document, "get", "/users", 200)
        check(admin.get(f"/users/{user}"), document, "get", "/users/{user_id}", 200)
        changed = admin.patch(f"/users/{user}", json={"groups": ["staff"]})
        assert check(changed, document, "patch", "/users/{user_id}", 200)["groups"] == ["staff"]
        check(admin.post("/groups", json={"name": "schema_check"}), document, "post", "/groups", 201)
        check(admin.get("/groups"), document, "get", "/groups", 200)
        key = check(
            admin.post("/apikeys", json={"name": "schema_check", "kbs": ["demo"]}),
            document,
            "post",
            "/apikeys",
            201,
        )
        check(admin.get("/apikeys"), document, "get", "/apikeys", 200)
        revoked = check(admin.delete(f"/apikeys/{key['id']}"), document, "delete", "/apikeys/{key_id}", 200)
        assert revoked["revoked_at"] and revoked["kbs"] == ["demo"]

        for name in ("schema_check", "schema_given"):
            gone = next(u["id"] for u in admin.get("/users").json()["items"] if u["username"] == name)
            assert admin.delete(f"/users/{gone}").status_code == 204
        assert admin.delete("/groups/schema_check").status_code == 204
