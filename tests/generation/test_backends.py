"""Generation backends with real models: llama.cpp in-process, and llama.cpp's OpenAI-compatible server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from attest.core.errors import ConfigurationError, GenerationError
from attest.generation.backends import LlamaCppGenerator, OpenAIGenerator
from attest.generation.citations import parse_citations
from attest.generation.prompts import (
    CHAT_INSTRUCTIONS,
    CHAT_REMINDER,
    INSTRUCTIONS,
    NOT_FOUND,
    build_prompt,
    declines,
)
from attest.retrieval.context import Context, build_context
from tests.doubles import chunk_record, hit
from tests.llama_server import API_KEY, MODEL_ALIAS, free_port, start_llama_server

pytestmark = pytest.mark.integration

DOC = (
    "Expense policy\n\nHotel costs are refunded up to 140 euros a night in Paris and 110 euros a night "
    "anywhere else. Receipts are uploaded within 30 days."
)


def context() -> Context:
    chunk = chunk_record(1, 1, DOC, token_end=40, title="Expenses", source_uri="expenses.md")
    return build_context([hit(chunk)], 1000, lambda s: len(s.split()))


def test_prompt_shows_numbered_sources_and_ends_at_answer() -> None:
    prompt = build_prompt(context(), "How much is refunded for a hotel night in Paris?")
    assert "[1] Expenses\n" + DOC in prompt.text
    assert prompt.text.rstrip().endswith(
        "Question: How much is refunded for a hotel night in Paris?\nAnswer:"
    )
    system, *_, (role, last) = prompt.messages
    assert system[0] == "system" and NOT_FOUND in system[1]
    assert role == "user" and last.endswith(
        f"Question: How much is refunded for a hotel night in Paris?\n{CHAT_REMINDER}"
    )
    assert "[1] Expenses\n" + DOC in last  # chat models get the same sources
    assert declines(f"  {NOT_FOUND}.") and declines("") and not declines("It is 140 euros [1].")


def test_prompt_shows_a_sources_own_bracketed_numbers_as_text() -> None:
    """A document's footnote ``[2]`` reaches the model quoted (#17 item 16): copied into the
    answer as given, it is text, not a citation of passage 2; the prompt's own ``[1]`` stays."""
    footnoted = replace(context().passages[0], title="Expenses [3]", text=DOC + " See the travel annex [2].")
    prompt = build_prompt(replace(context(), passages=(footnoted,)), "What does the annex say?")
    sources = prompt.text[prompt.text.rindex("Sources:") :]
    assert "[1] Expenses [\u20603]\n" in sources and "travel annex [\u20602]." in sources
    assert [mark.numbers for mark in parse_citations(sources)] == [(1,)]
    chat_sources = sources.removesuffix("\nAnswer:").rstrip()
    assert prompt.messages[-1][1] == f"{chat_sources}\n{CHAT_REMINDER}"  # chat models: the same sources


def test_llama_cpp_streams_an_answer(llama: LlamaCppGenerator) -> None:
    pieces = list(llama.stream(context(), "How much is refunded for a hotel night in Paris?", max_tokens=40))
    text = "".join(pieces)
    assert len(pieces) > 1 and text.strip()  # streamed piece by piece
    assert "###" not in text and "Question:" not in text  # stopped at the end of the answer


def test_a_base_model_gets_the_few_shot_text_not_a_chat_template(llama: LlamaCppGenerator) -> None:
    """Gemma 3 270M's file carries no chat template: it continues the worked examples."""
    assert not llama.uses_chat()
    list(llama.stream(context(), "How much is refunded for a hotel night in Paris?", max_tokens=5))
    model = llama.llama
    read = model.detokenize(model.input_ids[: model.n_tokens].tolist()).decode("utf-8", "replace")
    assert INSTRUCTIONS in read
    assert "Question: How much is refunded for a hotel night in Paris?\nAnswer:" in read
    assert CHAT_INSTRUCTIONS not in read


def test_llama_cpp_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        LlamaCppGenerator(tmp_path / "missing.gguf").count_tokens("x")
    (tmp_path / "broken.gguf").write_bytes(b"not a model")
    with pytest.raises(ConfigurationError, match="cannot load"):
        LlamaCppGenerator(tmp_path / "broken.gguf").count_tokens("x")
    small = LlamaCppGenerator(context_tokens=256)
    with pytest.raises(GenerationError, match="could not answer"):
        list(small.stream(context(), "word " * 400, max_tokens=10))


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The real llama.cpp OpenAI-compatible server with the small model, on a free port."""
    url, proc = start_llama_server()
    yield url, proc
    proc.terminate()
    proc.wait(timeout=30)


def test_openai_backend_streams_from_a_real_server(server: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, _proc = server
    generator = OpenAIGenerator(base_url=url, model=MODEL_ALIAS, api_key=API_KEY, timeout_s=60, max_retries=0)
    pieces = list(generator.stream(context(), "How much is refunded for a hotel night in Paris?", 30))
    assert len(pieces) > 1 and "".join(pieces).strip()


def test_openai_backend_wrong_key(server: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, _proc = server
    generator = OpenAIGenerator(base_url=url, model=MODEL_ALIAS, api_key="wrong", timeout_s=30, max_retries=0)
    with pytest.raises(GenerationError, match="rejected the API key"):
        list(generator.stream(context(), "Anything?", 5))


def test_openai_backend_server_down() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    generator = OpenAIGenerator(base_url=url, model=MODEL_ALIAS, api_key=API_KEY, timeout_s=5, max_retries=1)
    with pytest.raises(GenerationError, match="Cannot reach"):
        list(generator.stream(context(), "Anything?", 5))
    with pytest.raises(ConfigurationError, match="ATTEST_OPENAI_BASE_URL"):
        OpenAIGenerator(base_url="", model=MODEL_ALIAS, api_key="")


def test_openai_backend_server_stopped_mid_conversation(server: tuple[str, subprocess.Popen[bytes]]) -> None:
    """Runs last in this module: it stops the shared server."""
    url, proc = server
    generator = OpenAIGenerator(base_url=url, model=MODEL_ALIAS, api_key=API_KEY, timeout_s=30, max_retries=1)
    assert "".join(generator.stream(context(), "How much for a hotel night in Paris?", 10)).strip()
    proc.terminate()
    proc.wait(timeout=30)
    with pytest.raises(GenerationError, match="Cannot reach"):
        list(generator.stream(context(), "And anywhere else?", 10))
