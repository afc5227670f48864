"""The documentation that is derived from code, or bound by a rule, stays so."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import Field, SecretStr

from attest.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
ISSUE_NUMBER = re.compile(r"(?<![\w&/])#\d+\b|\bissues? \d+\b", re.IGNORECASE)


def _generator() -> ModuleType:
    path = ROOT / "scripts" / "configuration_doc.py"
    spec = importlib.util.spec_from_file_location("configuration_doc", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.unit
def test_the_configuration_page_matches_the_settings_class() -> None:
    generator = _generator()
    if generator.DOC.read_text(encoding="utf-8") != generator.render():
        pytest.fail(
            "docs/configuration.md differs from attest/core/settings.py; "
            f"regenerate it with `{generator.COMMAND}`"
        )


@pytest.mark.unit
def test_the_configuration_page_lists_every_setting_and_no_secret() -> None:
    class WithSecret(Settings):
        example_token: SecretStr = Field(default=SecretStr("hunter2"), description="A test secret.")

    page = _generator().render(WithSecret)
    for name in Settings.model_fields:
        assert f"`ATTEST_{name.upper()}`" in page, name
    assert "`DATABASE_URL`" in page
    assert "| `ATTEST_EXAMPLE_TOKEN` | (secret, not shown) |" in page
    assert "hunter2" not in page


@pytest.mark.unit
@pytest.mark.parametrize(
    "path", ["README.md", "docs/architecture.md", "docs/configuration.md", "docs/status.md"]
)
def test_the_newcomer_docs_carry_no_issue_numbers(path: str) -> None:
    found = ISSUE_NUMBER.findall((ROOT / path).read_text(encoding="utf-8"))
    assert not found, f"{path} names issues {found}: say what is done or not instead"


@pytest.mark.unit
def test_the_readme_stays_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines < 250, f"README.md has {lines} lines; move detail to docs/ (it should stay under 250)"
