"""Named local models: assembled from their packages' parts, refused unless exactly the
pinned file, listed by ``attest models list``. Real packages and files throughout; the
corrupted and truncated files are made here from the real one's size."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from attest.core.errors import ConfigurationError
from attest.generation.models import DEFAULT_MODEL, MODELS, assemble, part_files, resolve, status

pytestmark = pytest.mark.integration
GEMMA = MODELS[DEFAULT_MODEL]


def test_parts_are_found_through_the_distributions_file_lists_in_order() -> None:
    parts = part_files(GEMMA)
    assert parts is not None and len(parts) == len(GEMMA.distributions)
    assert [p.name for p in parts] == [f"gemma-3-270m-q4_k_m.gguf.part{i:02d}" for i in range(4)]
    assert sum(p.stat().st_size for p in parts) == GEMMA.bytes


def test_a_model_whose_packages_are_missing_says_how_to_install_it(tmp_path: Path) -> None:
    missing = replace(GEMMA, name="absent-model", distributions=("attest-no-such-package-part1",))
    assert part_files(missing) is None and not status(missing, tmp_path).installed
    with pytest.raises(ConfigurationError, match=r"not installed; run scripts/setup.sh --model absent-model"):
        assemble(missing, tmp_path)


def test_a_truncated_assembled_file_is_refused_by_hash(tmp_path: Path) -> None:
    (tmp_path / GEMMA.file_name).write_bytes(b"GGUF" + bytes(1000))
    with pytest.raises(ConfigurationError, match=r"is truncated \(1,004 bytes.*Delete it"):
        assemble(GEMMA, tmp_path)
    assert not status(GEMMA, tmp_path).verified


def test_a_corrupted_assembled_file_of_the_right_size_is_refused_by_hash(tmp_path: Path) -> None:
    with (tmp_path / GEMMA.file_name).open("wb") as corrupted:
        corrupted.truncate(GEMMA.bytes)  # the right size, the wrong bytes
    with pytest.raises(
        ConfigurationError, match=r"differs from the pinned file .*expected 253,113,024 bytes"
    ):
        assemble(GEMMA, tmp_path)


@pytest.mark.slow
def test_parts_that_do_not_add_up_leave_no_file_behind(tmp_path: Path) -> None:
    """Assembly writes a temporary file and keeps it only when its hash is the pinned one."""
    wrong = replace(GEMMA, sha256="0" * 64)
    with pytest.raises(ConfigurationError, match="do not add up to the pinned file"):
        assemble(wrong, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert assemble(GEMMA, tmp_path).is_file() and status(GEMMA, tmp_path).verified


def test_the_setting_takes_a_name_or_a_path_and_names_the_choices_otherwise(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve(str(gguf)) == gguf  # any GGUF file, as it is
    with pytest.raises(ConfigurationError, match="neither a named model .*qwen2.5-coder-1.5b-instruct"):
        resolve("qwen-7b")


def test_models_list_json_is_the_stable_interface() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "attest", "models", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(listed.stdout)["models"]
    assert [row["name"] for row in rows] == list(MODELS)
    for row in rows:
        assert set(row) == {"name", "installed", "verified", "bytes", "path"}
        assert row["bytes"] == MODELS[row["name"]].bytes and row["path"].endswith(f"{row['name']}.gguf")
    gemma = rows[0]
    assert gemma["installed"] and gemma["verified"]  # the default model is always installed
