"""The real llama.cpp OpenAI-compatible server (``python -m llama_cpp.server``) with the
small instruct model (Qwen2.5-Coder-0.5B-Instruct, through its own chat template), on a
free local port, for the tests that need a remote endpoint. ``scripts/test.sh`` installs
the model; without it these tests are skipped, saying so."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from attest.generation.models import MODELS, part_files, resolve
from tests.live import free_port

API_KEY = "test-key"
MODEL = MODELS["qwen2.5-coder-0.5b-instruct"]
MODEL_ALIAS = "local"


def start_llama_server() -> tuple[str, subprocess.Popen[bytes]]:
    """The server's ``/v1`` URL and its process, once it accepts connections."""
    if part_files(MODEL) is None:
        pytest.skip(f"{MODEL.name} is not installed (scripts/test.sh installs it: {MODEL.install})")
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(resolve(MODEL.name)),
        "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "--api_key", API_KEY, "--n_ctx", "2048",
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return f"http://127.0.0.1:{port}/v1", proc
        except OSError:
            if proc.poll() is not None:
                pytest.fail("llama_cpp.server exited at start")
            time.sleep(0.5)
    proc.kill()
    pytest.fail("llama_cpp.server did not start in 120 s")
