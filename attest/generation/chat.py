"""Conversations: a follow-up question is rewritten into a standalone query before retrieval.

"How many days of annual leave do employees get?" then "and contractors?": retrieval needs
both to find the right passage. A question that reads as a follow-up (it starts with a
connective such as "and" or "what about", leans on a pronoun, or is only a few words long)
is rewritten; any other question stands alone, at no cost.

The rewrite is the language model's when the generator has one (:class:`Condenser`: a
few-shot prompt for a base model, the same examples as chat turns for an instruct model),
and a heuristic otherwise or when the model's rewrite is unusable: the follow-up joined to
the previous question. Only the last ``max_turns`` turns are looked at, so a long
conversation costs no more than a short one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from attest.core.errors import GenerationError
from attest.generation.backends import Generator, LanguageModel
from attest.generation.prompts import SEPARATOR, Prompt

_CONNECTIVE = re.compile(r"^\s*(and|or|but|also|what about|how about|same for|what if)\b", re.IGNORECASE)
_PRONOUN = re.compile(
    r"\b(it|its|they|them|their|that|those|these|this|he|she|his|her|there)\b", re.IGNORECASE
)
SHORT_WORDS = 4


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation."""

    question: str
    answer: str = ""


def is_follow_up(question: str) -> bool:
    """Whether ``question`` probably depends on what was asked before."""
    words = question.split()
    return bool(_CONNECTIVE.match(question) or _PRONOUN.search(question) or len(words) <= SHORT_WORDS)


def standalone_query(question: str, history: Sequence[Turn], max_turns: int = 4) -> str:
    """The query to retrieve with: ``question`` itself, or joined to the last question asked."""
    question = " ".join(question.split())
    recent = [turn for turn in history[-max_turns:] if turn.question.strip()] if max_turns > 0 else []
    if not recent or not is_follow_up(question):
        return question
    previous = " ".join(recent[-1].question.split())
    return f"{previous} {question}"


CONDENSE_INSTRUCTIONS = (
    "Rewrite the follow-up as a standalone question that can be understood without the "
    "conversation. Reply with the question only."
)
CONDENSE_EXAMPLES = (
    (
        (Turn("How many days of annual leave do employees get?", "Employees get 27 days a year [1]."),),
        "and contractors?",
        "How many days of annual leave do contractors get?",
    ),
    (
        (Turn("Who approves travel to conferences?", "The team lead approves it [2]."),),
        "Is a train ticket in first class refunded for it?",
        "Is a first-class train ticket to a conference refunded?",
    ),
)
MAX_REWRITE_TOKENS = 48
MAX_REWRITE_WORDS = 40


def _conversation(history: Sequence[Turn], question: str) -> str:
    lines = [f"Q: {' '.join(turn.question.split())}\nA: {' '.join(turn.answer.split())}" for turn in history]
    return "Conversation:\n" + "\n".join(lines) + f"\nFollow-up: {question}"


def _conversation_block(history: Sequence[Turn], question: str, rewrite: str = "") -> str:
    tail = f" {rewrite}\n{SEPARATOR}\n\n" if rewrite else ""
    return f"{_conversation(history, question)}\nStandalone question:{tail}"


def condense_prompt(history: Sequence[Turn], question: str) -> Prompt:
    """The prompt that asks a model to make ``question`` standalone: few-shot text for a base
    model, the same examples as earlier turns for a chat model."""
    examples = "".join(_conversation_block(*example) for example in CONDENSE_EXAMPLES)
    turns: list[tuple[str, str]] = [("system", CONDENSE_INSTRUCTIONS)]
    for past, follow_up, rewrite in CONDENSE_EXAMPLES:
        turns += [("user", _conversation(past, follow_up)), ("assistant", rewrite)]
    return Prompt(
        text=f"{CONDENSE_INSTRUCTIONS}\n\n{examples}{_conversation_block(history, question)}",
        messages=(*turns, ("user", _conversation(history, question))),
        stop=(SEPARATOR, "\n"),
    )


class Condenser:
    """Makes follow-up questions standalone: with the generator's model when it has one."""

    def __init__(self, generator: Generator, max_turns: int = 4) -> None:
        self.model = generator if isinstance(generator, LanguageModel) else None
        self.max_turns = max_turns

    def __call__(self, question: str, history: Sequence[Turn]) -> str:
        question = " ".join(question.split())
        joined = standalone_query(question, history, self.max_turns)
        if joined == question or self.model is None:
            return joined  # not a follow-up (or no history), or no model to rewrite with
        recent = [turn for turn in history[-self.max_turns :] if turn.question.strip()]
        try:
            text = "".join(self.model.complete(condense_prompt(recent, question), MAX_REWRITE_TOKENS))
        except GenerationError:
            return joined
        rewrite = " ".join(text.split())
        usable = 0 < len(rewrite.split()) <= MAX_REWRITE_WORDS and rewrite.lower() != question.lower()
        return rewrite if usable else joined
