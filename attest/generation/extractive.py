"""The extractive backend: no language model; the answer is the passages' own units, cited.

The passages are cut into answer units (:mod:`attest.text.units`: sentences, list items,
table rows rendered with their column names; never a heading or a header row) and the
reader model and the answer model (:mod:`attest.reader.reading`) score each shortlisted
unit with the question. The answer is the best unit and every other unit scoring at least
the calibrated ``answer`` threshold, up to ``cap``, in passage order; each part of a
two-part question is also read as a question of its own, so that each part gets its unit.
When the answer model declines (``AnswerModel.declines``: no unit reaches ``decline``, or the
reader alone gives none ``decline_reader``) the backend answers :data:`NOT_FOUND`. It is also
the fallback when the configured LLM fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from attest.generation.citations import quote
from attest.generation.prompts import NOT_FOUND
from attest.reader.reading import PassageReader
from attest.retrieval.context import Context
from attest.text.units import as_sentence


class ExtractiveGenerator:
    """Answers with the passage units the reader finds answer the question."""

    name = "extractive"

    def __init__(self, reader: PassageReader) -> None:
        self.reader = reader

    @staticmethod
    def count_tokens(text: str) -> int:
        return len(text.split())

    def answer(self, context: Context, question: str) -> str:
        """The chosen units, each with its ``[n]``; :data:`NOT_FOUND` when none answers.

        A list item is quoted after its list's lead-in ("The primary caregiver may take: 26
        weeks of leave at full pay."), once for the items of one list; the lead-in is not
        quoted again on its own.
        A unit's own bracketed numbers (a footnote's ``[2]``) are quoted as text, so that
        only the ``[n]`` placed here cites a passage. A unit without end punctuation (a table
        row) gets a full stop, so that the checker reads each unit as a claim of its own.
        """
        reading = self.reader.read_context(question, context.passages)
        readings = self.reader.read_parts(question, context.passages)
        model = self.reader.model
        if model.declines(reading, readings):
            return NOT_FOUND
        chosen = reading.answer(model.answer, model.cap, readings, model.decline, model.relative)
        leads = {(c.number, c.unit.lead) for c in chosen if c.unit.lead}
        pieces, said = [], set()
        for c in chosen:
            unit = c.unit
            if (c.number, unit.text) in leads:
                continue  # the lead-in sentence: its items say it
            if unit.lead:
                if (c.number, unit.lead) in said:
                    unit = replace(unit, lead="")  # said with an earlier item of its list
                said.add((c.number, c.unit.lead))
            pieces.append(f"{quote(as_sentence(unit.read_as))} [{c.number}]")
        return " ".join(pieces)

    def stream(self, context: Context, question: str, max_tokens: int) -> Iterator[str]:
        """The whole answer as one piece (there is nothing to stream)."""
        yield self.answer(context, question)
