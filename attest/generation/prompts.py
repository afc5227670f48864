"""The prompt: numbered sources, the question, and how to answer or decline.

The default local model is a *base* model (Gemma 3 270M, not instruction-tuned), which
continues text rather than follows instructions. So the prompt is also a document to
continue: two worked examples in the exact shape expected (one answered with a
citation, one declined), then the real sources and question, ending at ``Answer:``.
Chat models get the same material as a system message (the instructions) and a user
message (the examples, sources and question).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from attest.generation.citations import quote
from attest.retrieval.context import Context


@dataclass(frozen=True)
class Prompt:
    """A completion prompt for base models, and the same as chat messages for chat models."""

    text: str  # the whole prompt, for completion models
    system: str  # the instructions alone, for chat models
    user: str  # the examples, sources and question, for chat models
    stop: tuple[str, ...] = ()


NOT_FOUND = "NOT IN THE DOCUMENTS"
SEPARATOR = "###"

INSTRUCTIONS = (
    "Answer the question using only the numbered sources. Answer in one or two short sentences "
    "and put the number of the source you used after each sentence, like [1]. "
    f"If the sources do not contain the answer, reply exactly: {NOT_FOUND}"
)

EXAMPLES = (
    (
        "[1] Travel policy\nTrain travel is booked in second class. Flights need a manager's "
        "approval when the trip takes less than four hours by train.\n\n"
        "[2] Expenses\nReceipts are uploaded within 30 days of the purchase.",
        "Within how many days must receipts be uploaded?",
        "Receipts must be uploaded within 30 days of the purchase [2].",
    ),
    (
        "[1] Office hours\nThe office is open from 8:00 to 19:00 on weekdays and closed on public holidays.",
        "How many days of parental leave do fathers get?",
        NOT_FOUND,
    ),
)


def _block(sources: str, question: str, answer: str = "") -> str:
    tail = f" {answer}\n{SEPARATOR}\n\n" if answer else ""
    return f"Sources:\n{sources}\n\nQuestion: {question}\nAnswer:{tail}"


STRICT = (
    " Copy the facts exactly as the sources state them: no name, number or claim that the "
    "sources do not contain."
)


def build_prompt(context: Context, question: str, *, strict: bool = False) -> Prompt:
    """The prompt that asks for an answer to ``question`` from ``context``'s passages.

    ``strict`` adds an instruction to stay with the sources' own words; the ``regenerate``
    verification policy uses it for its second try. Bracketed numbers in the sources are
    quoted as text (:func:`~attest.generation.citations.quote`): copied into the answer,
    they stay text instead of citing a passage.
    """
    examples = "".join(_block(*example) for example in EXAMPLES)
    current = _block(render_sources(context), question.strip())
    instructions = INSTRUCTIONS + (STRICT if strict else "")
    return Prompt(
        text=f"{instructions}\n\n{examples}{current}",
        system=instructions,
        user=f"{examples}{current}",
        stop=(SEPARATOR, "\nQuestion:", "\nSources:"),
    )


def render_sources(context: Context) -> str:
    """The passages as the prompt shows them, their titles' and texts' bracketed numbers quoted."""
    quoted = (replace(p, title=quote(p.title), text=quote(p.text)) for p in context.passages)
    return "\n\n".join(p.render() for p in quoted)


def prompt_overhead(question: str) -> str:
    """Everything of the prompt except the sources, to size the sources' token budget."""
    examples = "".join(_block(*example) for example in EXAMPLES)
    return f"{INSTRUCTIONS}\n\n{examples}{_block('', question)}"


def declines(answer: str) -> bool:
    """Whether the model said the sources do not hold the answer."""
    text = " ".join(answer.split()).upper()
    return not text or NOT_FOUND in text or text.startswith(("I DON'T KNOW", "I DO NOT KNOW"))
