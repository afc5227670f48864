"""The answer backends by name: ``ATTEST_GENERATOR`` picks one of :class:`GeneratorName`.

Settings only accept a name listed there, so an unknown name fails when the settings are
read, with the valid names in the message; each name's factory is registered here, and a
test checks that every name has one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from attest.core.enums import GeneratorName
from attest.core.settings import Settings
from attest.generation.backends import Generator, LlamaCppGenerator, OpenAIGenerator
from attest.generation.extractive import ExtractiveGenerator
from attest.reader.reading import PassageReader

Factory = Callable[[Settings, PassageReader], Generator]


def _llama_cpp(settings: Settings, reader: PassageReader) -> Generator:
    return LlamaCppGenerator(
        settings.llm_model,
        context_tokens=settings.llm_context_tokens,
        threads=settings.llm_threads,
    )


def _openai(settings: Settings, reader: PassageReader) -> Generator:
    return OpenAIGenerator(
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        api_key=settings.openai_api_key.get_secret_value(),
        timeout_s=settings.openai_timeout_s,
        max_retries=settings.openai_max_retries,
    )


def _extractive(settings: Settings, reader: PassageReader) -> Generator:
    return ExtractiveGenerator(reader)


GENERATORS: Mapping[GeneratorName, Factory] = {
    GeneratorName.EXTRACTIVE: _extractive,
    GeneratorName.LLAMA_CPP: _llama_cpp,
    GeneratorName.OPENAI: _openai,
}


def make_generator(settings: Settings, reader: PassageReader) -> Generator:
    """The backend ``ATTEST_GENERATOR`` names."""
    return GENERATORS[settings.generator](settings, reader)
