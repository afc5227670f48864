"""The prompt: numbered sources, the question, and how to answer or decline, in two forms.

* For a *base* model (Gemma 3 270M, not instruction-tuned), which continues text rather
  than follows instructions, the prompt is a document to continue (:attr:`Prompt.text`):
  two worked examples in the exact shape expected (one answered with a citation, one
  declined), then the real sources and question, ending at ``Answer:``.
* For a *chat* model (an instruct GGUF through its own chat template, or an
  OpenAI-compatible endpoint), the prompt is messages (:attr:`Prompt.messages`): the
  instructions as the system message, one worked example as a user and an assistant turn,
  then the sources and the question. The worked example answers; it does not decline. A
  small instruct model shown a declined example, and told to "reply exactly" a decline
  phrase, declined most questions its sources did answer (docs/benchmarks.md), and Attest
  already declines before asking any model when no passage answers (the reader's gate).

Both forms put everything that does not change between questions first, so that
llama.cpp reuses its computation of that prefix from one question to the next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from attest.generation.citations import quote
from attest.retrieval.context import Context


@dataclass(frozen=True)
class Prompt:
    """A completion prompt for base models, and the same as chat messages for chat models."""

    text: str  # the whole prompt, for completion (base) models
    messages: tuple[tuple[str, str], ...]  # (role, content) pairs, for chat models
    stop: tuple[str, ...] = ()  # where a completion ends


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


CHAT_INSTRUCTIONS = (
    "You answer employees' questions using only the numbered sources you are given. Answer "
    "in one to three short sentences, in your own words or the sources' words, and put the "
    "number of the source you used after each sentence, like [1]. Use only names, numbers "
    "and facts that the sources state. If the question has two parts, answer both. If the "
    f"sources do not contain the answer at all, reply: {NOT_FOUND}."
)
CHAT_EXAMPLE = (
    "[1] Travel policy\nTrain travel is booked in second class. Flights need a manager's approval "
    "when the trip takes less than four hours by train.\n\n[2] Expenses\nReceipts are uploaded "
    "within 30 days of the purchase. Hotel nights are refunded up to the rate in the table below.",
    "Do I need approval to fly, and how long do I have to upload receipts?",
    "You need your manager's approval to fly when the trip takes less than four hours by "
    "train [1]. Receipts must be uploaded within 30 days of the purchase [2].",
)


# Repeated after each question: small instruct models follow the last instruction best.
CHAT_REMINDER = "Answer briefly from the sources, with the source number after each sentence, like [1]."


def _chat_user(sources: str, question: str) -> str:
    return f"Sources:\n{sources}\n\nQuestion: {question}\n{CHAT_REMINDER}"


def build_prompt(context: Context, question: str, *, strict: bool = False) -> Prompt:
    """The prompt that asks for an answer to ``question`` from ``context``'s passages.

    ``strict`` adds an instruction to stay with the sources' own words; the ``regenerate``
    verification policy uses it for its second try. Bracketed numbers in the sources are
    quoted as text (:func:`~attest.generation.citations.quote`): copied into the answer,
    they stay text instead of citing a passage.
    """
    sources, question = render_sources(context), question.strip()
    examples = "".join(_block(*example) for example in EXAMPLES)
    instructions = INSTRUCTIONS + (STRICT if strict else "")
    sources_shown, asked, answered = CHAT_EXAMPLE
    return Prompt(
        text=f"{instructions}\n\n{examples}{_block(sources, question)}",
        messages=(
            ("system", CHAT_INSTRUCTIONS + (STRICT if strict else "")),
            ("user", _chat_user(sources_shown, asked)),
            ("assistant", answered),
            ("user", _chat_user(sources, question)),
        ),
        stop=(SEPARATOR, "\nQuestion:", "\nSources:"),
    )


def render_sources(context: Context) -> str:
    """The passages as the prompt shows them, their titles' and texts' bracketed numbers quoted."""
    quoted = (replace(p, title=quote(p.title), text=quote(p.text)) for p in context.passages)
    return "\n\n".join(p.render() for p in quoted)


# What a chat template adds around each message (role markers, separators), at most.
TEMPLATE_TOKENS_PER_MESSAGE = 8


def prompt_overhead(question: str, count: Callable[[str], int], *, chat: bool = False) -> int:
    """The tokens of the prompt's ``chat`` or completion form without its sources, counted by
    ``count``, to size the sources' budget: the prompt built with no passages (the chat form
    with the ``regenerate`` policy's longer instructions, and its template's tokens on top)."""
    empty = build_prompt(Context(passages=(), tokens=0, budget_tokens=0, dropped=0), question, strict=chat)
    if not chat:
        return count(empty.text)
    texts = [content for _, content in empty.messages]
    return sum(count(text) for text in texts) + TEMPLATE_TOKENS_PER_MESSAGE * len(texts)


def declines(answer: str) -> bool:
    """Whether the model said the sources do not hold the answer."""
    text = " ".join(answer.split()).upper()
    return not text or NOT_FOUND in text or text.startswith(("I DON'T KNOW", "I DO NOT KNOW"))
