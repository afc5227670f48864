"""The extractive backend: no model, the answer is the passages' best sentences, cited.

It needs only the embedding model retrieval already loaded: every sentence of the packed
passages is embedded and the ones closest to the question are returned, in passage order,
each followed by its citation. It is also the fallback when the configured LLM fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from attest.generation.prompts import NOT_FOUND
from attest.ingest.embedder import Embedder
from attest.retrieval.context import Context
from attest.retrieval.tokenize import Tokenizer, TokenizerConfig

# A sentence ends at . ! ? before whitespace, or at a blank line; single line breaks inside
# a paragraph (hard-wrapped text) do not end it.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
MIN_WORDS = 4
KEEP_WITHIN = 0.05  # a second sentence is added when it is almost as close as the best
# A conversation's standalone query is "earlier question? follow-up?": the follow-up says what
# is asked, the earlier question what it is about, so the follow-up weighs more.
_QUESTION_END = re.compile(r"(?<=\?)\s+")
LAST_QUESTION_WEIGHT = 0.7
# Only the sentences sharing most content words with the question are embedded: embedding
# every sentence of eight long passages took up to 2 s on two cores.
MAX_EMBEDDED = 24
_words = Tokenizer(TokenizerConfig(lowercase=True, stopwords=True, stemming=True))


class ExtractiveGenerator:
    """Answers with the one or two passage sentences closest to the question."""

    name = "extractive"

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def answer(self, context: Context, question: str) -> str:
        """The best sentences, each with its ``[n]``; ``NOT_FOUND`` when there are none."""
        candidates = [
            (passage.number, " ".join(sentence.split()))
            for passage in context.passages
            for sentence in _SENTENCE_END.split(passage.text)
            if len(sentence.split()) >= MIN_WORDS
        ]
        if not candidates:
            return NOT_FOUND
        candidates = _shortlist(candidates, question)
        vectors = self.embedder.embed([question, *(text for _, text in candidates)])
        target = vectors[0]
        questions = _QUESTION_END.split(question.strip())
        if len(questions) > 1:
            last = self.embedder.embed([questions[-1]])[0]
            target = LAST_QUESTION_WEIGHT * last + (1 - LAST_QUESTION_WEIGHT) * target
        scores = vectors[1:] @ target
        order = np.argsort(-scores)
        chosen = [int(order[0])]
        if len(order) > 1 and scores[order[1]] >= scores[order[0]] - KEEP_WITHIN:
            chosen.append(int(order[1]))
        return " ".join(f"{candidates[i][1]} [{candidates[i][0]}]" for i in sorted(chosen))

    def stream(self, context: Context, question: str, max_tokens: int) -> Iterator[str]:
        """The whole answer as one piece (there is nothing to stream)."""
        yield self.answer(context, question)


def _shortlist(candidates: list[tuple[int, str]], question: str) -> list[tuple[int, str]]:
    """The :data:`MAX_EMBEDDED` candidates sharing most content words with ``question``, in order."""
    if len(candidates) <= MAX_EMBEDDED:
        return candidates
    asked = set(_words(question))
    overlap = [len(asked & set(_words(text))) for _, text in candidates]
    keep = sorted(sorted(range(len(candidates)), key=lambda i: -overlap[i])[:MAX_EMBEDDED])
    return [candidates[i] for i in keep]
