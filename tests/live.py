"""A real Attest API server on a local port, over a real SQLite database, for the API and UI tests.

One server per test session (the model loads once; the ``server`` fixture in
``tests/conftest.py``): the demo knowledge base, a confidential document readable only by
the ``hr`` group, a second knowledge base ``b``, and one principal of each kind the
authorization matrix needs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "attest" / "demo_kb"
SECRET_TEXT = (
    "Falconridge salary bands. The Falconridge band for staff engineers starts at 142,000 euros a year. "
    "Band reviews happen every March with the HR partner."
)
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def attest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attest", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@dataclass
class Server:
    url: str
    env: dict[str, str]
    data_dir: Path
    process: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict)  # principal name -> bearer credential
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def client(self, who: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.api, headers=headers, timeout=120)


def start_server(
    data_dir: Path, *, workers: int = 1, database_url: str | None = None, **settings: str
) -> Server:
    """``attest serve`` on a free port over ``database_url`` (default: SQLite in ``data_dir``)."""
    env = {
        **os.environ,
        "ATTEST_DATA_DIR": str(data_dir),
        "ATTEST_RATE_LIMIT_PER_MINUTE": "0",
        "ATTEST_MAX_FILE_BYTES": "2000000",
        **settings,
    }
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    port = free_port()
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - closed with the process
    command = [sys.executable, "-m", "attest", "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {(data_dir / 'server.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return Server(url, env, data_dir, process)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("the server did not become ready in 180 s")


def sign_in(server: Server, username: str, password: str = PASSWORD) -> str:
    reply = httpx.post(f"{server.api}/auth/token", data={"username": username, "password": password})
    reply.raise_for_status()
    return str(reply.json()["access_token"])


def shared_server(
    tmp_path_factory: pytest.TempPathFactory,
    *,
    database_url: str | None = None,
    workers: int = 1,
    **settings: str,
) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("api-server")
    env = {**os.environ, "ATTEST_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    secret_dir = data_dir / "confidential"
    secret_dir.mkdir()
    (secret_dir / "falconridge_salary_bands.txt").write_text(SECRET_TEXT)
    other_dir = data_dir / "kb-b"
    other_dir.mkdir()
    (other_dir / "b_notes.md").write_text("# B notes\n\nThe B team meets on Thursdays in room Aster.\n")
    for args in (
        ("ingest", "--kb", "demo", str(DEMO)),
        ("ingest", "--kb", "demo", "--acl", "hr", str(secret_dir)),
        ("ingest", "--kb", "b", str(other_dir)),
        ("users", "create", "--username", "admin", "--role", "admin", "--password", PASSWORD),
        (
            "users",
            "create",
            "--username",
            "viewer_a",
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
            "editor_a",
            "--role",
            "editor",
            "--groups",
            "staff",
            "--password",
            PASSWORD,
        ),
        ("users", "create", "--username", "viewer_b", "--role", "viewer", "--password", PASSWORD),
    ):
        done = attest(env, *args)
        assert done.returncode == 0, done.stderr
    srv = start_server(data_dir, workers=workers, database_url=database_url, **settings)
    try:
        for name in ("admin", "viewer_a", "editor_a", "viewer_b"):
            srv.tokens[name] = sign_in(srv, name)
        with srv.client("admin") as admin:
            users = {u["username"]: u["id"] for u in admin.get("/users").json()["items"]}
            srv.ids.update(users)
            admin.post("/groups", json={"name": "staff"}).raise_for_status()
            for who, kb in (("viewer_a", "demo"), ("editor_a", "demo"), ("viewer_b", "b")):
                admin.post(f"/kbs/{kb}/grants", json={"user_id": users[who]}).raise_for_status()
            key = admin.post("/apikeys", json={"name": "revoked", "role": "viewer", "kbs": ["demo"]}).json()
            admin.delete(f"/apikeys/{key['id']}").raise_for_status()
            srv.tokens["revoked_key"] = key["key"]
            docs = admin.get("/kbs/demo/documents").json()["items"]
            srv.ids["secret_doc"] = next(d["id"] for d in docs if d["acl"] == ["hr"])
        yield srv
    finally:
        srv.process.terminate()
        srv.process.wait(timeout=30)
