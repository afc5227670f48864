"""The signals the answer model weighs for each answer unit, besides the reader's own score.

The reader (a cross-encoder) judges meaning; these cheap signals, which any grounded
English text has, correct it where it is unsure (:data:`FEATURES`):

* ``reader``: the reader's logit for (question, unit);
* ``reader_gap``: how far the unit is behind the question's best unit on it (0 for the best);
* ``similarity`` / ``similarity_gap``: the cosine of the unit's and the question's
  embeddings (the retrieval model's), and how far it is behind the best unit's;
* ``coverage``: the share of the question's content words the unit contains, each word
  weighted by how rare it is among the candidate units;
* ``passage_coverage``: the same for the unit's whole passage (a sentence often answers
  with a pronoun what the sentence before it named);
* ``passage_rank``: 1 / the passage's number (passages come best first);
* ``number_found`` / ``number_missing``: the question asks for a number or a date ("how
  many", "when", "what year") and the unit has, or lacks, one the question does not;
* ``coverage_gap``: how far the unit is behind the best unit on coverage.

For a conversation's standalone query ("earlier question? follow-up?") the follow-up's own
words weigh :data:`LAST_QUESTION_WEIGHT`: it says what is asked.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from attest.text.words import content_words, numbers

FEATURES = (
    "reader",
    "reader_gap",
    "similarity",
    "similarity_gap",
    "coverage",
    "passage_coverage",
    "passage_rank",
    "number_found",
    "number_missing",
    "coverage_gap",
)
_QUESTION_END = re.compile(r"(?<=\?)\s+")
LAST_QUESTION_WEIGHT = 0.7
_ASKS_NUMBER = re.compile(
    r"\b(?:how (?:many|much|long|old|far|big|large|tall|high|often|fast|deep|wide)|when"
    r"|what (?:year|decade|century|date|day|month|time|age|percentage|percent|number|amount)"
    r"|which (?:year|decade|century|date|day|month))\b",
    re.IGNORECASE,
)
_NUMBER_WORDS_TEXT = """
one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty
hundred thousand million billion trillion dozen half quarter first second third
january february march april june july august september october november december
"""  # "may" left out: it is far more often the verb
_NUMBER_WORDS = frozenset(_NUMBER_WORDS_TEXT.split())


def features(
    question: str,
    units: Sequence[str],
    numbers_of_passages: Sequence[int],
    passages: Sequence[tuple[int, str]],
    logits: np.ndarray,
    similarity: np.ndarray,
) -> np.ndarray:
    """One row of :data:`FEATURES` per unit; ``numbers_of_passages`` holds each unit's
    passage number, ``passages`` every ``(number, text)``."""
    if not len(units):
        return np.zeros((0, len(FEATURES)))
    logits = np.asarray(logits, dtype=float)
    similarity = np.asarray(similarity, dtype=float)
    coverage = _blend(question, lambda asked: _coverages(asked, units))
    texts = dict(passages)
    order = list(texts)
    covered = dict(
        zip(order, _blend(question, lambda asked: _coverages(asked, [texts[n] for n in order])), strict=True)
    )
    asks_number = bool(_ASKS_NUMBER.search(_QUESTION_END.split(question.strip())[-1]))
    question_numbers = numbers(question)
    new_number_words = _NUMBER_WORDS - {w.lower() for w in re.findall(r"\w+", question)}
    has_number = np.asarray(
        [
            bool(numbers(unit) - question_numbers)
            or bool({w.lower() for w in re.findall(r"\w+", unit)} & new_number_words)
            for unit in units
        ]
    )
    columns = [
        logits,
        logits - logits.max(),
        similarity,
        similarity - similarity.max(),
        coverage,
        np.asarray([covered[n] for n in numbers_of_passages]),
        np.asarray([1.0 / n for n in numbers_of_passages]),
        asks_number & has_number,
        asks_number & ~has_number,
        coverage - coverage.max(),
    ]
    return np.column_stack([np.asarray(c, dtype=float) for c in columns])


def question_vector(embed: Callable[[list[str]], np.ndarray], question: str) -> np.ndarray:
    """The question's embedding; for "earlier question? follow-up?" the follow-up's own
    embedding weighs :data:`LAST_QUESTION_WEIGHT`."""
    whole = embed([question])[0]
    questions = _QUESTION_END.split(question.strip())
    if len(questions) == 1:
        return np.asarray(whole)
    return LAST_QUESTION_WEIGHT * embed([questions[-1]])[0] + (1 - LAST_QUESTION_WEIGHT) * whole


def _blend(question: str, score: Callable[[str], list[float]]) -> np.ndarray:
    """``score`` of the question; for "earlier question? follow-up?", the follow-up's score
    weighs :data:`LAST_QUESTION_WEIGHT` and the whole query's the rest."""
    whole = np.asarray(score(question), dtype=float)
    questions = _QUESTION_END.split(question.strip())
    if len(questions) == 1:
        return whole
    last = np.asarray(score(questions[-1]), dtype=float)
    return LAST_QUESTION_WEIGHT * last + (1 - LAST_QUESTION_WEIGHT) * whole


def _coverages(question: str, texts: Sequence[str]) -> list[float]:
    """For each of ``texts``, the share of the question's content words it contains, each word
    weighted by its rarity among ``texts`` (0 when the question has none)."""
    frequency = Counter(w for text in texts for w in content_words(text))
    weights = {w: math.log((len(texts) + 1) / (frequency[w] + 0.5)) for w in content_words(question)}
    total = sum(weights.values())
    if total <= 0:
        return [0.0] * len(texts)
    return [sum(weights[w] for w in weights.keys() & content_words(text)) / total for text in texts]
