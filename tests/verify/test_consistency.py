"""The shipped consistency model: the file its manifest records, the score it recorded on a
fixed slice of held-out synthetic claims, and the distinctions it exists for: an entity,
number or negation changed, or two names exchanged. The training script is reproducible
(``--check``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from attest.core.enums import Precision
from attest.core.errors import ConfigurationError
from attest.reader.model import sha256
from attest.verify.consistency import (
    CONSISTENCY_FILES,
    MODEL_DIR,
    ConsistencyModel,
    shipped_consistency,
    slice_scores,
)

ROOT = Path(__file__).resolve().parents[2]
SLICE = Path(__file__).with_name("consistency_slice.jsonl")
SQUAD = ROOT.parent / "shared/data/squad-v2-dev/dev-v2.0.json"

pytestmark = pytest.mark.integration

EVIDENCE = (
    "The Finance Team approves travel requests within five working days. "
    "Requests over $2,000 also need the approval of the Chief Operating Officer, Dana Whitfield."
)


def test_the_shipped_weights_are_the_recorded_ones_and_small() -> None:
    manifest = shipped_consistency().manifest
    weights = MODEL_DIR / CONSISTENCY_FILES.weights
    assert sha256(weights) == manifest["sha256"]
    assert weights.stat().st_size < 50 * 1024 * 1024


def test_the_shipped_model_reproduces_its_recorded_score_on_the_fixed_slice() -> None:
    recorded = shipped_consistency().manifest["slice"]
    measured = slice_scores(ConsistencyModel(precision=Precision.FLOAT32), SLICE)  # as recorded
    assert measured["roc_auc"] == pytest.approx(recorded["roc_auc"], abs=1e-3)
    assert measured["accuracy"] == pytest.approx(recorded["accuracy"], abs=1e-3)
    assert measured["roc_auc"] >= 0.85  # what the slice is for: supported claims above the rest


def test_bfloat16_scores_the_slice_as_float32_does() -> None:
    """The fast path, forced here so that it runs on any CPU, keeps the slice's ROC AUC, and
    does run (its logits are not float32's)."""
    fast_model = ConsistencyModel(precision=Precision.BFLOAT16)
    exact_model = ConsistencyModel(precision=Precision.FLOAT32)
    fast, exact = slice_scores(fast_model, SLICE), slice_scores(exact_model, SLICE)
    assert fast["roc_auc"] == pytest.approx(exact["roc_auc"], abs=0.01)
    evidence, claims = [EVIDENCE, EVIDENCE], ["The Finance Team approves travel requests.", "Dana Whitfield."]
    assert not np.array_equal(fast_model.logits(evidence, claims), exact_model.logits(evidence, claims))


@pytest.mark.parametrize(
    ("supported", "changed"),
    [
        (  # a number changed
            "Requests over $2,000 also need the approval of the Chief Operating Officer.",
            "Requests over $5,000 also need the approval of the Chief Operating Officer.",
        ),
        (  # a negation added
            "The Finance Team approves travel requests within five working days.",
            "The Finance Team does not approve travel requests within five working days.",
        ),
        (  # a name replaced
            "Dana Whitfield is the Chief Operating Officer.",
            "Marcus Ellery is the Chief Operating Officer.",
        ),
    ],
)
def test_a_faithful_claim_scores_above_its_changed_twin(supported: str, changed: str) -> None:
    faithful, unfaithful = shipped_consistency().logits([EVIDENCE, EVIDENCE], [supported, changed])
    assert faithful > unfaithful


def test_a_changed_weights_file_is_refused_with_a_readable_message(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(MODEL_DIR, copy)
    weights = copy / CONSISTENCY_FILES.weights
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ConfigurationError, match="consistency model .* differs from the one recorded"):
        ConsistencyModel(copy).logits(["evidence"], ["claim"])
    (copy / CONSISTENCY_FILES.manifest).unlink()
    with pytest.raises(ConfigurationError, match="manifest"):
        ConsistencyModel(copy).warm_up()


@pytest.mark.slow
@pytest.mark.skipif(not SQUAD.is_file(), reason="../shared/data is not beside the repository")
def test_the_training_script_is_reproducible_on_a_tiny_subset() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench/train_consistency.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"reproducible": true' in done.stdout


def test_the_checker_reads_a_statement_with_the_consistency_model(embedder: object) -> None:
    """The consistency signal is the model's logit for a statement against its best span,
    0 ("no opinion") for a short answer; a statement whose negation was dropped is
    flagged, its faithful twin passes."""
    from attest.verify.checker import FactChecker

    passage = (
        "Laptops are issued on the first day. Contractors are not required to complete the "
        "security training before they receive a laptop, but employees are."
    )
    checker = FactChecker(embedder)  # type: ignore[arg-type]

    def claim(text: str) -> tuple[bool, float]:
        verdict = checker.check(text, [(1, passage)])
        return verdict.claims[0].supported, verdict.claims[0].signals["consistency"]

    faithful = claim(
        "Contractors are not required to complete the security training before they receive a laptop."
    )
    flipped = claim(
        "Contractors are required to complete the security training before they receive a laptop."
    )
    assert faithful[0] and faithful[1] > 0
    assert not flipped[0] and flipped[1] < 0
    assert claim("On the first day.")[1] == 0.0  # too short to be a statement


def test_settling_skips_only_claims_the_model_could_not_change(embedder: object) -> None:
    """With ``settle`` (the answering service's checker) a claim the word signals already
    decide is not read by the consistency model, and every decision (supported, wrong
    citations, better source) is the full check's; a dropped negation is still read."""
    from attest.verify.checker import FactChecker

    passages = [
        (
            1,
            "Laptops are issued on the first day. Contractors are not required to complete the "
            "security training before they receive a laptop, but employees are.",
        ),
        (
            2,
            "The cafeteria serves lunch from noon until two. Vegetarian dishes are marked in green "
            "on the daily menu board.",
        ),
    ]
    answer = (
        "Contractors are required to complete the security training before they receive a laptop. [1] "
        "Vegetarian dishes are marked in green on the menu board. [1] "
        "Volcanic eruptions in Iceland disrupted European air traffic for several weeks. [2]"
    )
    read = []

    class Counting:
        def __init__(self, model: object) -> None:
            self.model = model

        def logits(self, evidence: list[str], claims: list[str]) -> object:
            read.extend(claims)
            return self.model.logits(evidence, claims)  # type: ignore[attr-defined]

    full = FactChecker(embedder).check(answer, passages)  # type: ignore[arg-type]
    settling = FactChecker(embedder, consistency=Counting(shipped_consistency()), settle=True)  # type: ignore[arg-type]
    settled = settling.check(answer, passages)

    def decisions(verdict: object) -> list[tuple[bool, tuple[int, ...], int | None]]:
        return [(c.supported, c.wrong_citations, c.better_source) for c in verdict.claims]  # type: ignore[attr-defined]

    assert decisions(settled) == decisions(full)
    assert decisions(full) == [(False, (1,), None), (True, (1,), 2), (False, (2,), None)]
    assert read[0].startswith("Contractors are required")  # the flipped negation is read
    assert not any(claim.startswith("Volcanic") for claim in read)  # nothing in the passages: settled
    assert settled.claims[2].signals["consistency"] == -8.0
