"""``attest eval qa``: ask SQuAD 2.0 questions through the answering service and score the answers.

Exact match and F1 use the official SQuAD normalisation (lower case, no punctuation, no
articles ``a an the``, single spaces) and take the best gold answer. "Contains gold" is
whether a normalised gold answer appears inside the normalised answer, the fairer measure
for a generator that answers in sentences. Unanswerable questions count as handled when
Attest declines. Citation precision is the share of cited passages that contain a gold
answer, over answerable questions.
"""

from __future__ import annotations

import random
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from attest.retrieval.evaluation import latency_percentiles

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_CITATION = re.compile(r"\s*\[\d+(?:\s*[,-]\s*\d+)*\]")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """The official SQuAD normalisation, after removing citation marks such as ``[2]``."""
    text = _CITATION.sub("", text)
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def f1(prediction: str, golds: Sequence[str]) -> float:
    """Best token F1 of ``prediction`` against any gold answer."""
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        expected = normalize_answer(gold).split()
        common = sum((Counter(predicted) & Counter(expected)).values())
        if common:
            precision, recall = common / len(predicted), common / len(expected)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_gold(prediction: str, golds: Sequence[str]) -> bool:
    answer = f" {normalize_answer(prediction)} "
    return any(f" {normalize_answer(g)} " in answer for g in golds if normalize_answer(g))


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: tuple[str, ...]  # empty for unanswerable questions
    paragraph_id: str  # the corpus id of its paragraph (see ``squad_to_beir``)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def squad_questions(squad: dict[str, Any]) -> list[SquadQuestion]:
    """Every question of a SQuAD 2.0 file, with its paragraph's corpus id."""
    questions = []
    for a, article in enumerate(squad["data"]):
        for p, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                golds = tuple(dict.fromkeys(ans["text"] for ans in qa.get("answers", [])))
                questions.append(SquadQuestion(qa["id"], qa["question"], golds, f"{a}-{p}"))
    return questions


def sample(questions: Sequence[SquadQuestion], limit: int | None, seed: int = 13) -> list[SquadQuestion]:
    """A fixed random sample (the same for every backend and run)."""
    chosen = list(questions)
    random.Random(seed).shuffle(chosen)
    return chosen if limit is None else chosen[:limit]


@dataclass(frozen=True)
class Outcome:
    """One question's answer, reduced to what the report needs."""

    question: SquadQuestion
    text: str
    answered: bool
    cited_texts: tuple[str, ...]
    timings_ms: dict[str, float]


def report(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    """The stable ``attest eval qa --json`` object."""
    outcomes = list(outcomes)
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    cited = [(o, t) for o in answerable for t in o.cited_texts]
    return {
        "answerable": {
            "n": len(answerable),
            "exact_match": _mean(
                exact_match(o.text, o.question.answers) if o.answered else 0.0 for o in answerable
            ),
            "f1": _mean(f1(o.text, o.question.answers) if o.answered else 0.0 for o in answerable),
            "contains_gold": _mean(
                o.answered and contains_gold(o.text, o.question.answers) for o in answerable
            ),
            "answered": _mean(o.answered for o in answerable),
        },
        "unanswerable": {"n": len(unanswerable), "declined": _mean(not o.answered for o in unanswerable)},
        "citation_precision": _mean(contains_gold(text, o.question.answers) for o, text in cited),
        "latency_ms": _latency(outcomes),
    }


def _latency(outcomes: list[Outcome]) -> dict[str, dict[str, float]]:
    """Percentiles per stage, and of the total, in milliseconds."""
    if not outcomes:
        return {}
    stages = sorted({stage for o in outcomes for stage in o.timings_ms})
    latency = {
        stage: latency_percentiles([o.timings_ms[stage] for o in outcomes if stage in o.timings_ms])
        for stage in stages
    }
    latency["total"] = latency_percentiles([sum(o.timings_ms.values()) for o in outcomes])
    return latency


def _mean(values: Iterable[float | bool]) -> float:
    values = [float(v) for v in values]
    return round(sum(values) / len(values), 4) if values else 0.0
