"""A standardised logistic regression: the small calibrated models Attest ships as data files.

Both the factuality checker's support model and the extractive backend's sentence model
are ``sigmoid(intercept + coef · (x - mean) / scale)``, fitted by a script in ``bench/``
from the public data. Fitting needs scikit-learn, which only those scripts import.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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
