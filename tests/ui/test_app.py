"""The UI's page logic with Streamlit's AppTest, against the real API server of tests/live.py.

AppTest runs the script in this process without a browser; what it renders is read back as
elements. The browser test (test_browser.py) checks the same flows in Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from attest.ui.client import ApiClient
from tests.live import PASSWORD, Server, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APP = Path(__file__).resolve().parents[2] / "attest" / "ui" / "app.py"
QUESTION = "How many days of annual leave do full-time employees get?"


@pytest.fixture
def app(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("ATTEST_API_URL", server.url)
    yield AppTest.from_file(str(APP), default_timeout=180)


def signed_in(app: AppTest, username: str) -> AppTest:
    app.run()
    app.text_input[0].input(username)
    app.text_input[1].input(PASSWORD)
    app.button[0].click().run()
    assert not app.exception, app.exception
    return app


def html(app: AppTest) -> str:
    return "\n".join(m.value for m in app.markdown)


def test_wrong_password_is_refused_then_sign_in_works(app: AppTest) -> None:
    app.run()
    assert app.title[0].value == "Attest"
    app.text_input[0].input("viewer_a")
    app.text_input[1].input("not-the-password")
    app.button[0].click().run()
    assert [e.value for e in app.error] == ["Wrong username or password."]
    app.text_input[1].input(PASSWORD)
    app.button[0].click().run()
    assert app.sidebar.radio[0].options == ["Ask"]  # a viewer sees no admin page
    assert app.sidebar.selectbox[0].value == "demo"


def test_an_answer_shows_citations_verdicts_and_sources_and_takes_feedback(
    app: AppTest, server: Server
) -> None:
    signed_in(app, "viewer_a")
    app.chat_input[0].set_value(QUESTION).run()
    assert not app.exception, app.exception
    page = html(app)
    assert 'class="cite" href="#m0-src-' in page  # citation markers link to source cards
    assert 'class="attest-badge' in page  # each sentence shows its verdict
    assert 'class="attest-card" id="m0-src-' in page and "<mark>" in page  # the cited span, highlighted
    assert any(s.value.startswith("Verified") for s in app.success) or app.warning
    message_id = next(int(b.key.split("-")[-1]) for b in app.button if b.key and b.key.startswith("rate-1-"))
    app.text_input(key=f"comment-{message_id}").input("clear and right")
    app.button(key=f"rate-1-{message_id}").click().run()
    assert "Thanks for your feedback." in [c.value for c in app.caption]
    with server.client("admin") as admin:
        records = admin.get("/audit", params={"action": "feedback", "actor": "user:viewer_a"}).json()["items"]
    assert any(
        r["details"] == {"message_id": message_id, "rating": 1, "comment": "clear and right"} for r in records
    )


def test_not_in_the_documents_looks_different(app: AppTest) -> None:
    signed_in(app, "viewer_a")
    app.chat_input[0].set_value("How do I bake sourdough bread?").run()
    page = html(app)
    assert 'class="attest-declined' in page and "Not in the documents" in page
    assert 'class="attest-badge' not in page and not app.success


def test_history_opens_continues_and_deletes_conversations(app: AppTest) -> None:
    signed_in(app, "viewer_a")
    app.chat_input[0].set_value("Who may bring visitors to the office?").run()
    conversation_id = app.session_state["conversation_id"]
    app.chat_input[0].set_value("And do they need a badge?").run()  # a follow-up in the same conversation
    assert app.session_state["conversation_id"] == conversation_id
    app.sidebar.button(key="new-conversation").click().run()
    assert app.session_state["messages"] == []
    app.sidebar.button(key=f"open-{conversation_id}").click().run()
    assert [m["question"] for m in app.session_state["messages"]] == [
        "Who may bring visitors to the office?",
        "And do they need a badge?",
    ]
    app.sidebar.button(key=f"delete-{conversation_id}").click().run()
    assert f"open-{conversation_id}" not in [b.key for b in app.sidebar.button]
    assert app.session_state["messages"] == []


def test_roles_decide_the_pages(app: AppTest, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    signed_in(app, "editor_a")
    assert app.sidebar.radio[0].options == ["Ask", "Knowledge bases"]
    app.sidebar.radio[0].set_value("Knowledge bases").run()
    assert not app.exception, app.exception
    assert "People and access" not in app.sidebar.radio[0].options
    admin = AppTest.from_file(str(APP), default_timeout=180)
    signed_in(admin, "admin")
    assert admin.sidebar.radio[0].options == [
        "Ask", "Knowledge bases", "People and access", "Audit log", "Dashboard",
    ]  # fmt: skip
    for page in admin.sidebar.radio[0].options[1:]:
        admin.sidebar.radio[0].set_value(page).run()
        assert not admin.exception, (page, admin.exception)
        assert not admin.error, (page, [e.value for e in admin.error])
        assert admin.header[0].value == page


def test_audit_page_shows_a_question_with_its_retrieved_chunks(app: AppTest, server: Server) -> None:
    with server.client("viewer_a") as viewer:
        viewer.post("/ask", json={"kb": "demo", "question": QUESTION}).raise_for_status()
    signed_in(app, "admin")
    app.sidebar.radio[0].set_value("Audit log").run()
    app.text_input(key="audit-action").input("ask").run()
    app.selectbox(key="audit-outcome").set_value("supported").run()
    assert not app.exception, app.exception
    assert any("Retrieved chunks" in m.value for m in app.markdown)
    assert any(e.label.startswith("1. ") for e in app.expander)  # the best chunk, with its text inside


def test_dashboard_shows_the_numbers(app: AppTest, server: Server) -> None:
    with server.client("viewer_a") as viewer:
        viewer.post("/ask", json={"kb": "demo", "question": QUESTION}).raise_for_status()
    signed_in(app, "admin")
    app.sidebar.radio[0].set_value("Dashboard").run()
    assert not app.exception, app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert int(metrics["Questions"]) >= 1 and metrics["Answered"].endswith("%")


def test_an_expired_session_returns_to_sign_in(app: AppTest, server: Server) -> None:
    signed_in(app, "viewer_a")
    app.session_state["client"] = ApiClient(server.url, "expired-or-forged-token")
    app.run()
    assert app.title[0].value == "Attest" and not app.exception
    assert "session has expired" in app.warning[0].value


def test_a_server_that_is_down_is_a_readable_message(app: AppTest) -> None:
    app.session_state["client"] = ApiClient(f"http://127.0.0.1:{free_port()}", "a-token")
    app.run()
    assert not app.exception
    assert "cannot be reached" in app.error[0].value


def widget(elements, label: str):  # noqa: ANN001, ANN201 - AppTest's element lists are untyped
    return next(e for e in elements if e.label == label)


def test_admin_creates_renames_and_deletes_a_knowledge_base(app: AppTest, server: Server) -> None:
    signed_in(app, "admin")
    app.sidebar.radio[0].set_value("Knowledge bases").run()
    app.text_input(key="new-kb-name").input("ui-made")
    widget(app.button, "Create").click().run()
    assert not app.exception, app.exception
    assert "ui-made" in app.selectbox(key="manage-kb").options
    app.selectbox(key="manage-kb").set_value("ui-made").run()
    app.text_input(key="kb-name-ui-made").input("ui-renamed")
    widget(app.button, "Save").click().run()
    assert not app.exception, app.exception
    assert app.selectbox(key="manage-kb").value == "ui-renamed"  # the rename selects the new name
    delete = widget(app.button, "Delete knowledge base")
    assert delete.disabled  # until the name is typed
    app.text_input(key="delete-kb-ui-renamed").input("ui-renamed").run()
    widget(app.button, "Delete knowledge base").click().run()
    assert "ui-renamed" not in app.selectbox(key="manage-kb").options
    with server.client("admin") as admin:
        assert admin.get("/kbs/ui-renamed").status_code == 404


def test_admin_adds_a_user_whose_generated_password_is_shown_once(app: AppTest, server: Server) -> None:
    signed_in(app, "admin")
    app.sidebar.radio[0].set_value("People and access").run()
    widget(app.text_input, "Username").input("ui_user")
    widget(app.text_input, "Groups").input("staff")
    widget(app.button, "Add user").click().run()
    assert not app.exception, app.exception
    password = app.code[0].value
    assert "shown only this once" in app.warning[0].value and len(password) >= 12
    app.run()
    assert not app.code  # gone on the next run
    reply = httpx.post(f"{server.api}/auth/token", data={"username": "ui_user", "password": password})
    assert reply.status_code == 200


def test_a_refused_action_is_a_message_not_a_crash(app: AppTest) -> None:
    signed_in(app, "admin")
    app.sidebar.radio[0].set_value("Knowledge bases").run()
    app.text_input(key="new-kb-name").input("demo")  # exists already
    widget(app.button, "Create").click().run()
    assert not app.exception
    assert any("already exists" in e.value for e in app.error)


def test_the_audit_table_exports_no_formula(app: AppTest, server: Server) -> None:
    """Streamlit's "Download as CSV" of a table writes its cells as they are: a viewer's question
    that starts a spreadsheet formula reaches the admin's table with a leading apostrophe (#17)."""
    formula = "=cmd|' /C calc'!A0 how many days of leave?"
    with server.client("viewer_a") as viewer:
        viewer.post("/ask", json={"kb": "demo", "question": formula}).raise_for_status()
    signed_in(app, "admin")
    app.sidebar.radio[0].set_value("Audit log").run()
    app.text_input(key="audit-actor").input("user:viewer_a").run()
    app.text_input(key="audit-action").input("ask").run()
    assert not app.exception, app.exception
    questions = list(app.dataframe[0].value["question"])
    assert "'" + formula in questions, questions
    assert not any(str(q).startswith(("=", "+", "-", "@")) for q in questions), questions
