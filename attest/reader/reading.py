"""Reading the retrieved passages: which of their answer units answer the question.

Each shortlisted unit (:mod:`attest.text.units`) gets the reader's logit, and the answer
model, a logistic regression over that logit and a few cheap signals
(:mod:`attest.reader.features`), turns it into P(the unit answers the question). One
:func:`read` per answer serves three decisions, with the weights and thresholds in
``calibration.json`` fitted by ``bench/calibrate_reader.py`` on the tuning half of SQuAD
2.0 dev (on paragraphs the reader was not trained on):

* **decline** when no unit reaches ``decline``, or the reader alone gives no unit
  ``decline_reader`` (:meth:`AnswerModel.declines`): the documents do not hold the answer,
  whichever backend would have written it;
* **answer** (the extractive backend) with the best unit and every other one reaching
  ``answer``, up to ``cap``, in passage order; a two-part question's parts are also read
  each as a question of its own, so that each gets its unit;
* **relevant**: the verdict's check that an answer, whatever wrote it, answers the
  question: the reader's own probability for (question, answer) against ``relevant``.

Only the units sharing most content words with the question are read (:data:`SHORTLIST`):
the cross-encoder costs a forward pass per unit.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from attest.core.logistic import CalibratedLogistic
from attest.reader.features import FEATURES, features, question_vector
from attest.text.units import Unit, answer_units
from attest.text.words import content_words, spell_out

CALIBRATION = Path(__file__).with_name("calibration.json")
SHORTLIST = 24


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class Scorer(Protocol):
    def logits(self, question: str, texts: Sequence[str]) -> np.ndarray: ...


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(logits, dtype=float), -50, 50)))


@dataclass(frozen=True)
class Candidate:
    """An answer unit of a passage, and the probability that it answers."""

    number: int  # the passage's citation number
    unit: Unit
    score: float  # the answer model's probability
    reader: float  # the reader's own probability


@dataclass(frozen=True)
class Reading:
    """The shortlisted units of the passages, scored, in passage order."""

    candidates: tuple[Candidate, ...]

    @property
    def best(self) -> float:
        return max((c.score for c in self.candidates), default=0.0)

    @property
    def best_reader(self) -> float:
        """The reader's own best probability, whatever the answer model makes of it."""
        return max((c.reader for c in self.candidates), default=0.0)

    def merged(self, other: Reading) -> Reading:
        """Each unit of either reading, with its better score of the two, in passage order."""
        kept: dict[tuple[int, int], Candidate] = {}
        for candidate in (*self.candidates, *other.candidates):
            place = _place(candidate)
            if place not in kept or candidate.score > kept[place].score:
                kept[place] = candidate
        return Reading(tuple(kept[place] for place in sorted(kept)))

    def answer(
        self,
        threshold: float,
        cap: int,
        parts: Sequence[Reading] = (),
        floor: float = 1.0,
        relative: float = 0.0,
    ) -> list[Candidate]:
        """The units scoring at least ``threshold`` and at least ``relative`` times the best
        unit's score (the best one always), at most ``cap``, in passage order. The
        relative bar keeps an answer short when its best unit is clearly the answer, and
        lets it quote the next candidates when the best is unsure.

        For a question of several parts, ``parts`` holds each part's own reading
        (:func:`question_parts`), and each part first gets a unit of its own: its best unit
        that no other part took, if that unit may answer it (scores at least ``floor``, the
        decline threshold). Parts choose in the order of their best score. A two-part
        question asks two things, and the unit that answers one part often outscores the
        other part's unit for that part too ("How do I request parental leave and how long
        is it?": the request sentence names a time as well). The whole question's best unit
        joins them only if it too reaches ``floor``: a question is answered when one of its
        parts is (:meth:`AnswerModel.declines`), and then the whole question's best may be
        no answer at all."""
        if not self.candidates:
            return []
        ranked = sorted(self.candidates, key=lambda c: -c.score)
        own = self._units_of_parts(parts, floor) if len(parts) > 1 else []
        chosen: dict[tuple[int, int], Candidate] = {}
        bar = max(threshold, relative * ranked[0].score)
        # the whole question's best unit, unless only the parts' own units may answer
        best = [ranked[0]] if not own or ranked[0].score >= floor else []
        for candidate in (*own, *best, *(c for c in ranked[1:] if c.score >= bar)):
            if len(chosen) < cap:
                chosen.setdefault(_place(candidate), candidate)
        by_place = {_place(c): c for c in self.candidates}  # the whole question's scores
        return sorted((by_place.get(p, c) for p, c in chosen.items()), key=_place)

    @staticmethod
    def _units_of_parts(parts: Sequence[Reading], floor: float) -> list[Candidate]:
        """Each part's own unit (see :meth:`answer`), best part first."""
        own: list[Candidate] = []
        for part in sorted(parts, key=lambda r: -r.best):
            taken = {_place(c) for c in own}
            best = max(
                (c for c in part.candidates if _place(c) not in taken), key=lambda c: c.score, default=None
            )
            if best and best.score >= floor:
                own.append(best)
        return own


def _place(candidate: Candidate) -> tuple[int, int]:
    """Where a unit is: its passage's number and its offset there (the same in every reading)."""
    return candidate.number, candidate.unit.start


_WH = r"(?:how|what|when|where|who|whom|whose|which|why)\b"
_ASKING = re.compile(rf"{_WH}|(?:is|are|do|does|did|can|could|should|must|will|would)\b", re.I)
_PART_BREAK = re.compile(rf"(?:,\s*|\s+)(?:and|or)\s+(?={_WH})", re.I)
_QUESTION_END = re.compile(r"(?<=\?)\s+(?=\S)")
_PRONOUN = re.compile(r"\b(?:[Ii]t|[Tt]hey|[Tt]hem)\b")  # not "IT", the department
_TOKEN = re.compile(r"[\w$%'-]+")
_AUXILIARIES = frozenset(
    {"do", "does", "did", "can", "could", "should", "must", "will", "would", "may", "might", "shall"}
)
_COPULAS = frozenset({"is", "are", "was", "were"})
_SUBJECTS = frozenset({"i", "we", "you", "they", "he", "she"})
_DETERMINERS = frozenset({"the", "a", "an", "my", "our", "your", "their", "its", "this", "that"})
_QUANTITIES = frozenset({"much", "many", "long", "often", "big", "old", "far", "large", "soon"})
_BE_OR_HAVE = frozenset({"be", "been", "being", "have", "has", "had", "get"})


def question_parts(question: str) -> list[str]:
    """Each part of a question as a question of its own. A question is cut after a question
    mark, and where "and" or "or" meets a question word in a question that itself opens with
    one (not in "Ctenophores, cnidarians and what other group ...?"). A part that refers back
    with "it", "they" or "them" gets what the part before it asks about instead ("How do I
    request parental leave and how long is it?": "How do I request parental leave", "how
    long is parental leave?"); the reader cannot read "it" alone."""
    sentences = _QUESTION_END.split(question.strip())
    pieces = [
        piece.strip()
        for sentence in sentences
        for piece in (_PART_BREAK.split(sentence) if _ASKING.match(sentence) else [sentence])
    ]
    parts = pieces[:1]
    for previous, piece in zip(pieces, pieces[1:], strict=False):
        topic = subject_of(previous)
        parts.append(_PRONOUN.sub(topic, piece, count=1) if topic else piece)
    return [part for part in parts if content_words(part)]


def subject_of(question: str) -> str:
    """What a question asks about, by the shape of an English question: "How do I request
    parental leave?" → "parental leave"; "What is the password policy?" → "password
    policy"; "Who approves travel requests?" → "travel requests"; "Can a packet be sent
    empty?" → "packet". Empty when nothing is left."""
    words = _TOKEN.findall(question)
    if words and re.fullmatch(_WH, words[0], re.I):
        words = words[1:]
        if words and words[0].lower() in _QUANTITIES:
            words = words[1:]
    if not words:
        return ""
    first = words[0].lower()
    if first in _AUXILIARIES:
        words = words[1:]
        if words and words[0].lower() in _SUBJECTS:
            words = words[2:]  # the subject and its verb: what follows is asked about
        else:
            cut = next((i for i, w in enumerate(words) if w.lower() in _BE_OR_HAVE), None)
            words = words[:cut] if cut is not None else words[:-1]  # the verb ends the question
    elif first in _COPULAS or first not in _SUBJECTS:
        words = words[1:]  # "is", or the verb of "Who approves ...?"
    while words and words[0].lower() in _DETERMINERS:
        words = words[1:]
    return " ".join(words)


@dataclass(frozen=True)
class AnswerModel(CalibratedLogistic):
    """The answer model's weights and the calibrated decision points."""

    decline: float  # below this best unit probability, the passages do not answer
    answer: float  # units at or above this join the extractive answer
    relevant: float  # an answer the reader scores below this does not answer the question
    cap: int = 3  # most units in an extractive answer
    relative: float = 0.0  # ... if they also score at least this share of the best unit's score
    decline_reader: float = 0.0  # ... or when the reader itself gives no unit this much (0: off)
    features: tuple[str, ...] = FEATURES
    about: dict[str, Any] = field(default_factory=dict)

    INPUTS: ClassVar[str] = "features"
    EXPECTED: ClassVar[tuple[str, ...]] = FEATURES
    TITLE: ClassVar[str] = "the answer model"
    FILE: ClassVar[Path] = CALIBRATION
    SCRIPT: ClassVar[str] = "bench/calibrate_reader.py"

    def __post_init__(self) -> None:
        super().__post_init__()
        limits = (self.decline, self.answer, self.relevant, self.relative, self.decline_reader)
        if not all(0.0 <= v <= 1.0 for v in limits) or self.cap < 1:
            raise self.error(f"has thresholds out of range: {limits}, cap {self.cap}")

    def ungated(self) -> AnswerModel:
        """This model without its decline thresholds: it declines nothing (for benchmarks of
        what users would see without the gate)."""
        return replace(self, decline=0.0, decline_reader=0.0)

    def declines(self, reading: Reading, parts: Sequence[Reading] = ()) -> bool:
        """Whether the passages do not answer the question: no unit reaches ``decline``, or
        the reader itself gives none ``decline_reader`` (0 as shipped). The answer model
        weighs cheap signals (shared words, embedding similarity, the passage's rank) with
        the reader, so an on-topic unit can score well with the reader against it.

        ``parts`` holds the readings of a question's parts (:func:`question_parts`): a
        question of two parts is answered when either part is. A unit that answers one part
        of "How many days a week do hybrid staff come in, and what are the core hours?"
        scores low for the whole question, since it leaves the other part open."""
        readings = (reading, *parts)
        best = max(r.best for r in readings)
        return best < self.decline or max(r.best_reader for r in readings) < self.decline_reader


@cache
def shipped_answer_model() -> AnswerModel:
    return AnswerModel.load()


def shortlist(
    question: str, passages: Sequence[tuple[int, str]], limit: int = SHORTLIST
) -> list[tuple[int, Unit]]:
    """The ``limit`` units of ``passages`` (``(number, text)``) sharing most content words
    with ``question``, in passage order."""
    units = [(number, unit) for number, text in passages for unit in answer_units(text)]
    if len(units) <= limit:
        return units
    asked = content_words(question)
    overlap = [len(asked & content_words(unit.read_as)) for _, unit in units]
    keep = sorted(sorted(range(len(units)), key=lambda i: -overlap[i])[:limit])
    return [units[i] for i in keep]


def unit_features(
    scorer: Scorer,
    embedder: Embedder,
    question: str,
    passages: Sequence[tuple[int, str]],
    titles: Mapping[int, str] | None = None,
) -> tuple[list[tuple[int, Unit]], np.ndarray, np.ndarray]:
    """The shortlisted units, the reader's logits and the answer model's feature rows.

    The reader reads each unit after its passage's title ("Expenses and Travel Policy.
    Location: International; ..."), when ``titles`` (by passage number) has one: a question
    often names what the document is about ("Who is the Chief Executive Officer of Kestrel
    Lane?") where the unit that answers it does not."""
    units = shortlist(question, passages)
    texts = [unit.read_as for _, unit in units]
    if not texts:
        return units, np.zeros(0), np.zeros((0, len(FEATURES)))
    read_as = [titled((titles or {}).get(n), unit.read_as) for n, unit in units]
    logits = scorer.logits(question, read_as)
    similarity = embedder.embed(texts) @ question_vector(embedder.embed, question)
    return units, logits, features(question, texts, [n for n, _ in units], passages, logits, similarity)


def titled(title: str | None, text: str) -> str:
    """``text`` after ``title`` ("Expenses and Travel Policy. Location: ..."), as the reader reads it."""
    title = " ".join((title or "").replace("_", " ").split()).rstrip(".")
    return f"{title}. {text}" if title else text


class Titled(Protocol):
    """A passage as the context holds it (:class:`attest.retrieval.context.Passage`)."""

    @property
    def number(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def title(self) -> str: ...


class PassageReader:
    """Reads passages with the reader and the answer model; remembers its last few readings,
    since the decline gate and the extractive backend read the same passages. Safe to share
    between threads."""

    def __init__(self, scorer: Scorer, embedder: Embedder, model: AnswerModel, kept: int = 32) -> None:
        self.scorer = scorer
        self.embedder = embedder
        self.model = model
        self.size = kept
        self._kept: OrderedDict[tuple[object, ...], Reading] = OrderedDict()
        self._lock = threading.Lock()

    def read_parts(self, question: str, passages: Sequence[Titled]) -> list[Reading]:
        """:meth:`read_context` for each part of a question of several parts
        (:func:`question_parts`); none for a question of one part."""
        parts = question_parts(question)
        return [self.read_context(part, passages) for part in parts] if len(parts) > 1 else []

    def read_context(self, question: str, passages: Sequence[Titled]) -> Reading:
        """:meth:`read` for a context's passages, with their titles. A question with an
        abbreviation that the passages spell out ("CEO": "Chief Executive Officer") is read
        both ways, and each unit keeps its better score: the reader does not know most
        abbreviations, and a unit may use either form."""
        titles = {p.number: p.title for p in passages}
        texts = [(p.number, p.text) for p in passages]
        reading = self.read(question, texts, titles)
        spelled = spell_out(question, [text for _, text in texts])
        return reading if spelled == question else reading.merged(self.read(spelled, texts, titles))

    def read(
        self, question: str, passages: Sequence[tuple[int, str]], titles: Mapping[int, str] | None = None
    ) -> Reading:
        """Every shortlisted unit of ``passages`` (``(number, text)``) with its probability;
        ``titles`` are the passages' titles by number (:func:`unit_features`)."""
        key = (question, tuple(passages), tuple(sorted((titles or {}).items())))
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        units, logits, x = unit_features(self.scorer, self.embedder, question, passages, titles)
        scores, readers = self.model.probability(x), sigmoid(logits)
        reading = Reading(
            tuple(
                Candidate(n, u, float(s), float(r))
                for (n, u), s, r in zip(units, scores, readers, strict=True)
            )
        )
        with self._lock:
            self._kept[key] = reading
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return reading
