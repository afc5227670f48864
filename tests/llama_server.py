"""The real llama.cpp OpenAI-compatible server (``python -m llama_cpp.server``) with the
default small model, on a free local port, for the tests that need a remote endpoint."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from attest.generation.backends import default_gguf
from tests.live import free_port

API_KEY = "test-key"


def start_llama_server() -> tuple[str, subprocess.Popen[bytes]]:
    """The server's ``/v1`` URL and its process, once it accepts connections."""
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf()), "--model_alias", "gemma",
        "--host", "127.0.0.1", "--port", str(port), "--api_key", API_KEY, "--n_ctx", "2048",
        # The base model's own template makes it stop at once; ChatML makes it write text,
        # which is all these transport tests need (answer quality is measured by eval qa).
        "--chat_format", "chatml",
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
