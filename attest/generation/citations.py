"""Checking a generated answer's citations and tying each sentence to the span it rests on.

The generator sees numbered passages (``[1] Title (page 3)``, from
:mod:`attest.retrieval.context`) and cites them as ``[2]``. Two things are checked here,
with no model:

1. **Citations point at what was given.** A number that names no passage is made up; it is
   removed from the text (the rest of its mark kept) and reported, so no reader follows a
   citation to nothing.
2. **Every sentence maps to a span.** Each answer sentence gets the source sentence that
   shares most of its content words, looked for in the passages it cites (in all of them
   when it cites none), with offsets into the *document*, so a reader can open the source
   and check the claim. Word overlap is a cheap first pass: the factuality checker in
   ``verify/`` later scores these spans with a stronger method.

Only the marks the generator placed are citations. Source text may hold bracketed numbers
of its own (a footnote's ``[2]``); :func:`quote` makes them plain text, for the generator
to see and to copy, by putting an invisible word joiner after the bracket, so that neither
this parser nor a reader takes them for a citation of passage 2.

Offsets are exact for passages built from one window or from overlapping windows. Where
:func:`~attest.retrieval.context.build_context` joined consecutive, non-overlapping windows
with one space, offsets past that space are off by the length of the real gap less one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from attest.retrieval.context import Context, Passage
from attest.text.sentences import MARK, MAX_RANGE, RANGE, WORD_JOINER, sentence_spans
from attest.text.units import answer_units, has_items

# fmt: off
_TOKEN = re.compile(r"[0-9]+(?:[.,][0-9]+)*|[^\W\d_]+")
_STOP_WORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "from",
    "as", "into", "about", "than", "then", "so", "is", "are", "was", "were", "be", "been", "being", "am",
    "do", "does", "did", "has", "have", "had", "will", "would", "can", "could", "should", "shall", "it",
    "its", "this", "that", "these", "those", "there", "their", "they", "them", "he", "she", "his", "her",
    "we", "our", "us", "you", "your", "i", "me", "my", "which", "who", "whom", "what", "when", "where",
    "how", "also", "any", "each", "such",
})
# fmt: on
_CLOSING = ".,;:!?)]}"
COPIED_WORDS = 3  # words before a mark that, found before the same mark in a source, make it a copy
_WORDS_BEFORE = re.compile(r"[^\s\[\]]+")
_SPACES = " \t\f\v\u00a0\u2009\u202f\u3000"  # not line breaks: a removed mark keeps the lines apart


@dataclass(frozen=True)
class CitationMark:
    """One ``[...]`` citation in a text: the numbers it cites, distinct, as written."""

    numbers: tuple[int, ...]
    start: int
    end: int  # exclusive


@dataclass(frozen=True)
class Support:
    """The source span an answer sentence rests on; offsets are into the document."""

    number: int  # of the passage
    document_id: int
    title: str
    source_uri: str
    page: int | None  # the passage's first page; the span itself may lie on a later one
    char_start: int
    char_end: int  # exclusive
    quote: str
    score: float  # share of the sentence's content words found in the quote, 0 to 1

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class AnswerSentence:
    """A sentence of the cleaned answer, what it cites and the span that supports it."""

    text: str
    char_start: int
    char_end: int  # exclusive, in the cleaned answer
    cited: tuple[int, ...]  # sorted, distinct
    support: Support | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "char_start": self.char_start,
            "char_end": self.char_end,
            "cited": list(self.cited),
            "support": None if self.support is None else self.support.to_dict(),
        }


@dataclass(frozen=True)
class CheckedAnswer:
    """The answer with made-up citations removed, sentence by sentence."""

    text: str
    sentences: tuple[AnswerSentence, ...]
    invalid_citations: tuple[int, ...]  # removed numbers, sorted, distinct
    cited_passages: tuple[int, ...]  # valid numbers cited anywhere, sorted, distinct
    uncited_sentences: int  # sentences with content words but no citation
    passages: tuple[Passage, ...] = field(default=(), repr=False)

    def cited(self) -> tuple[Passage, ...]:
        """The passages the answer cites, each once, in passage order."""
        return tuple(p for p in self.passages if p.number in self.cited_passages)

    def shown_as(self, text: str) -> CheckedAnswer:
        """What the verification policy shows of this answer (``text``: the kept statements,
        after ``strip``), checked against the same passages, so that its sentences and
        citations are those of what the asker reads. The removed citations stay listed."""
        shown = _checked(text, self.passages)
        return replace(shown, invalid_citations=self.invalid_citations)


def quote(text: str) -> str:
    """``text`` from a source, with every bracketed number in it made plain text (not a mark)."""
    return MARK.sub(lambda mark: f"[{WORD_JOINER}{mark.group()[1:]}", text)


def parse_citations(answer: str) -> list[CitationMark]:
    """The citation marks in ``answer``: ``[2]``, ``[1, 3]``, ``[1-3]``, ``[Source 2]``."""
    marks = []
    for match in MARK.finditer(answer):
        numbers: dict[int, None] = {}
        for first, last in RANGE.findall(match.group()):
            low, high = sorted((int(first), int(last or first)))
            numbers.update(dict.fromkeys(range(low, min(high, low + MAX_RANGE - 1) + 1)))
        marks.append(CitationMark(tuple(numbers), match.start(), match.end()))
    return marks


def requote(answer: str, sources: list[str]) -> str:
    """``answer`` with the marks it copied from a source's own text made text again.

    :func:`quote` already marks a source's ``[2]`` as text for the generator, but a language
    model may drop the invisible character on the way. A mark counts as copied when it
    follows the same :data:`COPIED_WORDS` words in a source (whitespace aside).
    """
    out, last = [], 0
    for match in MARK.finditer(answer):
        words = _WORDS_BEFORE.findall(answer[max(0, match.start() - 80) : match.start()])[-COPIED_WORDS:]
        if len(words) < COPIED_WORDS:
            continue
        pattern = r"\s*".join([*(re.escape(w) for w in words), re.escape(match.group())])
        if any(re.search(pattern, source) for source in sources):
            out.append(f"{answer[last : match.start()]}[{WORD_JOINER}{match.group()[1:]}")
            last = match.end()
    return "".join(out) + answer[last:]


def validate(answer: str, context: Context, *, min_support: float = 0.3) -> CheckedAnswer:
    """Remove citations of passages not in ``context`` and find each sentence's support.

    A sentence's support is ``None`` when it has no content words or when no source sentence
    holds at least ``min_support`` of them (and at least one).
    """
    if not 0.0 <= min_support <= 1.0:
        raise ValueError(f"min_support must be between 0 and 1, got {min_support}.")
    return _checked(answer, context.passages, min_support)


def _checked(answer: str, passages: tuple[Passage, ...], min_support: float = 0.3) -> CheckedAnswer:
    valid = {p.number for p in passages}
    text, invalid = _remove_invalid(requote(answer, [p.text for p in passages]), valid)
    marks = parse_citations(text)
    index = _SourceIndex(passages)
    sentences = tuple(
        _check_sentence(text, start, end, marks, index, min_support) for start, end in sentence_spans(text)
    )
    return CheckedAnswer(
        text=text,
        sentences=sentences,
        invalid_citations=tuple(sorted(invalid)),
        cited_passages=tuple(sorted({n for mark in marks for n in mark.numbers})),
        uncited_sentences=sum(1 for s in sentences if not s.cited and _content_tokens(s.text)),
        passages=passages,
    )


def _remove_invalid(answer: str, valid: set[int]) -> tuple[str, set[int]]:
    """``answer`` citing only ``valid`` numbers, and the numbers removed.

    Repeated because removing a mark can join text into a new one: ``[7 [9] ]`` → ``[7]``.
    """
    removed: set[int] = set()
    while bad := [m for m in parse_citations(answer) if not valid.issuperset(m.numbers)]:
        for mark in reversed(bad):  # right to left, so earlier offsets stay right
            removed.update(n for n in mark.numbers if n not in valid)
            answer = _rewrite(answer, mark, [n for n in mark.numbers if n in valid])
    return answer, removed


def _rewrite(text: str, mark: CitationMark, kept: list[int]) -> str:
    """``text`` with ``mark`` citing only ``kept``, or gone with the space around it tidied."""
    head, tail = text[: mark.start], text[mark.end :]
    if kept:
        return f"{head}[{', '.join(map(str, kept))}]{tail}"
    if head.endswith("(") and tail.startswith(")"):
        head, tail = head[:-1], tail[1:]
    if not tail or tail[0].isspace() or tail[0] in _CLOSING:
        head = head.rstrip(_SPACES)
    if not head or head.endswith("\n"):
        tail = tail.lstrip(_SPACES)
    return head + tail


def _content_tokens(text: str) -> set[str]:
    """Lowercased words and numbers of ``text``, stop words and citation marks left out
    (quoted ones too, so that a quote and its source have the same words)."""
    plain = MARK.sub(" ", text.replace(WORD_JOINER, ""))
    return {t for t in _TOKEN.findall(plain.casefold()) if t not in _STOP_WORDS}


@dataclass(frozen=True)
class _SourceSentence:
    passage: Passage
    start: int  # in the passage text
    end: int
    tokens: frozenset[str]


class _SourceIndex:
    """The passages' sentences and their tokens, split once per answer."""

    def __init__(self, passages: tuple[Passage, ...]) -> None:
        self.by_number = {p.number: _source_sentences(p) for p in passages}

    def candidates(self, cited: tuple[int, ...]) -> list[_SourceSentence]:
        numbers = cited or tuple(self.by_number)
        return [s for n in numbers for s in self.by_number.get(n, [])]


def _source_sentences(passage: Passage) -> list[_SourceSentence]:
    """The passage's sentences, then each list item with its list's lead-in's words as well,
    as the extractive backend quotes it ("When you travel ...: Domestic travel: up to $55
    per day."), so that such a sentence rests on its item rather than on the lead-in."""
    text = passage.text
    spans = [(s, e, text[s:e]) for s, e in sentence_spans(text)]
    if has_items(text):
        spans += [(u.start, u.end, u.read_as) for u in answer_units(text) if u.lead]
    return [_SourceSentence(passage, s, e, frozenset(_content_tokens(words))) for s, e, words in spans]


def _check_sentence(
    text: str, start: int, end: int, marks: list[CitationMark], index: _SourceIndex, min_support: float
) -> AnswerSentence:
    cited = tuple(sorted({n for m in marks if start <= m.start < end for n in m.numbers}))
    sentence = text[start:end]
    return AnswerSentence(sentence, start, end, cited, _support(sentence, cited, index, min_support))


def _support(
    sentence: str, cited: tuple[int, ...], index: _SourceIndex, min_support: float
) -> Support | None:
    """The candidate source sentence with the highest recall of ``sentence``'s content words."""
    tokens = _content_tokens(sentence)
    if not tokens:
        return None
    best, best_score = None, 0.0
    for source in index.candidates(cited):
        score = len(tokens & source.tokens) / len(tokens)
        if score > best_score:  # ties go to the lowest passage number, then the earlier sentence
            best, best_score = source, score
    if best is None or best_score < min_support:
        return None
    p = best.passage
    return Support(
        number=p.number, document_id=p.document_id, title=p.title, source_uri=p.source_uri, page=p.page,
        char_start=p.char_start + best.start, char_end=p.char_start + best.end,
        quote=p.text[best.start : best.end], score=best_score,
    )  # fmt: skip
