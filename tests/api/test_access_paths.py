"""Access control on the paths the filtering alone does not cover, against a live server.

A folder is ingested with ``--acl hr`` (the README's example). An editor outside ``hr``
then re-indexes after a new file lands there, a restricted document is deleted (its file
stays, so it comes back), and a file that failed on first ingest is fixed. Whatever the
re-index creates must stay ``hr``-only: a viewer asks, lists, reads and follows jobs and
finds none of it. Then account churn: a deleted account's token, its conversations, and
ids that a new account must not inherit; tokens after a password change or deactivation.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.test_workflow import wait_for
from tests.conftest import ON_POSTGRES, drop_postgres_database, new_postgres_database
from tests.live import PASSWORD, Server, attest, sign_in, start_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KB = "handbook"
SALARY = "Quillfeather salary record. Morgan Vale earns 98,500 euros a year in grade Q7."
LAYOFF = "Restructuring plan. The layoff code word is Bramblewick; announce nothing before June."
REVIEW = "Disciplinary record. Jordan Pike received a written warning named Thistlemark in May."
MARKERS = ("quillfeather", "98,500", "bramblewick", "thistlemark", "jordan pike", "morgan vale")
METRICS_TOKEN = "scrape-me-please-0123456789"


def leaks(text: str) -> list[str]:
    low = text.lower()
    return [m for m in MARKERS if m in low]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("access-paths") / "data"
    folder = data_dir.parent / "hr-folder"
    folder.mkdir()
    (folder / "salary.txt").write_text(SALARY)
    (folder / "review.md").write_text("   \n\n   ")  # no text: fails to ingest until it is fixed
    public = data_dir.parent / "public"
    public.mkdir()
    (public / "canteen.md").write_text(
        "# Canteen\n\nThe canteen opens at 8:00 and serves lunch until 14:00.\n"
    )
    env = {**os.environ, "ATTEST_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    database_url = new_postgres_database() if ON_POSTGRES else None
    if database_url:
        env["DATABASE_URL"] = database_url
    for args in (
        ("ingest", "--kb", KB, str(public)),
        ("ingest", "--kb", KB, "--acl", "hr", str(folder)),
        ("users", "create", "--username", "admin", "--role", "admin", "--password", PASSWORD),
        (
            "users",
            "create",
            "--username",
            "vic",
            "--role",
            "viewer",
            "--groups",
            "staff",
            "--password",
            PASSWORD,
        ),
        (
            "users",
            "create",
            "--username",
            "eddie",
            "--role",
            "editor",
            "--groups",
            "staff",
            "--password",
            PASSWORD,
        ),
    ):
        done = attest(env, *args)
        assert done.returncode == 0, done.stderr
    srv = start_server(data_dir, database_url=database_url, ATTEST_METRICS_TOKEN=METRICS_TOKEN)
    srv.env["HR_FOLDER"] = str(folder)
    try:
        for name in ("admin", "vic", "eddie"):
            srv.tokens[name] = sign_in(srv, name)
        with srv.client("admin") as admin:
            users = {u["username"]: u["id"] for u in admin.get("/users").json()["items"]}
            for who in ("vic", "eddie"):
                admin.post(f"/kbs/{KB}/grants", json={"user_id": users[who]}).raise_for_status()
        yield srv
    finally:
        srv.process.terminate()
        srv.process.wait(timeout=30)
        if database_url:
            drop_postgres_database(database_url)


def _documents(client: httpx.Client) -> list[dict]:
    reply = client.get(f"/kbs/{KB}/documents")
    assert reply.status_code == 200, reply.text
    return list(reply.json()["items"])


def test_failed_file_is_as_restricted_as_its_folder(site: Server) -> None:
    with site.client("admin") as admin:
        failed = [d for d in _documents(admin) if d["status"] == "failed"]
    assert [d["file_name"] for d in failed] == ["review.md"]
    assert failed[0]["acl"] == ["hr"]
    with site.client("vic") as viewer:
        assert all(d["file_name"] == "canteen.md" for d in _documents(viewer))
        assert viewer.get(f"/kbs/{KB}/documents/{failed[0]['id']}").status_code == 404


def test_reindex_by_an_editor_outside_the_group_keeps_the_folder_acl(site: Server) -> None:
    folder = Path(site.env["HR_FOLDER"])
    with site.client("admin") as admin:
        salary = next(d for d in _documents(admin) if d["file_name"] == "salary.txt")
        deleted = admin.delete(f"/kbs/{KB}/documents/{salary['id']}")
        assert deleted.status_code == 200, deleted.text
    (folder / "layoff.txt").write_text(LAYOFF)  # a new file
    (folder / "review.md").write_text(REVIEW)  # the failed file, fixed
    with site.client("eddie") as editor:
        started = editor.post(f"/kbs/{KB}/jobs")
        assert started.status_code == 202, started.text
        job = wait_for(editor, KB, started.json()["id"])
        assert job["status"] == "succeeded", job
        # The editor may not read the hr documents, so the job's counts (which include
        # them) are not shown, only its progress; nor are their errors.
        assert job["documents_total"] is None and "documents_added" not in job["summary"]
        assert job["progress"] == 1.0
        assert leaks(editor.get(f"/kbs/{KB}/jobs").text) == []
    with site.client("admin") as admin:
        docs = {d["file_name"]: d for d in _documents(admin)}
        assert {n: docs[n]["acl"] for n in ("salary.txt", "layoff.txt", "review.md")} == {
            "salary.txt": ["hr"],
            "layoff.txt": ["hr"],
            "review.md": ["hr"],
        }
        assert docs["salary.txt"]["id"] != salary["id"]  # a new document, with an id never used before
        admin_job = admin.get(f"/kbs/{KB}/jobs/{job['id']}").json()
        counts = admin_job["summary"]
        assert (counts["documents_added"], counts["documents_updated"]) == (2, 1)  # back, new; fixed
    with site.client("vic") as viewer:
        listed = _documents(viewer)
        assert [d["file_name"] for d in listed] == ["canteen.md"]
        for doc in docs.values():
            if doc["acl"]:
                assert viewer.get(f"/kbs/{KB}/documents/{doc['id']}").status_code == 404
        for question in (
            "What is the layoff code word?",
            "How much does Morgan Vale earn?",
            "Who received a written warning in May?",
        ):
            reply = viewer.post("/ask", json={"kb": KB, "question": question})
            assert reply.status_code == 200, reply.text
            assert leaks(reply.text.replace(question, "")) == [], question
        kb = viewer.get(f"/kbs/{KB}").json()
        assert kb["documents"] == 1  # the hidden documents are not counted either


def test_answer_sources_name_files_not_server_paths(site: Server) -> None:
    with site.client("vic") as viewer:
        reply = viewer.post("/ask", json={"kb": KB, "question": "When does the canteen open?"})
    assert reply.status_code == 200
    sources = reply.json()["sources"]
    assert sources and all("/" not in s["source_uri"] for s in sources)
    assert str(site.data_dir.parent) not in reply.text


def test_a_deleted_accounts_token_does_not_pass_to_the_next_account(site: Server) -> None:
    with site.client("admin") as admin:
        made = admin.post(
            "/users", json={"username": "temp", "role": "viewer", "groups": ["staff"], "password": PASSWORD}
        )
        assert made.status_code == 201, made.text
        old_id = made.json()["id"]
        token = sign_in(site, "temp")
        me = httpx.get(f"{site.api}/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["name"] == "temp"
        admin.post(f"/kbs/{KB}/grants", json={"user_id": old_id}).raise_for_status()
        asked = httpx.post(
            f"{site.api}/ask",
            json={"kb": KB, "question": "When does the canteen open?"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        assert asked.status_code == 200
        assert admin.delete(f"/users/{old_id}").status_code == 204
        again = admin.post("/users", json={"username": "boss", "role": "admin", "password": PASSWORD})
        assert again.status_code == 201
        assert again.json()["id"] != old_id
    for path in ("/auth/me", "/users", "/conversations"):
        reply = httpx.get(f"{site.api}{path}", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 401, (path, reply.text)
    engine = create_engine(site.env.get("DATABASE_URL") or f"sqlite:///{site.data_dir / 'attest.db'}")
    with engine.connect() as conn:
        owned = conn.execute(
            text("SELECT count(*) FROM conversations WHERE owner = :o"), {"o": f"user:{old_id}"}
        )
        assert owned.scalar() == 0
    engine.dispose()


def test_password_change_and_deactivation_end_old_tokens_at_once(site: Server) -> None:
    with site.client("admin") as admin:
        made = admin.post("/users", json={"username": "churn", "role": "viewer", "password": PASSWORD})
        user_id = made.json()["id"]
        for _ in range(15):
            token = sign_in(site, "churn")
            assert admin.patch(f"/users/{user_id}", json={"active": False}).status_code == 200
            # The change is committed before the 200 arrives: the very next request is refused.
            reply = httpx.get(f"{site.api}/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert reply.status_code == 401
            assert admin.patch(f"/users/{user_id}", json={"active": True}).status_code == 200
            reply = httpx.get(f"{site.api}/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert reply.status_code == 401  # re-enabling does not revive the old token
        token = sign_in(site, "churn")
        changed = admin.patch(f"/users/{user_id}", json={"password": PASSWORD + "-new"})
        assert changed.status_code == 200
        reply = httpx.get(f"{site.api}/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 401
        assert sign_in(site, "churn", PASSWORD + "-new")


def test_feedback_refusals_do_not_tell_missing_from_foreign(site: Server) -> None:
    with site.client("admin") as admin:
        asked = admin.post("/ask", json={"kb": KB, "question": "When does the canteen open?"}).json()
    with site.client("vic") as viewer:
        foreign = viewer.post("/feedback", json={"message_id": asked["message_id"], "rating": 1})
        missing = viewer.post("/feedback", json={"message_id": 2**31 - 2, "rating": 1})
    assert foreign.status_code == missing.status_code == 404
    assert (
        foreign.json()["detail"].split(" ")[:2]
        == missing.json()["detail"].split(" ")[:2]
        == ["Unknown", "message"]
    )


def test_upload_with_an_overlong_name_is_stored_under_a_shorter_one(site: Server) -> None:
    name = "a" * 300 + ".txt"
    with site.client("eddie") as editor:
        reply = editor.post(
            f"/kbs/{KB}/documents",
            files={"file": (name, b"Parking is free for staff on weekends.", "text/plain")},
        )
    assert reply.status_code == 201, reply.text
    stored = reply.json()["file_name"]
    assert stored.endswith(".txt") and len(stored.encode()) <= 200


def test_metrics_need_the_operator_token(site: Server) -> None:
    assert httpx.get(f"{site.url}/metrics").status_code == 403
    wrong = httpx.get(f"{site.url}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    right = httpx.get(f"{site.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert right.status_code == 200 and "attest_http_requests" in right.text


def test_data_directory_and_files_are_private(site: Server) -> None:
    data_dir = site.data_dir
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    database = [] if ON_POSTGRES else [data_dir / "attest.db"]
    for path in (*database, data_dir / "jwt-secret"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    index_files = [p for p in (data_dir / "indexes").rglob("*") if p.is_file()]
    assert index_files and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in index_files)
    uploads = [p for p in (data_dir / "uploads").rglob("*") if p.is_file()]
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in uploads)
