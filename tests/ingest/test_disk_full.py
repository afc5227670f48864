"""A real full disk during ingest: the data directory on a small tmpfs.

The run that fills the disk ends with a message that says so (no traceback), the previous
index version keeps answering, nothing stored before is lost, and once space is freed a
re-run completes. Mounting needs root; where it is refused the test is skipped, and the
fault-injection test in test_pipeline.py still covers the logic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ON_POSTGRES, write_corpus

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    # The SQLite file lives on the full disk, which is the point; on PostgreSQL's pass it would
    # only repeat the SQLite run.
    pytest.mark.skipif(ON_POSTGRES, reason="runs once, with the SQLite database on the full disk"),
]

HEADROOM_KB = 256  # free space left after the first ingest: too little for the big file
LEAVE = "How many days of annual leave do full-time employees receive?"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def attest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attest", *args], env=env, capture_output=True, text=True, timeout=600
    )


def test_a_full_disk_is_a_clear_error_and_loses_nothing(small_disk: Path, tmp_path: Path) -> None:
    env = {**os.environ, "ATTEST_DATA_DIR": str(small_disk / "data")}
    env.pop("DATABASE_URL", None)
    docs = tmp_path / "docs"
    write_corpus(docs)
    first = attest(env, "ingest", "--kb", "hr", str(docs), "--json")
    assert first.returncode == 0, first.stderr
    version = json.loads(first.stdout)["index_version"]
    used_kb = int(
        subprocess.run(["du", "-sk", str(small_disk)], capture_output=True, text=True).stdout.split()[0]
    )
    shrink = f"remount,size={used_kb + HEADROOM_KB}k"
    subprocess.run(["mount", "-o", shrink, str(small_disk)], check=True)  # the disk is now nearly full

    words = ["handbook", "policy", "travel", "budget", "review", "laptop", "office", "security", "leave"]
    big = docs / "big_handbook.txt"  # about 300 chunks: well over the headroom once embedded and indexed
    big.write_text("\n\n".join(" ".join(words[(i + j) % 9] for j in range(60)) + "." for i in range(600)))
    full = attest(env, "ingest", "--kb", "hr", str(docs))
    assert full.returncode != 0
    assert "No space left" in full.stderr and "Traceback" not in full.stderr, full.stderr[-2000:]

    asked = attest(env, "ask", "--kb", "hr", LEAVE, "--json")  # the previous version still answers
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["index_version"] == version and "27 days" in answer["answer"]

    big.unlink()  # space again: the re-run completes
    again = attest(env, "ingest", "--kb", "hr", "--sync", str(docs), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["documents_failed"] == 0
