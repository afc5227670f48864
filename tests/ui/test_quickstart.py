"""The quick start's command: `attest demo --serve` ingests the demo knowledge base, creates
the first admin, and starts the API and the UI together, printing the URL and the sign-in."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.live import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_demo_serve_starts_api_and_ui_and_prints_the_sign_in(tmp_path: Path) -> None:
    api_port, ui_port = free_port(), free_port()
    env = {**os.environ, "ATTEST_DATA_DIR": str(tmp_path / "data"), "ATTEST_UI_PORT": str(ui_port)}
    for name in ("DATABASE_URL", "ATTEST_ADMIN_PASSWORD"):
        env.pop(name, None)
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "attest", "demo", "--serve", "--port", str(api_port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 300
            api, ui = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
            while not (_ok(f"{api}/readyz") and _ok(f"{ui}/_stcore/health")):
                assert process.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "the demo did not start in 300 s"
                time.sleep(1)
            printed = log.read_text()
            found = re.search(rf"Open {ui} and sign in as admin with the password (\S+)\.", printed)
            assert found, printed[-3000:]
            token = httpx.post(f"{api}/api/v1/auth/token", data={"username": "admin", "password": found[1]})
            assert token.status_code == 200
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    assert not _ok(f"{ui}/_stcore/health")  # stopping the demo stops the UI too
