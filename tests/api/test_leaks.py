"""A viewer never sees a forbidden document's text or title, whatever route they use.

The confidential document (ACL ``hr``) is about "Falconridge"; viewer_a (group ``staff``)
asks about it directly. Every response is searched for its distinctive words. The same
question from the admin does reach the document, so these tests can fail.
"""

from __future__ import annotations

import json

import pytest

from tests.live import Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "What is the Falconridge salary band for staff engineers?"
MARKERS = ("falconridge", "142,000", "every march with the hr partner")


def leaks(text: str) -> list[str]:
    """Each marker found, with the text around it."""
    low = text.lower()
    return [low[max(0, low.find(m) - 120) : low.find(m) + 60] for m in MARKERS if m in low]


def test_admin_reaches_the_document(server: Server) -> None:
    with server.client("admin") as admin:
        reply = admin.post("/ask", json={"kb": "demo", "question": QUESTION})
    assert reply.status_code == 200
    assert "142,000" in reply.json()["answer"]


def test_viewer_cannot_reach_it_by_asking(server: Server) -> None:
    with server.client("viewer_a") as viewer:
        reply = viewer.post("/ask", json={"kb": "demo", "question": QUESTION})
        assert reply.status_code == 200
        assert leaks(reply.text.replace(QUESTION, "")) == []
        conversation_id = reply.json()["conversation_id"]
        follow = viewer.post(
            "/ask",
            json={
                "kb": "demo",
                "question": "and for principal engineers?",
                "conversation_id": conversation_id,
            },
        )
        assert leaks(follow.text.replace(QUESTION, "")) == []
        stream = viewer.post("/ask/stream", json={"kb": "demo", "question": QUESTION})
        assert stream.status_code == 200
        assert "event: answer" in stream.text
        assert leaks(stream.text.replace(json.dumps(QUESTION)[1:-1], "")) == []
        listed = viewer.get("/conversations").text
        shown = viewer.get(f"/conversations/{conversation_id}").text
        assert leaks(listed.replace(QUESTION, "")) == [] and leaks(shown.replace(QUESTION, "")) == []


def test_viewer_cannot_reach_it_as_a_document(server: Server) -> None:
    secret = server.ids["secret_doc"]
    with server.client("viewer_a") as viewer:
        listing = viewer.get("/kbs/demo/documents")
        assert listing.status_code == 200 and leaks(listing.text) == []
        assert listing.json()["total"] == 20  # the demo documents, not the confidential one
        direct = viewer.get(f"/kbs/demo/documents/{secret}")
        assert direct.status_code == 404 and leaks(direct.text) == []
        missing = viewer.get("/kbs/demo/documents/999999")
        assert direct.json()["detail"].replace(str(secret), "N") == missing.json()["detail"].replace(
            "999999", "N"
        )
        assert viewer.get("/audit").status_code == 403


def test_editor_cannot_change_or_delete_it(server: Server) -> None:
    secret = server.ids["secret_doc"]
    with server.client("editor_a") as editor:
        assert editor.patch(f"/kbs/demo/documents/{secret}", json={"acl": []}).status_code == 404
        assert editor.delete(f"/kbs/demo/documents/{secret}").status_code == 404


def test_other_knowledge_bases_do_not_exist_for_the_viewer(server: Server) -> None:
    with server.client("viewer_a") as viewer:
        me = viewer.get("/auth/me").json()
        assert me["knowledge_bases"] == ["demo"]
        hidden = viewer.post("/ask", json={"kb": "b", "question": "When does the B team meet?"})
        unknown = viewer.post("/ask", json={"kb": "zzz", "question": "When does the B team meet?"})
        assert hidden.status_code == unknown.status_code == 404
        assert "Aster" not in hidden.text and "known:" not in hidden.text


def test_withdrawn_access_withholds_stored_answers(server: Server) -> None:
    """An answer stored in a conversation is withheld once its document is no longer readable."""
    with server.client("admin") as admin:
        # Ask in b, where the only document gets an ACL afterwards.
        reply = admin.post("/ask", json={"kb": "b", "question": "When does the B team meet?"})
        conversation = reply.json()["conversation_id"]
        assert "Aster" in admin.get(f"/conversations/{conversation}").text
    with server.client("viewer_b") as viewer:
        own = viewer.post("/ask", json={"kb": "b", "question": "When does the B team meet?"})
        assert "Aster" in own.json()["answer"]
        with server.client("admin") as admin:
            doc = admin.get("/kbs/b/documents").json()["items"][0]
            assert admin.patch(f"/kbs/b/documents/{doc['id']}", json={"acl": ["leads"]}).status_code == 200
        shown = viewer.get(f"/conversations/{own.json()['conversation_id']}")
        assert "Aster" not in shown.text and shown.json()["messages"][0]["withheld"] is True
        again = viewer.post("/ask", json={"kb": "b", "question": "When does the B team meet?"})
        assert "Aster" not in again.text


def test_an_upload_named_like_a_hidden_document_reveals_nothing(server: Server) -> None:
    name = "payroll_notes.txt"
    with server.client("admin") as admin:
        files = {"file": (name, b"Payroll notes. Quartz bonus pool details for HR only.", "text/plain")}
        hidden = admin.post("/kbs/demo/documents", files=files, data={"acl": "hr"}).json()
    with server.client("editor_a") as editor:
        files = {
            "file": (name, b"Payroll notes from the staff side: submit timesheets by Friday.", "text/plain")
        }
        mine = editor.post("/kbs/demo/documents", files=files)
        assert mine.status_code == 201, mine.text  # as if the name were free
        assert mine.json()["file_name"] == name and mine.json()["id"] != hidden["id"]
        again = editor.post("/kbs/demo/documents", files=files)
        assert again.json()["id"] == mine.json()["id"]  # the editor's own upload is replaced
        listed = [d["id"] for d in editor.get("/kbs/demo/documents").json()["items"]]
        assert hidden["id"] not in listed and mine.json()["id"] in listed
    with server.client("admin") as admin:
        kept = admin.get(f"/kbs/demo/documents/{hidden['id']}").json()
        assert kept["acl"] == ["hr"] and "Quartz" in kept["text"]
        for doc_id in (hidden["id"], mine.json()["id"]):
            admin.delete(f"/kbs/demo/documents/{doc_id}").raise_for_status()
