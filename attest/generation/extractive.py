"""The extractive backend: no model, the answer is the passages' best sentences, cited.

Every sentence of the packed passages is a candidate. A small logistic model scores each
one from signals that any grounded English text has (:data:`FEATURES`):

* ``similarity``: cosine between the question's and the sentence's embeddings;
* ``coverage``: the share of the question's content words the sentence contains, each
  word weighted by how rare it is among the candidate sentences;
* ``passage_coverage``: the same for the sentence's whole passage (a sentence often
  answers with a pronoun what the sentence before it named);
* ``passage_rank``: 1 / the passage's number (passages come best first);
* ``number_found`` / ``number_missing``: the question asks for a number or a date ("how
  many", "when", "what year") and the sentence has, or lacks, one the question does not;
* ``similarity_gap`` / ``coverage_gap``: how far the sentence is behind the question's best
  candidate on each (0 for the best), so that scores compare within a question.

The weights live in ``extractive_weights.json``, written by
``bench/calibrate_extractive.py`` from SQuAD 2.0 dev (one half of its articles; the other
half is held out and reported). The best sentence is the answer; the second best joins it
when its probability is within the shipped margin. The backend is also the fallback when
the configured LLM fails.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from attest.core import logistic
from attest.core.errors import ConfigurationError
from attest.generation.citations import quote
from attest.generation.prompts import NOT_FOUND
from attest.ingest.embedder import Embedder
from attest.retrieval.context import Context
from attest.verify.signals import content_words, numbers

WEIGHTS = Path(__file__).with_name("extractive_weights.json")
FEATURES = (
    "similarity",
    "coverage",
    "passage_coverage",
    "passage_rank",
    "number_found",
    "number_missing",
    "similarity_gap",
    "coverage_gap",
)
# A sentence ends at . ! ? before whitespace, or at a blank line; single line breaks inside
# a paragraph (hard-wrapped text) do not end it.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
MIN_WORDS = 4
# A conversation's standalone query is "earlier question? follow-up?": the follow-up says what
# is asked, the earlier question what it is about, so the follow-up weighs more.
_QUESTION_END = re.compile(r"(?<=\?)\s+")
LAST_QUESTION_WEIGHT = 0.7
# Only the sentences sharing most content words with the question are embedded: embedding
# every sentence of eight long passages took up to 2 s on two cores.
MAX_EMBEDDED = 24
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


@dataclass(frozen=True)
class Candidate:
    """One sentence of a passage."""

    number: int  # the passage's citation number (1 = best retrieved)
    text: str  # whitespace collapsed
    passage_coverage: float = 0.0


@dataclass(frozen=True)
class SentenceModel:
    """P(sentence answers the question | features), and the margin for a second sentence."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    second_within: float  # a second sentence joins when its probability is this close to the best
    features: tuple[str, ...] = FEATURES
    about: dict[str, Any] = field(default_factory=dict)  # how the weights were made

    def __post_init__(self) -> None:
        if tuple(self.features) != FEATURES:
            raise ConfigurationError(
                f"the extractive weights are for features {list(self.features)}, this version computes "
                f"{list(FEATURES)}; re-run bench/calibrate_extractive.py"
            )
        if not len(self.mean) == len(self.scale) == len(self.coef) == len(FEATURES):
            raise ConfigurationError("the extractive weights have the wrong number of values")

    def probability(self, x: np.ndarray) -> np.ndarray:
        return logistic.probability(x, self.mean, self.scale, self.coef, self.intercept)

    def save(self, path: Path = WEIGHTS) -> None:
        path.write_text(json.dumps(asdict(self) | {"features": list(self.features)}, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> SentenceModel:
        try:
            data = json.loads(path.read_text())
            values = {name: tuple(data[name]) for name in ("mean", "scale", "coef", "features")}
            intercept, second_within = float(data["intercept"]), float(data["second_within"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"cannot read the extractive weights {path}: {exc}; re-run bench/calibrate_extractive.py"
            ) from exc
        if not (math.isfinite(intercept) and 0.0 <= second_within <= 1.0):
            raise ConfigurationError(f"the extractive weights {path} have an invalid intercept or margin")
        return cls(**values, intercept=intercept, second_within=second_within, about=data.get("about", {}))


@cache
def shipped_model() -> SentenceModel:
    return SentenceModel.load()


class ExtractiveGenerator:
    """Answers with the one or two passage sentences most likely to answer the question."""

    name = "extractive"

    def __init__(self, embedder: Embedder, model: SentenceModel | None = None) -> None:
        self.embedder = embedder
        self.model = model or shipped_model()

    @staticmethod
    def count_tokens(text: str) -> int:
        return len(text.split())

    def answer(self, context: Context, question: str) -> str:
        """The best sentences, each with its ``[n]``; ``NOT_FOUND`` when there are none.

        A sentence's own bracketed numbers (a footnote's ``[2]``) are quoted as text, so that
        only the ``[n]`` placed here cites a passage.
        """
        candidates = shortlist(candidates_of(context, question), question)
        if not candidates:
            return NOT_FOUND
        chosen = self.choose(features(question, candidates, similarity(self.embedder, question, candidates)))
        return " ".join(f"{quote(candidates[i].text)} [{candidates[i].number}]" for i in chosen)

    def choose(self, x: np.ndarray) -> list[int]:
        """Indexes of the chosen candidates (rows of ``x``), in passage order."""
        scores = self.model.probability(x)
        order = np.argsort(-scores, kind="stable")
        chosen = [int(order[0])]
        if len(order) > 1 and scores[order[1]] >= scores[order[0]] - self.model.second_within:
            chosen.append(int(order[1]))
        return sorted(chosen)

    def stream(self, context: Context, question: str, max_tokens: int) -> Iterator[str]:
        """The whole answer as one piece (there is nothing to stream)."""
        yield self.answer(context, question)


def candidates_of(context: Context, question: str) -> list[Candidate]:
    """Every sentence of at least :data:`MIN_WORDS` words, in passage order."""
    passages = [p.text for p in context.passages]
    covered = _blend(question, lambda asked: _coverages(asked, passages))
    return [
        Candidate(passage.number, " ".join(sentence.split()), float(coverage))
        for passage, coverage in zip(context.passages, covered, strict=True)
        for sentence in _SENTENCE_END.split(passage.text)
        if len(sentence.split()) >= MIN_WORDS
    ]


def similarity(embedder: Embedder, question: str, candidates: Sequence[Candidate]) -> np.ndarray:
    """Cosine of each candidate with the question (a follow-up's last question weighs most)."""
    vectors = embedder.embed([question, *(c.text for c in candidates)])
    target = vectors[0]
    questions = _QUESTION_END.split(question.strip())
    if len(questions) > 1:
        last = embedder.embed([questions[-1]])[0]
        target = LAST_QUESTION_WEIGHT * last + (1 - LAST_QUESTION_WEIGHT) * target
    return vectors[1:] @ target


def shortlist(candidates: list[Candidate], question: str) -> list[Candidate]:
    """The :data:`MAX_EMBEDDED` candidates sharing most content words with ``question``, in order."""
    if len(candidates) <= MAX_EMBEDDED:
        return candidates
    asked = content_words(question)
    overlap = [len(asked & content_words(c.text)) for c in candidates]
    keep = sorted(sorted(range(len(candidates)), key=lambda i: -overlap[i])[:MAX_EMBEDDED])
    return [candidates[i] for i in keep]


def features(question: str, candidates: Sequence[Candidate], similarity: np.ndarray) -> np.ndarray:
    """One row of :data:`FEATURES` per candidate."""
    if not candidates:
        return np.zeros((0, len(FEATURES)))
    texts = [c.text for c in candidates]
    coverage = _blend(question, lambda asked: _coverages(asked, texts))
    asks_number = bool(_ASKS_NUMBER.search(_QUESTION_END.split(question.strip())[-1]))
    question_numbers = numbers(question)
    new_number_words = _NUMBER_WORDS - {w.lower() for w in re.findall(r"\w+", question)}
    has_number = np.asarray(
        [
            bool(numbers(c.text) - question_numbers)
            or bool({w.lower() for w in re.findall(r"\w+", c.text)} & new_number_words)
            for c in candidates
        ]
    )
    similarity = np.asarray(similarity, dtype=float)
    columns = [
        similarity,
        coverage,
        np.asarray([c.passage_coverage for c in candidates]),
        np.asarray([1.0 / c.number for c in candidates]),
        asks_number & has_number,
        asks_number & ~has_number,
        similarity - similarity.max(),
        coverage - coverage.max(),
    ]
    return np.column_stack([np.asarray(c, dtype=float) for c in columns])


def _blend(question: str, score: Callable[[str], list[float]]) -> np.ndarray:
    """``score`` of the question; for a conversation's "earlier question? follow-up?", the
    follow-up's score weighs :data:`LAST_QUESTION_WEIGHT` and the whole query's the rest."""
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
