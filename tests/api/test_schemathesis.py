"""Schemathesis against the OpenAPI document of a live server: no request gets a 5xx.

Its own server over an empty database, so that the generated requests (an admin's, which
may create and delete anything) cannot disturb the other API tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import PASSWORD, attest, sign_in, start_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_no_server_errors(tmp_path: Path) -> None:
    st = shutil.which("st") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "st")
    server = start_server(tmp_path)
    try:
        done = attest(
            server.env, "users", "create", "--username", "root", "--role", "admin", "--password", PASSWORD
        )
        assert done.returncode == 0, done.stderr
        token = sign_in(server, "root")
        run = subprocess.run(
            [
                st,
                "run",
                f"{server.api}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--header",
                f"Authorization: Bearer {token}",
                "--max-examples",
                "15",
                "--phases",
                "examples,coverage,fuzzing",
                "--request-timeout",
                "60",
                "--no-color",
                "--seed",
                "20261123",  # the same cases on every run
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
        tested = re.search(r"Tested: (\d+)", run.stdout)
        assert tested and int(tested.group(1)) >= 40, run.stdout[-3000:]
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
