"""The consistency model: the probability that an evidence span supports a claim.

A FactCC-style classifier (Kryscinski et al., 2020, "Evaluating the Factual Consistency
of Abstractive Text Summarization"): a six-layer MiniLM cross-encoder that reads
(evidence, claim) and gives one logit. ``bench/train_consistency.py`` fine-tunes it from
the shipped all-MiniLM-L6-v2 weights on synthetic claims made from public text: real
sentences (supported) and the same sentences with an entity, number, date, negation or
pronoun changed, or a sentence of another passage (unsupported). Its files sit in
``model/`` beside this module and load like the reader's (:class:`~attest.reader.model.PairModel`):
hash-checked, the frozen word embeddings and tokenizer read from the base package.

The checker reads its logit as one signal among the others (``consistency`` in
:mod:`attest.verify.signals`); the support model weighs it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from attest.reader.model import ModelFiles, PairModel

MODEL_DIR = Path(__file__).with_name("model")
CONSISTENCY_FILES = ModelFiles("consistency", "the consistency model", "bench/train_consistency.py")


class ConsistencyModel(PairModel):
    """Scores (evidence, claim) pairs."""

    FILES = CONSISTENCY_FILES
    DIR = MODEL_DIR
    MAX_TOKENS = 192  # evidence and claim together, as in training; the longer side is cut

    def logits(self, evidence: Sequence[str], claims: Sequence[str]) -> np.ndarray:
        """The logit that ``evidence[i]`` supports ``claims[i]``, for each i."""
        return self.pair_logits(evidence, claims)


@cache
def shipped_consistency() -> ConsistencyModel:
    """The shipped consistency model, one per process (loaded on first use)."""
    from attest.core.settings import get_settings

    return ConsistencyModel(precision=get_settings().model_precision)


def slice_scores(model: ConsistencyModel, path: Path) -> dict[str, float]:
    """The model on a fixed slice of ``{"evidence", "claim", "label"}`` lines: its ROC AUC
    and its accuracy at probability 0.5."""
    from sklearn.metrics import roc_auc_score

    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    logits = model.logits([r["evidence"] for r in rows], [r["claim"] for r in rows])
    labels = np.asarray([int(r["label"]) for r in rows])
    return {
        "roc_auc": round(float(roc_auc_score(labels, logits)), 4),
        "accuracy": round(float(np.mean((logits >= 0) == labels)), 4),
    }
