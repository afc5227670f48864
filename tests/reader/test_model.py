"""The shipped reader model: the file its manifest records, the score it recorded on a fixed
slice, and the ranking it exists for. The training script is reproducible (``--check``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from attest.core.enums import Precision
from attest.core.errors import ConfigurationError
from attest.reader.model import (
    MANIFEST_FILE,
    MODEL_DIR,
    WEIGHTS_FILE,
    Reader,
    sha256,
    shipped_reader,
    slice_scores,
)
from attest.text.embedder import runs_bfloat16

ROOT = Path(__file__).resolve().parents[2]
SLICE = Path(__file__).with_name("slice.jsonl")
SQUAD = ROOT.parent / "shared/data/squad-v2-dev/dev-v2.0.json"

pytestmark = pytest.mark.integration


def test_the_shipped_weights_are_the_recorded_ones_and_small() -> None:
    manifest = shipped_reader().manifest
    weights = MODEL_DIR / WEIGHTS_FILE
    assert sha256(weights) == manifest["sha256"]
    assert weights.stat().st_size < 50 * 1024 * 1024


def test_the_shipped_model_reproduces_its_recorded_score_on_the_fixed_slice() -> None:
    recorded = shipped_reader().manifest["slice"]
    measured = slice_scores(Reader(precision=Precision.FLOAT32), SLICE)  # as recorded
    assert measured["ranked_right"] == pytest.approx(recorded["ranked_right"], abs=1e-3)
    assert measured["mean_probability"] == pytest.approx(recorded["mean_probability"], abs=1e-3)
    assert measured["ranked_right"] >= 0.85  # what the slice is for: answers above the rest


def test_bfloat16_reads_the_slice_as_float32_does() -> None:
    """The fast path (bfloat16 autocast, the default where the CPU has it) keeps the logits
    within a few hundredths of float32's; forced here, so it runs on any CPU (emulated)."""
    rows = [json.loads(line) for line in SLICE.read_text().splitlines() if line.strip()]
    questions, texts = [r["question"] for r in rows], [r["text"] for r in rows]
    exact_reader, fast_reader = Reader(precision=Precision.FLOAT32), Reader(precision=Precision.BFLOAT16)
    exact = exact_reader.pair_logits(questions, texts)
    gap = np.abs(fast_reader.pair_logits(questions, texts) - exact).max()
    assert 0.0 < gap < 0.15  # close, and not float32 again (which would mean bfloat16 never ran)
    ranked = [slice_scores(reader, SLICE)["ranked_right"] for reader in (fast_reader, exact_reader)]
    assert ranked[0] == ranked[1]


def test_precision_float32_and_bfloat16_are_what_they_say() -> None:
    assert runs_bfloat16(Precision.FLOAT32) is False
    assert runs_bfloat16(Precision.BFLOAT16) is True
    assert isinstance(runs_bfloat16(Precision.AUTO), bool)  # the CPU decides


def test_an_answer_ranks_above_a_heading_a_table_header_and_an_unrelated_sentence() -> None:
    question = "What is the maximum nightly hotel rate for international travel?"
    answer, heading, header, unrelated = shipped_reader().score(
        question,
        [
            "Hotels abroad may cost at most $260 a night, taxes included.",
            "# Hotel Rates for International Travel",
            "Location | Maximum nightly rate",
            "The office kitchen is cleaned every Friday afternoon.",
        ],
    )
    assert answer > max(heading, header, unrelated)


def test_a_question_longer_than_the_model_reads_is_scored() -> None:
    """A question of the longest accepted length can hold more tokens than the model reads."""
    question = " ".join(str(i % 10) for i in range(495)) + "?"  # 990 characters, about 500 tokens
    scores = shipped_reader().score(question, ["Full-time employees receive 27 days of annual leave."])
    assert scores.shape == (1,) and 0.0 <= scores[0] <= 1.0


def test_a_changed_weights_file_is_refused_with_a_readable_message(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(MODEL_DIR, copy)
    data = bytearray((copy / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 0xFF
    (copy / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ConfigurationError, match="differs from the one recorded"):
        Reader(copy).score("a question?", ["a text"])
    (copy / MANIFEST_FILE).unlink()
    with pytest.raises(ConfigurationError, match="manifest"):
        Reader(copy).warm_up()


@pytest.mark.slow
@pytest.mark.skipif(not SQUAD.is_file(), reason="../shared/data is not beside the repository")
def test_the_training_script_is_reproducible_on_a_tiny_subset() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench/train_reader.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"reproducible": true' in done.stdout
