"""A real instruct model in process: Qwen2.5-Coder-0.5B-Instruct through llama.cpp and the
model's own chat template.

The model is not part of the default install (492 MB); ``scripts/test.sh`` installs it
(``scripts/setup.sh --model qwen2.5-coder-0.5b-instruct``), so CI runs these tests. Where
it is not installed they are skipped, saying how to install it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from attest.answers import Answerer
from attest.core.settings import Settings
from attest.generation.backends import LlamaCppGenerator
from attest.generation.chat import Condenser, Turn
from attest.generation.models import MODELS, part_files
from attest.generation.prompts import CHAT_INSTRUCTIONS, INSTRUCTIONS
from attest.ingest.pipeline import IngestPipeline
from attest.text.embedder import SentenceTransformerEmbedder

QWEN = MODELS["qwen2.5-coder-0.5b-instruct"]
DEMO = Path(__file__).resolve().parents[2] / "attest/demo_kb"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        part_files(QWEN) is None,
        reason=f"{QWEN.name} is not installed (scripts/test.sh installs it: {QWEN.install})",
    ),
]


@pytest.fixture(scope="module")
def qwen() -> LlamaCppGenerator:
    generator = LlamaCppGenerator(QWEN.name, context_tokens=2048)
    assert generator.uses_chat()  # its file carries a chat template
    return generator


@pytest.fixture
def demo(
    settings: Settings,
    engine: Engine,
    embedder: SentenceTransformerEmbedder,
    qwen: LlamaCppGenerator,
    tmp_path: Path,
) -> Iterator[Answerer]:
    folder = tmp_path / "handbook"
    folder.mkdir()
    for name in ("onboarding_checklist.md", "annual_leave_and_holidays.txt"):
        shutil.copy(DEMO / name, folder / name)
    IngestPipeline(settings, engine=engine, embedder=embedder).run("demo", [folder])
    settings = settings.model_copy(update={"generator": "llama_cpp", "llm_model": QWEN.name})
    service = Answerer(engine, settings, embedder=embedder)
    service.generator = qwen  # the model loaded once for the module
    yield service


def test_an_instruct_model_answers_a_demo_question_with_a_valid_citation(demo: Answerer) -> None:
    answer = demo.ask("demo", "How long is the probation period for new employees?")
    assert answer.backend == "llama_cpp" and answer.answered, answer.reason
    assert "6 months" in answer.text and "\n\n" not in answer.text.strip()
    assert answer.citations and not answer.invalid_citations, answer.text
    cited = {c.number for c in answer.citations}
    assert any(s.passage and s.passage.number in cited and "6 months" in s.text for s in answer.sources)


def test_the_models_own_chat_template_is_used_not_the_few_shot_text(
    demo: Answerer, qwen: LlamaCppGenerator
) -> None:
    demo.ask("demo", "How many days of annual leave do full-time employees get?")
    llama = qwen.llama
    read = llama.detokenize(llama.input_ids[: llama.n_tokens].tolist(), special=True).decode(
        "utf-8", "replace"
    )
    assert read.startswith("<|im_start|>system\n" + CHAT_INSTRUCTIONS[:60])  # Qwen's ChatML template
    assert "<|im_start|>assistant\n" in read and "<|im_start|>user\nSources:\n[1]" in read
    assert INSTRUCTIONS not in read and "\nAnswer:" not in read  # none of the base model's prompt


def test_follow_ups_are_rewritten_by_the_instruct_model(qwen: LlamaCppGenerator) -> None:
    history = [Turn("How many days of annual leave do full-time employees get?", "27 days a year [1].")]
    rewrite = Condenser(qwen)("and part-time employees?", history)
    assert "part-time" in rewrite.lower() and "leave" in rewrite.lower()
    assert rewrite != "How many days of annual leave do full-time employees get? and part-time employees?"
