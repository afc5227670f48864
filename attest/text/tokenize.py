"""Word tokenizer for lexical (BM25) retrieval.

Text is NFC-normalised, split into Unicode word tokens (``\\w+``: letters, digits and
underscore), then optionally lowercased, stripped of English stop words and stemmed with
the Snowball stemmers of PyStemmer (Porter, "Snowball: A language for stemming
algorithms", 2001). The same :class:`TokenizerConfig` must be used for indexing and for
queries, so it is saved in the index manifest (:meth:`TokenizerConfig.to_dict`).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import asdict, dataclass, fields
from typing import Any

import Stemmer

from attest.core.errors import ConfigurationError

WORD_RE = re.compile(r"\w+", re.UNICODE)

# A short list of very common English function words (a subset of the usual
# SMART / Snowball English stop lists).
_STOPWORDS_TEXT = """
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is
it its itself just me more most my myself no nor not of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself
yourselves
"""
ENGLISH_STOPWORDS: frozenset[str] = frozenset(_STOPWORDS_TEXT.split())


@dataclass(frozen=True)
class TokenizerConfig:
    """How text is turned into index terms.

    ``language`` names the Snowball stemmer (see ``Stemmer.algorithms()``); stop words are
    only available for English.
    """

    lowercase: bool = True
    stopwords: bool = False
    stemming: bool = False
    language: str = "english"

    def __post_init__(self) -> None:
        for name in ("lowercase", "stopwords", "stemming"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(
                    f"tokenizer.{name} must be true or false, not {getattr(self, name)!r}"
                )
        if not isinstance(self.language, str):
            raise ConfigurationError(f"tokenizer.language must be a string, not {self.language!r}")
        if self.stemming:
            _check_language(self.language)
        if self.stopwords and self.language.lower() not in ("english", "en", "eng"):
            raise ConfigurationError(
                f"tokenizer.stopwords is only available for English, not {self.language!r}; "
                "turn stop words off or set language to 'english'"
            )

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-compatible dict (for an index manifest)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenizerConfig:
        """Parse :meth:`to_dict` output; unknown keys are a :class:`ConfigurationError`."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ConfigurationError(
                f"unknown tokenizer setting(s) {', '.join(unknown)}; valid settings: {', '.join(valid)}"
            )
        return cls(**data)


def _check_language(language: str) -> None:
    """Raise :class:`ConfigurationError` unless PyStemmer has a stemmer for ``language``."""
    try:
        Stemmer.Stemmer(language)
    except KeyError:
        raise ConfigurationError(
            f"no stemmer for language {language!r}; valid values: {', '.join(Stemmer.algorithms())}"
        ) from None


def split_words(text: str) -> list[str]:
    """NFC-normalise ``text`` and return its Unicode ``\\w+`` word tokens, in order."""
    return WORD_RE.findall(unicodedata.normalize("NFC", text))


def remove_stopwords(tokens: list[str]) -> list[str]:
    """Drop English stop words (compared case-insensitively)."""
    return [t for t in tokens if t.lower() not in ENGLISH_STOPWORDS]


class Tokenizer:
    """Callable that turns a text into index terms according to a :class:`TokenizerConfig`.

    Safe to share between threads: each thread gets its own PyStemmer instance, because
    a ``Stemmer`` "must not be called concurrently" (PyStemmer documentation).
    """

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = config or TokenizerConfig()
        self._local = threading.local()

    def _stemmer(self) -> Stemmer.Stemmer:
        """This thread's stemmer, created on first use."""
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            stemmer = Stemmer.Stemmer(self.config.language)
            self._local.stemmer = stemmer
        return stemmer

    def __call__(self, text: str) -> list[str]:
        """The index terms of ``text``: split, then lowercase, stop words, stemming as configured."""
        tokens = split_words(text)
        if self.config.lowercase:
            tokens = [t.lower() for t in tokens]
        if self.config.stopwords:
            tokens = remove_stopwords(tokens)
        if self.config.stemming and tokens:
            tokens = list(self._stemmer().stemWords(tokens))
        return tokens
