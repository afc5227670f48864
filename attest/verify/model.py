"""The support model: a logistic regression over the signals, with weights in a data file.

``weights.json`` is written by ``bench/calibrate_verifier.py`` from the public data, so
anyone can reproduce it; it holds the signal names (checked against
:data:`~attest.verify.signals.SIGNALS`), the standardisation, the coefficients, the
intercept and the decision threshold chosen on the training split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from attest.core.logistic import CalibratedLogistic
from attest.verify.signals import SIGNALS

WEIGHTS = Path(__file__).with_name("weights.json")


@dataclass(frozen=True)
class SupportModel(CalibratedLogistic):
    """P(supported | signals) = sigmoid(intercept + coef · (signals - mean) / scale)."""

    threshold: float  # a claim is supported when its probability is at least this
    signals: tuple[str, ...] = SIGNALS
    about: dict[str, Any] = field(default_factory=dict)  # how the weights were made

    INPUTS: ClassVar[str] = "signals"
    EXPECTED: ClassVar[tuple[str, ...]] = SIGNALS
    TITLE: ClassVar[str] = "the support model"
    FILE: ClassVar[Path] = WEIGHTS
    SCRIPT: ClassVar[str] = "bench/calibrate_verifier.py"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.threshold < 1.0:
            raise self.error(f"has an invalid threshold {self.threshold}")
