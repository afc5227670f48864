"""Entity tagging with spaCy.

A trained pipeline (``en_core_web_sm`` or whatever ``ATTEST_SPACY_PIPELINE`` names) is used
when it is installed. Otherwise, the default here, a blank English pipeline tags
identifiers by pattern: dates, money, percentages, e-mail addresses, URLs, phone numbers and
version numbers. Either way an entity ruler adds the knowledge base's own terms (products,
teams, systems) that an admin supplies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)

# Order matters only for readability: overlapping matches are resolved by length.
PATTERNS: dict[str, str] = {
    "EMAIL": r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b",
    "URL": r"\b(?:https?://|www\.)[^\s<>\"')\]]+[^\s<>\"').,;:\]]",
    "MONEY": (
        r"(?:[$€£¥]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|bn|million|billion|thousand)\b)?)"
        r"|(?:\b(?:USD|EUR|GBP|CHF|JPY)\s?\d[\d,]*(?:\.\d+)?)"
        r"|(?:\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|CHF|JPY|dollars|euros|pounds)\b)"
    ),
    "PERCENT": r"\b\d+(?:\.\d+)?\s?(?:%|percent\b|per cent\b)",
    "DATE": (
        r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
        rf"|\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?(?:,?\s+\d{{4}})?\b"
        rf"|\b{_MONTH}\.?\s+\d{{4}}\b"
    ),
    "PHONE": (
        r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?"
        r"\d{2,4}(?:[\s.-]\d{2,4}){1,3}(?!\w|\.\d)"
    ),
    "VERSION": r"\b[vV]\d+(?:\.\d+){1,3}\b|\b\d+\.\d+\.\d+(?:[-+][\w.]+)?\b",
}
_COMPILED = {
    label: re.compile(rx, re.IGNORECASE if label in {"DATE", "MONEY"} else 0)
    for label, rx in PATTERNS.items()
}
_MIN_PHONE_DIGITS = 7
_BLOCK_MARGIN = 200  # characters; longer than any entity worth tagging
_YEAR_RANGE = re.compile(r"(?:19|20)\d\d\s?[-\u2013 ]\s?(?:19|20)\d\d")


@dataclass(frozen=True)
class Entity:
    """An entity with character offsets into the text that was tagged."""

    label: str
    text: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@Language.component("attest_pattern_entities")
def pattern_entities(doc: Doc) -> Doc:
    """Tag identifiers (dates, money, e-mail, ...) found by regular expression."""
    spans: list[Span] = list(doc.ents)
    for label, pattern in _COMPILED.items():
        for match in pattern.finditer(doc.text):
            if label == "PHONE" and (
                sum(c.isdigit() for c in match.group()) < _MIN_PHONE_DIGITS
                or _YEAR_RANGE.fullmatch(match.group())
            ):
                continue
            span = doc.char_span(match.start(), match.end(), label=label, alignment_mode="expand")
            if span is not None:
                spans.append(span)
    doc.ents = filter_spans(spans)
    return doc


def build_pipeline(pipeline_name: str, terms: Mapping[str, Sequence[str]] | None = None) -> Language:
    """The spaCy pipeline: trained if installed, else blank English; plus patterns and terms."""
    try:
        nlp = spacy.load(pipeline_name, exclude=["parser", "lemmatizer", "tagger", "attribute_ruler"])
    except OSError:
        nlp = spacy.blank("en")
    nlp.add_pipe("attest_pattern_entities")
    patterns = [
        {"label": label.upper(), "pattern": term}
        for label, values in (terms or {}).items()
        for term in values
        if term.strip()
    ]
    if patterns:
        ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
        ruler.add_patterns(patterns)  # type: ignore[attr-defined]
    return nlp


class EntityTagger:
    """Tags entities in whole documents, paragraph block by paragraph block."""

    def __init__(
        self,
        pipeline_name: str = "en_core_web_sm",
        terms: Mapping[str, Sequence[str]] | None = None,
        *,
        block_chars: int = 20_000,
    ) -> None:
        self.pipeline_name = pipeline_name
        self.terms = {k: list(v) for k, v in (terms or {}).items()}
        self.block_chars = block_chars
        self._nlp: Language | None = None

    def warm_up(self) -> None:
        if self._nlp is None:
            self._nlp = build_pipeline(self.pipeline_name, self.terms)

    @property
    def trained(self) -> bool:
        """Whether a trained statistical pipeline is in use (rather than the rule fallback)."""
        self.warm_up()
        assert self._nlp is not None
        return "ner" in self._nlp.pipe_names

    def tag(self, text: str) -> list[Entity]:
        """All entities of ``text``, in order, with offsets into ``text``."""
        self.warm_up()
        assert self._nlp is not None
        blocks = list(_blocks(text, self.block_chars))
        # Each block is tagged with a margin past its end, so that an entity crossing the
        # cut is seen whole; the next block skips what overlaps an entity already kept.
        margin = _BLOCK_MARGIN
        entities: list[Entity] = []
        kept_until = 0
        docs = self._nlp.pipe(text[s : e + margin] for s, e in blocks)
        for (start, end), doc in zip(blocks, docs, strict=True):
            for ent in doc.ents:
                ent_start, ent_end = start + ent.start_char, start + ent.end_char
                if ent_start < end and ent_start >= kept_until:
                    entities.append(Entity(ent.label_, ent.text, ent_start, ent_end))
                    kept_until = ent_end
        return entities


def _blocks(text: str, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) ranges of at most about ``size`` characters, cut at paragraph or line breaks."""
    offset, n = 0, len(text)
    while offset < n:
        cut = min(n, offset + size)
        if cut < n:
            for sep in ("\n\n", "\n", " "):
                found = text.rfind(sep, offset + size // 2, cut)
                if found > offset:
                    cut = found + len(sep)
                    break
        yield offset, cut
        offset = cut


def entities_in(entities: Sequence[Entity], start: int, end: int, first: int = 0) -> tuple[list[Entity], int]:
    """Entities lying inside ``[start, end)`` from a list sorted by start.

    Returns them and the index to resume from for the next (later-starting) range, so that
    assigning entities to consecutive windows is linear overall.
    """
    while first < len(entities) and entities[first].end <= start:
        first += 1
    inside = []
    i = first
    while i < len(entities) and entities[i].start < end:
        if entities[i].start >= start and entities[i].end <= end:
            inside.append(entities[i])
        i += 1
    return inside, first
