"""The support model: a logistic regression over the signals, with weights in a data file.

``weights.json`` is written by ``bench/calibrate_verifier.py`` from the public data, so
anyone can reproduce it; it holds the signal names (checked against
:data:`~attest.verify.signals.SIGNALS`), the standardisation, the coefficients, the
intercept and the decision threshold chosen on the training split.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from attest.core import logistic
from attest.core.errors import ConfigurationError
from attest.verify.signals import SIGNALS

WEIGHTS = Path(__file__).with_name("weights.json")


@dataclass(frozen=True)
class SupportModel:
    """P(supported | signals) = sigmoid(intercept + coef · (signals - mean) / scale)."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float  # a claim is supported when its probability is at least this
    signals: tuple[str, ...] = SIGNALS
    about: dict[str, Any] = field(default_factory=dict)  # how the weights were made

    def __post_init__(self) -> None:
        if tuple(self.signals) != SIGNALS:
            raise ConfigurationError(
                f"the verifier weights are for signals {list(self.signals)}, this version computes "
                f"{list(SIGNALS)}; re-run bench/calibrate_verifier.py"
            )
        if not len(self.mean) == len(self.scale) == len(self.coef) == len(SIGNALS):
            raise ConfigurationError("the verifier weights have the wrong number of values")

    def probability(self, signals: np.ndarray) -> np.ndarray:
        """P(supported) for each row of ``signals`` (shape ``(n, len(SIGNALS))``)."""
        return logistic.probability(signals, self.mean, self.scale, self.coef, self.intercept)

    def save(self, path: Path = WEIGHTS) -> None:
        data = asdict(self) | {"signals": list(self.signals)}
        path.write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> SupportModel:
        try:
            data = json.loads(path.read_text())
            values = {name: tuple(data[name]) for name in ("mean", "scale", "coef", "signals")}
            threshold, intercept = float(data["threshold"]), float(data["intercept"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"cannot read the verifier weights {path}: {exc}; re-run bench/calibrate_verifier.py"
            ) from exc
        if not 0.0 < threshold < 1.0 or not math.isfinite(intercept):
            raise ConfigurationError(f"the verifier weights {path} have an invalid threshold or intercept")
        return cls(**values, intercept=intercept, threshold=threshold, about=data.get("about", {}))
