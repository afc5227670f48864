"""Sentences and citation marks: the one sentence splitter every package uses.

A sentence ends at ``.``, ``!`` or ``?`` (and any closing quotes and citation marks right
after it) when a capital, a digit or an opening quote follows and the dot does not end a
known abbreviation or initials; it always ends at a blank line and before a list item on a
line of its own. Citation marks are ``[2]``, ``[1, 3]``, ``[1-3]``, ``[Source 2]``.
"""

from __future__ import annotations

import re

NUMBER = r"[0-9]{1,9}"  # longer runs are not citations (and would not parse cheaply)
ITEM = rf"(?:sources?\s*:?\s*)?{NUMBER}(?:\s*[-–—]\s*{NUMBER})?"
MARK_BODY = rf"\[\s*{ITEM}(?:\s*[,;]\s*{ITEM})*\s*\](?!\()"  # ``(`` after it: a Markdown link
MARK = re.compile(MARK_BODY, re.IGNORECASE)
WORD_JOINER = "\u2060"  # invisible, and not whitespace: ``[\u20602]`` matches no mark
RANGE = re.compile(rf"({NUMBER})(?:\s*[-–—]\s*({NUMBER}))?")
MAX_RANGE = 20  # ``[1-500]`` is a slip, not 500 citations

# A sentence may end at .!? (and closing quotes), taking any citation marks right after it.
_END = re.compile(rf"(?P<stop>[.!?]+)[\"'”’)]*(?:[^\S\n]*{MARK_BODY})*", re.IGNORECASE)
# ...and always ends at a blank line or before a list item on its own line.
_BREAK = re.compile(r"\n[^\S\n]*\n|\n(?=[^\S\n]*(?:[-*•]|[0-9]+[.)])\s)")
_OPENERS = "\"'“‘("
_WORD_BEFORE = re.compile(r"[\w.]+$")
_NON_SPACE = re.compile(r"\S")
_INITIALS = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # e.g, i.e, u.s
_ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "prof", "st", "vs", "cf", "approx", "inc", "ltd", "jr"})
_BEFORE_NUMBER = frozenset({"no", "nr", "art", "fig", "p", "pp", "vol", "sec", "ch"})  # "No. 5"; "No. Then"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``, surrounding whitespace left out."""
    cuts = {m.end() for m in _END.finditer(text) if _ends_sentence(text, m)}
    cuts.update(m.start() for m in _BREAK.finditer(text))
    spans, start = [], 0
    for cut in [*sorted(cuts), len(text)]:
        piece = text[start:cut]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((start + lead, start + len(piece.rstrip())))
        start = cut
    return spans


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    """Whether the end punctuation in ``match`` closes a sentence."""
    after = _NON_SPACE.search(text, match.end())
    if after is None:
        return True
    following = after.group()
    capital = following.isupper() or following.isdigit() or following in _OPENERS
    if after.start() == match.end() or not capital:
        return False
    return match.group("stop") != "." or not _is_abbreviation(text, match.start(), following)


def _is_abbreviation(text: str, dot: int, next_char: str) -> bool:
    word = _WORD_BEFORE.search(text, max(0, dot - 12), dot)  # abbreviations are short
    token = word.group().lower() if word else ""
    if _INITIALS.fullmatch(token) or token in _ABBREVIATIONS:
        return True
    return token in _BEFORE_NUMBER and next_char.isdigit()
