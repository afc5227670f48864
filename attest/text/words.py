"""Words of a text: content words, numbers and names, as every package compares them."""

from __future__ import annotations

import re

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
