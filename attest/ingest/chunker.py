"""Sliding token windows over a document's extracted text.

Windows are measured in the embedding model's own tokens, so that every window fits the
model. The text is tokenized block by block, and only the tokens of the current window are
kept, so that time is linear and memory bounded however long the document is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from tokenizers import Tokenizer

from attest.core.errors import ConfigurationError

SENTENCE_END = frozenset(".!?:;")


class OffsetTokenizer(Protocol):
    """Anything that turns text into token character offsets (a Hugging Face fast tokenizer does)."""

    def __call__(self, text: str) -> list[tuple[int, int]]: ...


@dataclass(frozen=True)
class Window:
    """One chunk: token and character ranges (end exclusive) into the document's text."""

    position: int
    token_start: int
    token_end: int
    char_start: int
    char_end: int


def hf_offsets(tokenizer: object) -> OffsetTokenizer:
    """Adapt a Hugging Face fast tokenizer to an ``OffsetTokenizer`` (no special tokens)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ConfigurationError(
            "The embedding model's tokenizer is not a fast tokenizer; offsets are needed."
        )
    # A private copy: the model's tokenizer turns truncation back on (at the model limit)
    # every time it encodes a batch, which would silently cut our long blocks short.
    private = Tokenizer.from_str(backend.to_str())
    private.no_truncation()
    private.no_padding()

    def offsets(text: str) -> list[tuple[int, int]]:
        return list(private.encode(text, add_special_tokens=False).offsets)

    return offsets


class SlidingWindowChunker:
    """Cuts text into windows of ``window`` tokens that overlap by exactly ``overlap`` tokens.

    A window may end up to ``slack`` tokens early so that it ends on a sentence boundary.
    """

    def __init__(
        self,
        tokenize: OffsetTokenizer,
        *,
        window: int = 200,
        overlap: int = 50,
        slack: int = 30,
        block_chars: int = 50_000,
    ) -> None:
        if window < 1 or overlap < 0 or slack < 0:
            raise ConfigurationError("Chunk window must be positive; overlap and slack non-negative.")
        if overlap >= window - slack:
            raise ConfigurationError(
                f"Chunk overlap ({overlap}) must be smaller than window ({window}) minus slack ({slack})."
            )
        self._tokenize = tokenize
        self.window = window
        self.overlap = overlap
        self.slack = slack
        self.block_chars = block_chars

    def windows(self, text: str) -> Iterator[Window]:
        """Yield the windows of ``text`` in order."""
        tokens: list[tuple[int, int]] = []  # offsets of tokens base, base+1, ...
        base = 0
        stream = self._token_stream(text)
        exhausted = False
        start = 0
        position = 0
        while True:
            while not exhausted and base + len(tokens) < start + self.window + 1:
                nxt = next(stream, None)
                if nxt is None:
                    exhausted = True
                else:
                    tokens.append(nxt)
            total = base + len(tokens)
            if total <= start:
                return
            if exhausted and total - start <= self.window:
                end = total
            else:
                end = self._boundary_end(text, tokens, base, start + self.window)
            yield Window(position, start, end, tokens[start - base][0], tokens[end - 1 - base][1])
            if end >= total and exhausted:
                return
            position += 1
            start = end - self.overlap
            del tokens[: start - base]
            base = start

    def _boundary_end(self, text: str, tokens: list[tuple[int, int]], base: int, end: int) -> int:
        """The latest window end within ``slack`` tokens of ``end`` that closes a sentence."""
        for candidate in range(end, end - self.slack - 1, -1):
            last = tokens[candidate - 1 - base]
            following = tokens[candidate - base]
            gap = text[last[1] : following[0]]
            if "\n" in gap or (gap and text[last[1] - 1] in SENTENCE_END):
                return candidate
        return end

    def _token_stream(self, text: str) -> Iterator[tuple[int, int]]:
        """Token offsets of the whole text, tokenized in blocks cut at whitespace."""
        offset = 0
        n = len(text)
        while offset < n:
            cut = min(n, offset + self.block_chars)
            if cut < n:
                # Cut at whitespace so that no token straddles two blocks.
                space = max(text.rfind(c, offset, cut) for c in " \n\t\r")
                if space > offset:
                    cut = space
            tokens = [(s, e) for s, e in self._tokenize(text[offset:cut]) if e > s]
            if cut < n and len(tokens) > 1 and not text[cut].isspace():
                # No whitespace to cut at: the last token may be cut short, so the next
                # block starts again from it.
                cut = offset + tokens.pop()[0]
            for s, e in tokens:
                yield offset + s, offset + e
            offset = cut
