"""Answers cut into claims: sentences, and clauses where a sentence joins independent statements.

"Leave is 27 days [1]; unused days carry over [2]." holds two claims, each checked on its
own against the evidence. A sentence is split at a semicolon, and at ", and" / ", but" /
", while" / ", whereas" when both sides are long enough to state something (four words or
more). Each claim keeps the citation markers written in it; a clause without markers
takes those of its sentence, since "A, and B [2]." cites [2] for both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from attest.generation.citations import parse_citations
from attest.text.sentences import sentence_spans

_CLAUSE_BREAK = re.compile(r";\s+|,\s+(?=(?:and|but|while|whereas)\s)")
_MARKER = re.compile(r"\s*\[[^\]]*\d[^\]]*\]")
MIN_CLAUSE_WORDS = 4


@dataclass(frozen=True)
class Claim:
    """One checkable statement of an answer."""

    text: str  # without citation markers
    citations: tuple[int, ...]  # the source numbers it cites
    start: int  # offsets into the answer text, markers included
    end: int


def split_claims(answer: str) -> list[Claim]:
    """The claims of ``answer``, in order."""
    claims: list[Claim] = []
    for sentence_start, sentence_end in sentence_spans(answer):
        sentence = answer[sentence_start:sentence_end]
        sentence_citations = _citations(sentence)
        for offset, piece in _clauses(sentence):
            text = " ".join(_MARKER.sub("", piece).split()).strip(" ,;")
            if not re.search(r"\w", text):
                continue
            start = sentence_start + offset
            citations = _citations(piece) or sentence_citations
            claims.append(Claim(text, citations, start, start + len(piece)))
    return claims


def _citations(text: str) -> tuple[int, ...]:
    return tuple(dict.fromkeys(number for mark in parse_citations(text) for number in mark.numbers))


def _clauses(sentence: str) -> list[tuple[int, str]]:
    """``(offset, text)`` clauses of a sentence; the sentence itself when it does not split."""
    pieces, start = [], 0
    for match in _CLAUSE_BREAK.finditer(sentence):
        pieces.append((start, sentence[start : match.start()]))
        start = match.end()
    pieces.append((start, sentence[start:]))
    words = [len(_MARKER.sub("", text).split()) for _, text in pieces]
    if len(pieces) > 1 and min(words) >= MIN_CLAUSE_WORDS:
        return pieces
    return [(0, sentence)]
