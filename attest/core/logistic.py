"""A standardised logistic regression: the small calibrated models Attest ships as data files.

Both the factuality checker's support model (``verify/weights.json``) and the reader's
answer model (``reader/calibration.json``) are ``sigmoid(intercept + coef · (x - mean) /
scale)`` over named inputs, with decision points of their own, fitted by a script in
``bench/`` from the public data: each is a :class:`CalibratedLogistic`. Fitting needs
scikit-learn, which only those scripts import.
"""

from __future__ import annotations

import json
import math
import typing
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from attest.core.errors import ConfigurationError


def probability(
    x: np.ndarray, mean: Sequence[float], scale: Sequence[float], coef: Sequence[float], intercept: float
) -> np.ndarray:
    """The model's probability for each row of ``x`` (shape ``(n, features)``)."""
    z = (np.atleast_2d(x) - np.asarray(mean)) / np.asarray(scale)
    logits = z @ np.asarray(coef) + intercept
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))


def fit(
    x: np.ndarray, y: np.ndarray, *, regularisation: float = 1.0
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], float]:
    """``(mean, scale, coef, intercept)`` of a logistic regression of ``y`` on ``x``, rounded to 6 places."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    regression = LogisticRegression(C=regularisation, max_iter=1000).fit((x - mean) / scale, y)
    return (
        tuple(float(v) for v in np.round(mean, 6)),
        tuple(float(v) for v in np.round(scale, 6)),
        tuple(float(v) for v in np.round(regression.coef_[0], 6)),
        round(float(regression.intercept_[0]), 6),
    )


@dataclass(frozen=True)
class CalibratedLogistic:
    """``P = sigmoid(intercept + coef · (x - mean) / scale)``, stored as a JSON file of its fields.

    A subclass adds its decision points as fields (checked in its ``__post_init__``), a field
    naming its inputs (:attr:`INPUTS`, checked against what this version computes, so a file
    fitted for other inputs is refused), and says which file and script it belongs to.
    """

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    INPUTS: ClassVar[str]  # the field naming the inputs, in order (a tuple of names)
    EXPECTED: ClassVar[tuple[str, ...]]  # the inputs this version computes
    TITLE: ClassVar[str]  # how messages name the model, e.g. "the verifier weights"
    FILE: ClassVar[Path]  # the shipped file
    SCRIPT: ClassVar[str]  # the script that rebuilds it

    def __post_init__(self) -> None:
        names = tuple(getattr(self, self.INPUTS))
        if names != self.EXPECTED:
            expected = list(self.EXPECTED)
            raise self.error(f"is for {self.INPUTS} {list(names)}, this version computes {expected}")
        if not len(self.mean) == len(self.scale) == len(self.coef) == len(names):
            raise self.error("has the wrong number of weights")
        if not math.isfinite(self.intercept):
            raise self.error(f"has an invalid intercept {self.intercept}")

    def error(self, problem: str) -> ConfigurationError:
        """A ConfigurationError naming the model, its ``problem`` and the script to re-run."""
        return ConfigurationError(f"{self.TITLE} {problem}; re-run {self.SCRIPT}")

    def probability(self, x: np.ndarray) -> np.ndarray:
        """The probability for each row of ``x`` (shape ``(n, inputs)``)."""
        return probability(x, self.mean, self.scale, self.coef, self.intercept)

    def to_json(self) -> str:
        """The file's text: every field, in declaration order."""
        return json.dumps(asdict(self), indent=2) + "\n"

    def save(self, path: Path | None = None) -> None:
        (path or self.FILE).write_text(self.to_json())

    @classmethod
    def load(cls, path: Path | None = None) -> Self:
        """The model in ``path`` (the shipped file by default); a ConfigurationError that
        names the file and the script to re-run when it cannot be read or does not fit."""
        path = path or cls.FILE
        hints = typing.get_type_hints(cls)
        try:
            data = json.loads(path.read_text())
            values = {
                f.name: _typed(hints[f.name], data[f.name])
                for f in fields(cls)
                if f.name in data or f.name == cls.INPUTS or _required(f.default, f.default_factory)
            }
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"cannot read {cls.TITLE} {path}: {exc}; re-run {cls.SCRIPT}") from exc
        return cls(**values)


def _required(default: object, factory: object) -> bool:
    return default is MISSING and factory is MISSING


def _typed(hint: Any, value: Any) -> Any:
    """``value`` read from JSON as the field's type: tuples of floats or names, numbers, dicts."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(item(v) for v in value)
    if hint in (float, int):
        return hint(value)
    if origin is dict:
        return dict(value)
    return value
