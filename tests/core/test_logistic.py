"""The calibrated logistic model: its formula, its file and the checks on what it loads."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from attest.core.errors import ConfigurationError
from attest.core.logistic import CalibratedLogistic

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Toy(CalibratedLogistic):
    threshold: float
    inputs: tuple[str, ...] = ("a", "b")
    about: dict[str, Any] = field(default_factory=dict)

    INPUTS: ClassVar[str] = "inputs"
    EXPECTED: ClassVar[tuple[str, ...]] = ("a", "b")
    TITLE: ClassVar[str] = "the toy model"
    FILE: ClassVar[Path] = Path("toy.json")
    SCRIPT: ClassVar[str] = "bench/toy.py"


TOY = Toy(mean=(1.0, 0.0), scale=(2.0, 1.0), coef=(0.5, -1.0), intercept=0.25, threshold=0.6, about={"x": 1})


def test_the_probability_is_the_standardised_logistic() -> None:
    x = np.array([[3.0, 1.0], [1.0, 0.0]])
    logits = 0.25 + 0.5 * (x[:, 0] - 1.0) / 2.0 - 1.0 * x[:, 1]
    assert np.allclose(TOY.probability(x), 1 / (1 + np.exp(-logits)))


def test_it_saves_every_field_in_order_and_loads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "toy.json"
    TOY.save(path)
    assert list(json.loads(path.read_text())) == [
        "mean", "scale", "coef", "intercept", "threshold", "inputs", "about",
    ]  # fmt: skip
    assert Toy.load(path) == TOY and path.read_text() == TOY.to_json()


def test_a_file_for_other_inputs_or_unreadable_names_the_script(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError, match=r"the toy model is for inputs \['a', 'c'\].*re-run bench/toy.py"
    ):
        replace(TOY, inputs=("a", "c"))
    with pytest.raises(ConfigurationError, match="wrong number of weights"):
        replace(TOY, coef=(1.0,))
    with pytest.raises(ConfigurationError, match="invalid intercept"):
        replace(TOY, intercept=float("nan"))
    path = tmp_path / "toy.json"
    path.write_text(TOY.to_json().replace('"inputs"', '"renamed"'))
    with pytest.raises(
        ConfigurationError, match=f"cannot read the toy model {path}: 'inputs'; re-run bench/toy.py"
    ):
        Toy.load(path)
    with pytest.raises(ConfigurationError, match="cannot read the toy model"):
        Toy.load(tmp_path / "missing.json")
