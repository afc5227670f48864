"""Evidence spans and the support signals of one claim, each a short pure function.

A claim is compared with *evidence spans*: the sentences of the passages the answer was
generated from, alone and paired with the next sentence (a fact is often spread over
two). Every signal is a number where higher means better supported, so that a logistic
model over them (:mod:`attest.verify.model`) has an obvious sign to learn:

* ``coverage``: the share of the claim's content words (stemmed, stop words removed)
  found in the best span. Unsupported claims bring words of their own (ROUGE-style
  recall of the claim by its evidence; Lin 2004).
* ``context_coverage``: the same against all the evidence, for facts that the span
  search splits.
* ``novel``: minus log(1 + the number of the claim's content words found nowhere in the
  evidence): a long invented clause costs more than one odd word.
* ``semantic``: the cosine of the claim to the span's passage, with the embedding model
  retrieval already loaded (embedding every candidate span would cost 200 ms or more
  per answer on two cores; the passage vectors are already in the index).
* ``numbers``: the share of the claim's numbers (years, amounts, counts) found in the
  evidence; 1 when the claim has none.
* ``names``: the share of the claim's names (capitalised words that are not stop words)
  found, in any case, in the evidence; 1 when it has none. A cheap, deterministic
  stand-in for named entities that works on short answers too ("Arthur's Magazine"),
  where a parser has no sentence to work with.
* ``entities``: the share of the claim's named entities (people, organisations, places,
  dates, amounts, ...: whatever the entity hook tags) whose text is found, in any case,
  in the evidence; 1 when it names none.
* ``swapped``: -1 when an entity of the claim is missing from the evidence while the span
  names another entity of the same type (a different person, organisation or date), else 0.
* ``negation``: -1 when the claim is negated and its best span is not (a negation
  added), else 0. A claim without a negation against a span with one is not counted: the
  span's "not" is as often in another clause ("A is fast, but does not prove B" split
  into two claims); a dropped negation is the consistency model's to see.
* ``consistency``: the consistency model's logit that the span supports the claim
  (:mod:`attest.verify.consistency`, a FactCC-style classifier trained on synthetic
  swaps, negations and misplaced sentences), clipped to ±:data:`CONSISTENCY_CLIP`. It
  reads the words in order, which the word-overlap signals above do not: a "not" added
  or dropped, a name replaced by another the passage also mentions (it is still weak on
  two names exchanged, "B acquired A" for "A acquired B"). A claim of fewer than
  :data:`STATEMENT_WORDS` words ("Delhi", "in 1998") is not a statement the model reads
  well (it was far weaker on HaluEval's short answers than on sentences), so it gets 0,
  "no opinion", and the word signals judge it. A claim quoted word for word
  from its span gets the top of the range without asking the model: a quote says what
  its source says (and a long one would otherwise be cut to fit the model's window).

The two entity signals need a tagger (:data:`TypedEntities`), which the composition root
passes in; without one they read as "nothing to check" (1 and 0).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass

import numpy as np

from attest.text.units import UnitKind, answer_units, as_sentence, has_items
from attest.text.words import content_words, names, numbers

SIGNALS = (
    "coverage",
    "context_coverage",
    "novel",
    "semantic",
    "numbers",
    "names",
    "entities",
    "swapped",
    "negation",
    "consistency",
)
# The ``(label, text)`` entities of each of a batch of texts (e.g. ``EntityTagger.labelled``).
TypedEntities = Callable[[Sequence[str]], list[list[tuple[str, str]]]]
Entities = Sequence[tuple[str, str]]

# Sentence ends: . ! ? followed by space, or glued to a capital ("century.First"), or a blank line.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[a-z0-9][.!?])(?=[A-Z])|\n\s*\n")
_WORD = re.compile(r"\w+(?:['-]\w+)*")
_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|cannot|without)\b|n't\b", re.IGNORECASE)
CANDIDATES = 3  # spans per claim that get signals, chosen by coverage
CONSISTENCY_CLIP = 8.0  # the consistency logit's range: beyond it the model is only more sure
STATEMENT_WORDS = 8  # a claim this long or longer is a statement the consistency model reads


@dataclass(frozen=True)
class Span:
    """A stretch of one passage's text."""

    passage: int  # the passage's citation number
    start: int
    end: int  # exclusive, in the passage's text
    text: str


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``."""
    bounds, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if text[start : match.start()].strip():
            bounds.append((start, match.start()))
        start = match.end()
    if text[start:].strip():
        bounds.append((start, len(text)))
    return bounds


def negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


def share_found(needed: Set[str], available: Set[str]) -> float:
    """The share of ``needed`` in ``available``; 1 when nothing is needed."""
    return len(needed & available) / len(needed) if needed else 1.0


@dataclass(frozen=True)
class Evidence:
    """The evidence spans of an answer's passages, with their words precomputed."""

    spans: tuple[Span, ...]
    span_words: tuple[frozenset[str], ...]
    span_sentences: tuple[tuple[int, ...], ...]  # the one-sentence spans each span is made of
    words: frozenset[str]
    numbers: frozenset[str]
    names: frozenset[str]
    text: str  # all passages, whitespace collapsed and case-folded, for finding entity texts

    @classmethod
    def of(cls, passages: Sequence[tuple[int, str]]) -> Evidence:
        """Evidence from ``(number, text)`` passages: each sentence, then each adjacent pair,
        then each table row rendered with its column names and each list item after its
        list's lead-in (:mod:`attest.text.units`), the way the extractive backend quotes
        them; such a span's offsets are the raw row's or item's."""
        all_spans: list[Span] = []
        span_words: list[frozenset[str]] = []
        span_sentences: list[tuple[int, ...]] = []
        for number, passage_text in passages:
            bounds = sentence_bounds(passage_text)
            words = [frozenset(content_words(passage_text[a:b])) for a, b in bounds]
            first = len(all_spans)
            for n, ((a, b), found) in enumerate(zip(bounds, words, strict=True)):
                all_spans.append(Span(number, a, b, passage_text[a:b]))
                span_words.append(found)
                span_sentences.append((first + n,))
            for i in range(len(bounds) - 1):  # a pair's words are its two sentences' words
                a, b = bounds[i][0], bounds[i + 1][1]
                all_spans.append(Span(number, a, b, passage_text[a:b]))
                span_words.append(words[i] | words[i + 1])
                span_sentences.append((first + i, first + i + 1))
            structured = "|" in passage_text or has_items(passage_text)  # tables, lists
            for unit in answer_units(passage_text) if structured else []:
                # a table row as it reads with its column names; a list item after its lead-in
                if unit.kind is UnitKind.ROW or unit.lead:
                    all_spans.append(Span(number, unit.start, unit.end, as_sentence(unit.read_as)))
                    span_words.append(frozenset(content_words(unit.read_as)))
                    span_sentences.append((len(all_spans) - 1,))
        text = "\n\n".join(t for _, t in passages)
        return cls(
            spans=tuple(all_spans),
            span_words=tuple(span_words),
            span_sentences=tuple(span_sentences),
            words=frozenset().union(*span_words) if span_words else frozenset(),
            numbers=frozenset(numbers(text)),
            names=frozenset(word.lower() for word in _WORD.findall(text)),
            text=folded(text),
        )

    def candidates(self, claim_words: set[str], limit: int = CANDIDATES) -> list[int]:
        """Indexes of the spans that cover most of ``claim_words`` (shorter spans first on ties)."""
        scored = [
            (share_found(claim_words, words), -len(self.spans[i].text), i)
            for i, words in enumerate(self.span_words)
        ]
        return [i for *_, i in sorted(scored, reverse=True)[:limit]]


def folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def entity_signals(claim: Entities, span: Entities, evidence: Evidence) -> dict[str, float]:
    """``entities`` and ``swapped`` for a claim's entities against a span's and the evidence's."""
    named = {folded(text) for _, text in claim}
    missing = {(label, folded(text)) for label, text in claim if folded(text) not in evidence.text}
    others = {label for label, text in span if folded(text) not in named}
    return {
        "entities": share_found(named, named - {text for _, text in missing}),
        "swapped": -1.0 if any(label in others for label, _ in missing) else 0.0,
    }


def is_statement(claim: str) -> bool:
    """Whether the consistency model reads ``claim`` (see ``consistency`` above)."""
    return len(claim.split()) >= STATEMENT_WORDS


def lexical_signals(
    claim: str,
    span_index: int,
    evidence: Evidence,
    claim_entities: Entities = (),
    span_entities: Entities = (),
) -> dict[str, float]:
    """Every signal but ``semantic`` and ``consistency`` (model scores), for ``claim``
    against span ``span_index`` of ``evidence``."""
    words = content_words(claim)
    span = evidence.spans[span_index]
    return entity_signals(claim_entities, span_entities, evidence) | {
        "coverage": share_found(words, evidence.span_words[span_index]),
        "context_coverage": share_found(words, evidence.words),
        "novel": -math.log1p(len(words - evidence.words)),
        "numbers": share_found(numbers(claim), evidence.numbers),
        "names": share_found(names(claim), evidence.names),
        "negation": -1.0 if negated(claim) and not negated(span.text) else 0.0,
    }


def vector(signals: dict[str, float]) -> np.ndarray:
    """The signals in :data:`SIGNALS` order."""
    return np.asarray([signals[name] for name in SIGNALS], dtype=np.float64)
