"""Follow-up questions become standalone queries; unrelated ones stand alone; history is bounded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from attest.core.errors import GenerationError
from attest.generation.backends import LlamaCppGenerator
from attest.generation.chat import Condenser, Turn, is_follow_up, standalone_query
from attest.generation.prompts import Prompt
from attest.text.embedder import SentenceTransformerEmbedder
from tests.conftest import extractive

pytestmark = pytest.mark.unit

LEAVE = Turn("How many days of annual leave do full-time employees get?", "27 days [1].")


@pytest.mark.parametrize(
    "question",
    [
        "and for contractors?",
        "What about part-time staff?",
        "Does it carry over to next year?",
        "Contractors?",
    ],
)
def test_follow_ups_are_joined_to_the_previous_question(question: str) -> None:
    assert is_follow_up(question)
    assert standalone_query(question, [LEAVE]) == f"{LEAVE.question} {question}"


def test_a_new_question_stands_alone() -> None:
    question = "What is the daily meal allowance when travelling abroad?"
    assert not is_follow_up(question)
    assert standalone_query(question, [LEAVE]) == question


def test_only_the_last_turns_count() -> None:
    old, recent = Turn("Who approves travel?"), Turn("How long is parental leave for a primary caregiver?")
    assert standalone_query("and for adoptions?", [old, recent]) == f"{recent.question} and for adoptions?"
    assert standalone_query("and for adoptions?", [old, recent], max_turns=0) == "and for adoptions?"
    assert standalone_query("  and   for adoptions? ", []) == "and for adoptions?"
    assert standalone_query("and?", [Turn("  ")]) == "and?"


class Rewriter:
    """A language model that always replies ``reply``: it stands in for rewrites (good or
    unusable) that the real small model cannot be made to produce on demand."""

    name = "rewriter"

    def __init__(self, reply: str, fails: bool = False) -> None:
        self.reply, self.fails, self.prompts = reply, fails, []  # type: ignore[var-annotated]

    def uses_chat(self) -> bool:
        return False  # a base model: it gets the few-shot text

    def complete(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        self.prompts.append(prompt)
        if self.fails:
            raise GenerationError("the endpoint is down")
        yield self.reply

    def stream(self, context: object, question: str, max_tokens: int) -> Iterator[str]:
        yield ""

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_the_model_rewrites_follow_ups_from_the_bounded_history() -> None:
    model = Rewriter("How many days of annual leave do contractors get?")
    old = [Turn(f"Unrelated question number {i}?", "Something.") for i in range(10)]
    condense = Condenser(model, max_turns=2)  # type: ignore[arg-type]
    assert condense("and for contractors?", [*old, LEAVE]) == model.reply
    prompt = model.prompts[0].text
    assert prompt.endswith("Follow-up: and for contractors?\nStandalone question:")
    assert LEAVE.question in prompt and "number 9" in prompt and "number 8" not in prompt


def test_questions_that_stand_alone_never_reach_the_model() -> None:
    model = Rewriter("anything")
    condense = Condenser(model)  # type: ignore[arg-type]
    assert condense("What is the daily meal allowance when travelling abroad?", [LEAVE]).startswith("What")
    assert condense("and for contractors?", []) == "and for contractors?"
    assert model.prompts == []


@pytest.mark.parametrize("reply", ["", "   ", "word " * 60, "and for contractors?"])
def test_an_unusable_rewrite_falls_back_to_the_heuristic(reply: str) -> None:
    condense = Condenser(Rewriter(reply))  # type: ignore[arg-type]
    assert condense("and for contractors?", [LEAVE]) == f"{LEAVE.question} and for contractors?"


def test_a_failing_model_falls_back_to_the_heuristic() -> None:
    condense = Condenser(Rewriter("x", fails=True))  # type: ignore[arg-type]
    assert condense("and for contractors?", [LEAVE]) == f"{LEAVE.question} and for contractors?"


def test_without_a_language_model_the_heuristic_rewrites(embedder: SentenceTransformerEmbedder) -> None:
    condense = Condenser(extractive(embedder))
    assert condense.model is None
    assert condense("and for contractors?", [LEAVE]) == f"{LEAVE.question} and for contractors?"


@pytest.mark.integration
def test_the_real_local_model_rewrites_to_one_line(llama: LlamaCppGenerator) -> None:
    rewrite = Condenser(llama)("and for contractors?", [LEAVE])
    assert rewrite and "\n" not in rewrite and len(rewrite.split()) <= 40
