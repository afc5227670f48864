"""The answer backends by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from attest.answers.generators import GENERATORS
from attest.core.enums import GeneratorName
from attest.core.settings import Settings

pytestmark = pytest.mark.unit


def test_every_name_has_a_backend() -> None:
    assert set(GENERATORS) == set(GeneratorName)


def test_an_unknown_name_fails_when_the_settings_are_read_and_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as failed:
        Settings(data_dir=tmp_path, generator="gpt5")  # type: ignore[arg-type]
    message = str(failed.value)
    assert "generator" in message and all(name.value in message for name in GeneratorName)
    assert Settings(data_dir=tmp_path, generator="openai").generator is GeneratorName.OPENAI  # type: ignore[arg-type]
