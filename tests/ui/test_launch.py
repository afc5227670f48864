"""How `attest ui` starts Streamlit: the protections it pins, and the proxy documented for the rest."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit import config as streamlit_config

from attest.cli.serve import _streamlit_command, _ui_env

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def flags(command: list[str]) -> dict[str, str]:
    start = command.index("run") + 2  # after the script
    pairs = command[start:]
    assert len(pairs) % 2 == 0 and all(p.startswith("--") for p in pairs[::2]), pairs
    return {name[2:]: value for name, value in zip(pairs[::2], pairs[1::2], strict=True)}


def test_the_streamlit_command_pins_its_protections() -> None:
    command = _streamlit_command("127.0.0.1", 8599, "http://127.0.0.1:8000")
    assert command[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert command[4].endswith("attest/ui/app.py")
    options = flags(command)
    assert options["server.address"] == "127.0.0.1" and options["server.port"] == "8599"
    # Flags win over a config.toml or STREAMLIT_* variable that turns these off.
    assert options["server.enableXsrfProtection"] == "true"
    assert options["server.enableCORS"] == "true"
    assert options["client.showErrorDetails"] == "none"
    assert options["server.enableStaticServing"] == "false"
    assert options["browser.gatherUsageStats"] == "false"
    assert options["server.headless"] == "true"
    for name in options:  # every flag is one this Streamlit knows (an unknown one is an error)
        assert name in streamlit_config._config_options_template, name


def test_the_ui_environment_turns_the_agent_api_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMLIT_SERVER_ENABLE_AGENT_API", "true")
    env = _ui_env("http://127.0.0.1:8000")
    assert env["STREAMLIT_SERVER_ENABLE_AGENT_API"] == "false"
    assert env["ATTEST_API_URL"] == "http://127.0.0.1:8000"


def test_the_reverse_proxy_is_documented() -> None:
    doc = (ROOT / "docs" / "deployment.md").read_text()
    for directive in (
        'add_header X-Frame-Options "DENY" always;',
        "frame-ancestors 'none'",
        "img-src 'self' data: blob:",
        "client_header_timeout",
        "proxy_set_header Upgrade           $http_upgrade;",
        "proxy_set_header Connection        $connection_upgrade;",
    ):
        assert directive in doc, directive
    assert "docs/deployment.md" in (ROOT / "README.md").read_text()
