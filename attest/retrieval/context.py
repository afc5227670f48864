"""The generator's context: retrieved windows merged, deduplicated and packed into a budget.

Retrieval returns sliding windows, best first, and consecutive windows of a document share
text. Handing them over as they come would repeat that text and waste the generator's
context window, so :func:`build_context` works in three steps:

1. **Merge.** Windows of one document that overlap, touch or are consecutive (adjacent
   ``position``) become one passage. Its text is rebuilt from the character offsets, not
   by guessing at repeated words, so ``char_start``/``char_end`` still name exactly what a
   citation quotes; the whitespace gap between consecutive windows becomes one space.
2. **Deduplicate.** A passage whose text (whitespace and case aside) equals, or lies
   wholly inside, that of a better passage already in the context is left out: the same
   file stored under two names would otherwise be read twice.
3. **Pack.** Passages, best first, are added while their rendered form fits the token
   budget, which is the generator's context window less what the question and the
   instructions need. A merged passage too large falls back to its best window; one that
   still does not fit is skipped, so a smaller later passage can take its place.

Steps 2 and 3 run together, so a passage is compared only with the text already packed,
which the budget bounds: for a given budget the whole costs O(n log n) in the hits.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from attest.retrieval.records import ChunkRecord


class Hit(Protocol):
    """A retrieved chunk record and its score, e.g. ``hybrid.RetrievedChunk``."""

    @property
    def chunk(self) -> ChunkRecord: ...

    @property
    def score(self) -> float: ...


@dataclass(frozen=True)
class Passage:
    """One numbered passage of the context, with what a citation of it needs."""

    number: int  # 1-based, the ``[n]`` the generator cites
    document_id: int
    title: str
    source_uri: str
    page: int | None  # page where the passage starts, when known
    pages: tuple[int, ...]  # distinct known pages of its windows, sorted
    char_start: int
    char_end: int  # exclusive
    text: str
    score: float
    chunk_ids: tuple[int, ...]  # in text order
    tokens: int  # counted tokens of ``render()``

    def render(self, number: int | None = None) -> str:
        """The passage as the generator sees it: ``[n] title (page p)``, a newline, the text."""
        return _render(self.number if number is None else number, self.title, self.page, self.text)


@dataclass(frozen=True)
class Context:
    """The passages handed to the generator, best first, and what the budget left out."""

    passages: tuple[Passage, ...]
    tokens: int  # sum of the passages' tokens
    budget_tokens: int
    dropped: int  # passages left out for the budget or ``max_passages``, repeats aside

    def render(self) -> str:
        """The passages rendered and separated by a blank line."""
        return "\n\n".join(p.render() for p in self.passages)


@dataclass(frozen=True)
class _Span:
    """A window, or merged run of windows, of one document before it is numbered."""

    document_id: int
    title: str
    source_uri: str
    char_start: int
    char_end: int
    text: str
    score: float
    position: int  # of the last window
    page: int | None
    pages: tuple[int, ...]
    chunk_ids: tuple[int, ...]
    best: _Span | None = None  # best-scoring window of a merged run


def build_context(
    hits: Iterable[Hit],
    budget_tokens: int,
    count_tokens: Callable[[str], int],
    *,
    max_passages: int | None = None,
) -> Context:
    """Merge ``hits`` into passages, drop repeated text, and pack the best into the budget."""
    if budget_tokens < 0:
        raise ValueError(f"budget_tokens must be 0 or more, got {budget_tokens}.")
    if max_passages is not None and max_passages < 1:
        raise ValueError(f"max_passages must be at least 1 or None for no limit, got {max_passages}.")
    by_document: dict[int, list[_Span]] = defaultdict(list)
    for window in _unique_windows(hits):
        by_document[window.document_id].append(window)
    spans = [span for windows in by_document.values() for span in _merge(windows)]
    return _pack(sorted(spans, key=_rank), budget_tokens, count_tokens, max_passages)


def _unique_windows(hits: Iterable[Hit]) -> list[_Span]:
    """One span per chunk id, with the best score the chunk was returned with."""
    windows: dict[int, _Span] = {}
    for hit in hits:
        c, score = hit.chunk, float(hit.score)
        seen = windows.get(c.chunk_id)
        if seen is None or score > seen.score:
            pages = () if c.page is None else (c.page,)
            windows[c.chunk_id] = _Span(
                document_id=c.document_id, title=c.title, source_uri=c.source_uri,
                char_start=c.char_start, char_end=c.char_end, text=c.text, score=score,
                position=c.position, page=c.page, pages=pages, chunk_ids=(c.chunk_id,),
            )  # fmt: skip
    return list(windows.values())


def _merge(windows: list[_Span]) -> list[_Span]:
    """Runs of overlapping, touching or consecutive windows of one document, merged."""
    windows.sort(key=lambda w: (w.char_start, w.char_end))
    runs: list[list[_Span]] = []
    end = 0
    for window in windows:
        if runs and (window.char_start <= end or window.position == runs[-1][-1].position + 1):
            runs[-1].append(window)
            end = max(end, window.char_end)
        else:
            runs.append([window])
            end = window.char_end
    return [_combine(run) if len(run) > 1 else run[0] for run in runs]


def _combine(run: list[_Span]) -> _Span:
    """One span for a run of windows sorted by ``char_start``; the text is never repeated."""
    first = run[0]
    parts, end = [first.text], first.char_end
    for window in run[1:]:
        if window.char_start <= end:  # overlap: add only what lies past the current end
            parts.append(window.text[end - window.char_start :])
        else:  # consecutive windows; the chunker dropped the whitespace between them
            parts.append(" " + window.text)
        end = max(end, window.char_end)
    pages = [p for w in run for p in w.pages]
    return replace(
        first, char_end=end, text="".join(parts), score=max(w.score for w in run),
        position=run[-1].position, page=pages[0] if pages else None, pages=tuple(sorted(set(pages))),
        chunk_ids=tuple(i for w in run for i in w.chunk_ids), best=max(run, key=lambda w: w.score),
    )  # fmt: skip


def _rank(span: _Span) -> tuple[float, int, int]:
    return -span.score, span.document_id, span.char_start


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def _pack(
    ranked: list[_Span], budget: int, count_tokens: Callable[[str], int], max_passages: int | None
) -> Context:
    passages: list[Passage] = []
    packed = ""  # normalised texts of the packed passages, one a line
    used = dropped = 0
    for span in ranked:
        if _normalise(span.text) in packed:
            continue  # a repeat, not a passage the budget left out
        full = max_passages is not None and len(passages) >= max_passages
        passage = None if full else _fit(span, len(passages) + 1, budget - used, count_tokens, packed)
        if passage is None:
            dropped += 1
            continue
        passages.append(passage)
        used += passage.tokens
        packed += "\n" + _normalise(passage.text)
    return Context(tuple(passages), used, budget, dropped)


def _fit(
    span: _Span, number: int, room: int, count_tokens: Callable[[str], int], packed: str
) -> Passage | None:
    """``span`` as passage ``number``, else its best window if that fits and is new, else None."""
    fallback = span.best if span.best is not None and _normalise(span.best.text) not in packed else None
    for candidate in (span, fallback):
        if candidate is not None:
            tokens = count_tokens(_render(number, candidate.title, candidate.page, candidate.text))
            if tokens <= room:
                return _passage(candidate, number, tokens)
    return None


def _passage(span: _Span, number: int, tokens: int) -> Passage:
    return Passage(
        number=number, document_id=span.document_id, title=span.title, source_uri=span.source_uri,
        page=span.page, pages=span.pages, char_start=span.char_start, char_end=span.char_end,
        text=span.text, score=span.score, chunk_ids=span.chunk_ids, tokens=tokens,
    )  # fmt: skip


# Lines of a document that look like the prompt's own structure: a source header ("[3] ..."),
# "Sources:", "Question:", "Answer:", or the "###" that ends a worked example.
_PROMPT_STRUCTURE = re.compile(r"^[ \t]*(?=\[\d+\]|#{3}|(?:sources|question|answer)[ \t]*:)", re.I | re.M)
# Sentences that address the model instead of the reader: the usual shapes of prompt injection.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+)?"
    r"(?:previous|prior|above|earlier|preceding|system)\s+(?:instructions|prompts?|rules|directions)\b"
    r"|\byou\s+are\s+now\s+(?:in\s+)?(?:an?\s+)?(?:developer|jailbreak|god|unrestricted|DAN)\b"
    r"|\b(?:print|reveal|show|repeat|output)\s+(?:your|the)\s+(?:system|hidden|initial)\s+"
    r"(?:prompt|instructions)\b"
    r"|\b(?:reply|respond)\s+(?:only\s+with|with\s+only)\b"
    r"|\bdo\s+not\s+cite\s+(?:any\s+|the\s+)?sources\b",
    re.I,
)
_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")
OMITTED = "[instructions to the reader omitted]"


def quote(text: str) -> str:
    """``text`` made safe to place in a prompt as quoted material.

    A document is content, never instructions. Two kinds of text in it are changed
    before a model reads it (the stored text, the citations and the extractive backend's
    quotes keep the original):

    - lines shaped like the prompt (a fake source ``[9]``, a fake ``Question:``/``Answer:``
      pair, a ``###`` separator) get a ``> `` in front, which the worked examples never
      use, so the structure of the prompt stays Attest's own;
    - sentences that address the model ("ignore all previous instructions", "you are now
      in developer mode", "reply only with ...", "print your system prompt") are replaced
      by a note that they were omitted, so that an instruction-following model never sees
      them (the default 270M base model ignored them even before; tests/test_answers.py
      checks that they do not reach it). The patterns are narrow on purpose: ordinary
      sentences such as "ignore the previous version of this form" stay.
    """
    if _INSTRUCTION.search(text):
        text = _SENTENCE.sub(lambda m: OMITTED + " " if _INSTRUCTION.search(m.group()) else m.group(), text)
        text = re.sub(rf"(?:{re.escape(OMITTED)} )+", OMITTED + " ", text)
    return _PROMPT_STRUCTURE.sub("> ", text)


def _render(number: int, title: str, page: int | None, text: str) -> str:
    title = " ".join(title.split())  # a title is one line, whatever the document says
    header = f"[{number}] {title}" if page is None else f"[{number}] {title} (page {page})"
    return f"{header}\n{quote(text)}"
