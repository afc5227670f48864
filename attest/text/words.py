"""Words of a text: content words, numbers and names, as every package compares them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from attest.text.tokenize import ENGLISH_STOPWORDS, Tokenizer, TokenizerConfig

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b[A-Z][\w'-]*")
_content = Tokenizer(TokenizerConfig(lowercase=True, stopwords=True, stemming=True))


def content_words(text: str) -> set[str]:
    """Stemmed, lowercased words of ``text`` without stop words."""
    return set(_content(text))


def numbers(text: str) -> set[str]:
    """Numbers in ``text``, with thousands separators removed ("1,200" and "1200" match)."""
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def names(text: str) -> set[str]:
    """Capitalised words of ``text`` that are not stop words, lowercased, without a trailing
    apostrophe or hyphen ("the United States' formation" names "states", as its source does)."""
    return {name.lower().rstrip("'-") for name in _NAME.findall(text)} - ENGLISH_STOPWORDS


_ACRONYM = re.compile(r"\b[A-Z]{2,6}\b")
# A run of capitalised words, with "of", "and", "for", "the" or "&" between them.
_CAPITALISED_RUN = re.compile(r"[A-Z][\w'’]*(?:(?:[\s-]+(?:of|and|for|the|&))*[\s-]+[A-Z][\w'’]*)*")
_RUN_WORD = re.compile(r"[A-Za-z][\w'’]*|&")
_JOINERS = frozenset({"of", "and", "for", "the", "&"})


def has_abbreviation(text: str) -> bool:
    """Whether ``text`` holds a word of 2 to 6 capitals ("CEO", "SSO")."""
    return bool(_ACRONYM.search(text))


def spell_out(question: str, texts: Sequence[str]) -> str:
    """``question`` with each abbreviation that ``texts`` spell out replaced by its most
    frequent spelling there: "Who is the CEO?" → "Who is the Chief Executive Officer?" when a
    text says "Chief Executive Officer". A spelling is a run of capitalised words whose
    initials are the abbreviation's letters ("Single Sign-On" for SSO, "Head of People
    Operations" for HPO: "of", "and", "for", "the" are skipped)."""
    acronyms = set(_ACRONYM.findall(question))
    if not acronyms:
        return question
    found: dict[str, Counter[str]] = {a: Counter() for a in acronyms}
    for text in texts:
        for run in _CAPITALISED_RUN.finditer(text):
            words = [m for m in _RUN_WORD.finditer(run.group()) if m.group().lower() not in _JOINERS]
            for acronym in acronyms:
                size = len(acronym)
                for i in range(len(words) - size + 1):
                    window = words[i : i + size]
                    if "".join(w.group()[0] for w in window) == acronym and len(window[0].group()) > 1:
                        found[acronym][run.group()[window[0].start() : window[-1].end()]] += 1
    for acronym, spellings in found.items():
        if spellings:
            spelling = spellings.most_common(1)[0][0]
            question = re.sub(rf"\b{acronym}\b", spelling, question)
    return question
