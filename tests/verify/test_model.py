"""The shipped support model: it loads, it is reproducible, and a broken file is named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from attest.core.errors import ConfigurationError
from attest.verify.model import WEIGHTS, SupportModel
from attest.verify.signals import SIGNALS

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared/data"


@pytest.mark.unit
def test_the_shipped_weights_favour_supported_signals() -> None:
    model = SupportModel.load()
    row = dict.fromkeys(SIGNALS, 0.0)
    supported = row | {"coverage": 1, "context_coverage": 1, "semantic": 0.7, "numbers": 1, "names": 1}
    supported |= {"entities": 1}
    invented = row | {"coverage": 0.2, "context_coverage": 0.2, "novel": -np.log1p(6), "semantic": 0.2}
    invented |= {"swapped": -1}
    supported_row, invented_row = (np.asarray([[r[name] for name in SIGNALS]]) for r in (supported, invented))
    assert model.signals == SIGNALS
    assert model.probability(supported_row)[0] > model.threshold > model.probability(invented_row)[0]
    assert "calibrate_verifier.py" in model.about["command"]
    assert model.to_json() == WEIGHTS.read_text()  # read and written back unchanged


@pytest.mark.unit
def test_a_broken_weights_file_says_how_to_fix_it(tmp_path: Path) -> None:
    broken = tmp_path / "weights.json"
    broken.write_text('{"mean": [1]}')
    with pytest.raises(ConfigurationError, match="calibrate_verifier.py"):
        SupportModel.load(broken)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "halueval-qa").is_dir(), reason="../shared/data is not beside the repository")
def test_the_calibration_script_reproduces_the_shipped_weights() -> None:
    before = WEIGHTS.read_text()
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench/calibrate_verifier.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "reproduced" in done.stderr and WEIGHTS.read_text() == before
