"""The extractive backend: a lexical shortlist of sentences, scored by the shipped sentence model,
whose weights the calibration script reproduces."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attest.core.errors import ConfigurationError
from attest.generation.citations import validate
from attest.generation.extractive import (
    FEATURES,
    MAX_EMBEDDED,
    WEIGHTS,
    Candidate,
    ExtractiveGenerator,
    SentenceModel,
    features,
    shipped_model,
    shortlist,
)
from attest.ingest.embedder import Embedder
from attest.retrieval.context import Context, build_context

ROOT = Path(__file__).resolve().parents[2]
SQUAD = ROOT.parent / "shared/data/squad-v2-dev/dev-v2.0.json"
LEAVE = "How many days of annual leave do full-time employees get?"


@dataclass(frozen=True)
class Hit:
    chunk: dict[str, Any]
    score: float


def column(name: str) -> int:
    return FEATURES.index(name)


@pytest.mark.unit
def test_the_shortlist_keeps_the_sentences_that_share_words_with_the_question_in_order() -> None:
    filler = [Candidate(1, f"Filler sentence number {i} about the office kitchen rota.") for i in range(40)]
    answer = Candidate(2, "Full-time employees receive 27 days of annual leave each year.")
    also = Candidate(3, "Annual leave requests go through the HR portal.")
    candidates = [*filler[:20], answer, *filler[20:], also]
    kept = shortlist(candidates, LEAVE)
    assert len(kept) == MAX_EMBEDDED and answer in kept and also in kept
    assert kept == [c for c in candidates if c in kept]  # passage order is kept


@pytest.mark.unit
def test_short_lists_are_left_alone() -> None:
    candidates = [Candidate(1, "One sentence here."), Candidate(2, "Another sentence there.")]
    assert shortlist(candidates, "anything?") == candidates


@pytest.mark.unit
def test_a_question_asking_for_a_number_prefers_a_sentence_that_has_one() -> None:
    with_number = Candidate(1, "Full-time employees receive 27 days of annual leave.")
    without = Candidate(1, "Full-time employees receive annual leave.")
    x = features(LEAVE, [with_number, without], np.array([0.5, 0.5]))
    assert x[0, column("number_found")] == 1 and x[0, column("number_missing")] == 0
    assert x[1, column("number_found")] == 0 and x[1, column("number_missing")] == 1
    model = shipped_model()
    assert model.probability(x)[0] > model.probability(x)[1]


@pytest.mark.unit
def test_a_number_the_question_already_gives_is_not_an_answer() -> None:
    repeats = Candidate(1, "The 2019 policy covers annual leave.")
    x = features("When was the 2019 policy on annual leave replaced?", [repeats], np.array([0.5]))
    assert x[0, column("number_missing")] == 1


@pytest.mark.unit
def test_coverage_weighs_the_rare_question_words_more() -> None:
    """'leave' is in two of the three candidates, 'contractors' in one: the rare word counts more."""
    rare = Candidate(1, "Contractors are paid monthly and arrange their own time off.")
    common = Candidate(2, "Leave must be approved by a manager before it is taken.")
    other = Candidate(3, "Annual leave is booked in the HR portal.")
    x = features("How much leave do contractors get?", [rare, common, other], np.zeros(3))
    assert x[0, column("coverage")] > x[1, column("coverage")] > 0


@pytest.mark.unit
def test_the_better_passage_ranks_higher() -> None:
    x = features(LEAVE, [Candidate(1, "Same words here."), Candidate(4, "Same words here.")], np.zeros(2))
    assert x[0, column("passage_rank")] == 1.0 and x[1, column("passage_rank")] == 0.25


def model(second_within: float) -> SentenceModel:
    """P = sigmoid(10 * similarity - 5): only the similarity counts."""
    coef = tuple(10.0 if name == "similarity" else 0.0 for name in FEATURES)
    zeros, ones = (0.0,) * len(FEATURES), (1.0,) * len(FEATURES)
    return SentenceModel(zeros, ones, coef, -5.0, second_within=second_within)


@pytest.mark.unit
def test_a_second_sentence_joins_only_within_the_margin() -> None:
    x = np.zeros((3, len(FEATURES)))
    x[:, column("similarity")] = [0.85, 0.1, 0.9]  # P 0.971, 0.018, 0.982
    assert ExtractiveGenerator(None, model(0.1)).choose(x) == [0, 2]  # type: ignore[arg-type]
    assert ExtractiveGenerator(None, model(0.005)).choose(x) == [2]  # type: ignore[arg-type]


@pytest.mark.unit
def test_a_broken_weights_file_says_how_to_fix_it(tmp_path: Path) -> None:
    broken = tmp_path / "weights.json"
    broken.write_text('{"mean": [1]}')
    with pytest.raises(ConfigurationError, match="calibrate_extractive.py"):
        SentenceModel.load(broken)


@pytest.mark.unit
def test_weights_for_other_features_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="re-run bench/calibrate_extractive.py"):
        replace(shipped_model(), features=("similarity", "coverage"))


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.skipif(not SQUAD.is_file(), reason="../shared/data is not beside the repository")
def test_the_calibration_script_reproduces_the_shipped_weights() -> None:
    before = WEIGHTS.read_text()
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench/calibrate_extractive.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "reproduced" in done.stderr and WEIGHTS.read_text() == before


def footnoted_context(*texts: str) -> Context:
    """One passage per text, numbered in order."""
    hits = [Hit(chunk(n, text), 1.0 - n / 10) for n, text in enumerate(texts, start=1)]
    return build_context(hits, 10_000, lambda s: len(s.split()))


def chunk(n: int, text: str) -> dict[str, Any]:
    return {
        "chunk_id": n, "document_id": n, "position": 0, "text": text, "char_start": 0, "char_end": len(text),
        "token_start": 0, "token_end": 0, "page": None, "entities": [], "title": f"Document {n}",
        "source_uri": f"{n}.txt", "acl": [], "tags": [],
    }  # fmt: skip


@pytest.mark.integration
def test_a_bracketed_number_in_a_copied_sentence_is_not_a_citation(embedder: Embedder) -> None:
    """The leave sentence carries the document's own footnote ``[2]``; passage 2 is about travel."""
    context = footnoted_context(
        "Full-time employees receive 27 days of annual leave each year [2]. The office kitchen is cleaned "
        "on Fridays by the facilities team.",
        "Travel is booked through the travel portal. Economy class is the default for short flights.",
    )
    answer = ExtractiveGenerator(embedder).answer(context, LEAVE)
    checked = validate(answer, context)
    assert "27 days of annual leave each year [2]. [1]" in checked.text.replace("\u2060", "")
    assert (checked.cited_passages, checked.invalid_citations) == ((1,), ())
    alone = footnoted_context(context.passages[0].text)  # no passage 2: the footnote is not made up either
    checked = validate(ExtractiveGenerator(embedder).answer(alone, LEAVE), alone)
    assert checked.invalid_citations == () and "each year [\u20602]." in checked.text
