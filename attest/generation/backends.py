"""Text generators behind one small interface, chosen by name in the settings.

* ``llama_cpp``: llama.cpp in this process (``llama-cpp-python``): a named model of
  :mod:`attest.generation.models` or any GGUF file. A file whose metadata holds a chat
  template (``tokenizer.chat_template``, which instruct models carry) is spoken to as a
  chat model through that template; a base model gets the few-shot completion prompt.
* ``openai``: any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, the llama.cpp server)
  through LangChain's ``ChatOpenAI``, with a timeout and retries.
* ``extractive`` (in :mod:`attest.generation.extractive`) needs no model at all.

A generator streams text: :meth:`Generator.stream` yields pieces as they are produced, and
every failure of the model or the endpoint surfaces as a :class:`GenerationError` whose
message names the backend and what to check.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from attest.core.errors import ConfigurationError, GenerationError
from attest.generation.models import DEFAULT_MODEL, resolve
from attest.generation.prompts import Prompt, build_prompt
from attest.retrieval.context import Context


class Generator(Protocol):
    """Anything that answers a question from a context, streaming the text."""

    name: str

    def stream(self, context: Context, question: str, max_tokens: int) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class LanguageModel(Protocol):
    """A generator backed by a language model, which can also complete any prompt
    (the conversation's query rewriting uses this)."""

    name: str

    def uses_chat(self) -> bool:
        """Whether it is spoken to with :attr:`Prompt.messages` rather than :attr:`Prompt.text`."""
        ...

    def complete(self, prompt: Prompt, max_tokens: int) -> Iterator[str]: ...


CHAT_TEMPLATE = "tokenizer.chat_template"  # the GGUF metadata key of the model's own template


class LlamaCppGenerator:
    """A GGUF model run in-process by llama.cpp; loaded on first use, one generation at a time.

    ``model`` is a named model (:data:`~attest.generation.models.MODELS`) or a GGUF file's
    path; empty means the default, Gemma 3 270M.
    """

    name = "llama_cpp"

    def __init__(
        self, model: Path | str | None = None, *, context_tokens: int = 2048, threads: int = 0
    ) -> None:
        self.model = str(model or DEFAULT_MODEL)
        self.context_tokens = context_tokens
        self.threads = threads
        self._llama: Any = None
        self._lock = threading.Lock()  # a llama.cpp context serves one generation at a time

    @property
    def llama(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            path = resolve(self.model)
            try:
                llama = Llama(
                    model_path=str(path),
                    n_ctx=self.context_tokens,
                    n_threads=self.threads or None,
                    seed=0,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as exc:
                raise ConfigurationError(f"llama.cpp cannot load {path}: {exc}") from exc
            if CHAT_TEMPLATE in llama.metadata:
                # The file's own template, even where llama-cpp-python would guess a built-in
                # format that looks the same.
                llama.chat_format = "chat_template.default"
            self._llama = llama
        return self._llama

    def uses_chat(self) -> bool:
        """Whether the model is a chat model: its file carries a chat template."""
        return CHAT_TEMPLATE in self.llama.metadata

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, context: Context, question: str, max_tokens: int) -> Iterator[str]:
        return self.complete(build_prompt(context, question), max_tokens)

    def complete(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        """The model's answer to ``prompt``: its chat reply for a chat model, else the
        continuation of the few-shot text."""
        return self._chat(prompt, max_tokens) if self.uses_chat() else self._continue(prompt, max_tokens)

    def _chat(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        """The reply to ``prompt.messages`` through the model's chat template, greedy, streamed.

        Held, and closed, like :meth:`_continue`.
        """
        messages = [{"role": role, "content": content} for role, content in prompt.messages]
        with self._lock:
            pieces: Any = None
            try:
                pieces = self.llama.create_chat_completion(
                    messages,
                    max_tokens=max_tokens,
                    temperature=0.0,
                    stop=list(prompt.stop) or None,
                    stream=True,
                )
                for piece in pieces:
                    text = piece["choices"][0]["delta"].get("content")
                    if text:
                        yield text
            except ValueError as exc:  # e.g. the prompt does not fit the context window
                raise GenerationError(f"llama.cpp could not answer: {exc}") from exc
            finally:
                if pieces is not None:
                    pieces.close()

    def _continue(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        """Continue ``prompt.text`` greedily, up to a stop sequence, the end of the first
        paragraph, or ``max_tokens``.

        A base model does not know that its answer is over: after it, it goes on writing the
        next thing the document might hold (a made-up source, another section), which the
        checker then has to flag. Every worked example answers in one paragraph, so a blank
        line after some text ends the answer.

        The model serves one generation at a time: it is held from the first piece until the
        stream ends or is closed (a caller that stops reading must close it, which stops
        llama.cpp and frees the model for the next one).
        """
        with self._lock:  # released on GeneratorExit too, when the caller closes the stream
            pieces: Any = None
            try:
                pieces = self.llama.create_completion(
                    prompt.text,
                    max_tokens=max_tokens,
                    temperature=0.0,
                    stop=list(prompt.stop) or None,
                    stream=True,
                )
                text = ""
                for piece in pieces:
                    sent, text = len(text), text + piece["choices"][0]["text"]
                    begins = len(text) - len(text.lstrip())
                    end = text.find("\n\n", begins) if begins < len(text) else -1
                    if end >= 0:
                        if end > sent:
                            yield text[sent:end]
                        return  # ending the stream stops the generation
                    yield text[sent:]
            except ValueError as exc:  # e.g. the prompt does not fit the context window
                raise GenerationError(f"llama.cpp could not answer: {exc}") from exc
            finally:
                if pieces is not None:
                    pieces.close()  # llama.cpp's own generator: it computes no further token


class OpenAIGenerator:
    """A chat model behind an OpenAI-compatible endpoint, streamed through LangChain."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str,
        timeout_s: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        if not base_url:
            raise ConfigurationError("ATTEST_OPENAI_BASE_URL is empty; set the endpoint's URL.")
        from langchain_openai import ChatOpenAI

        self.base_url = base_url
        self.model = model
        self._chat = ChatOpenAI(
            base_url=base_url,
            model=model or "default",
            api_key=api_key or "not-needed",  # type: ignore[arg-type]
            timeout=timeout_s,
            max_retries=max_retries,  # the openai client backs off exponentially between tries
            temperature=0.0,
        )

    def uses_chat(self) -> bool:
        return True

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)  # the endpoint's tokenizer is unknown; about 4 characters a token

    def stream(self, context: Context, question: str, max_tokens: int) -> Iterator[str]:
        return self.complete(build_prompt(context, question), max_tokens)

    def complete(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        """The chat model's reply to ``prompt`` as system and user messages, streamed."""
        import httpx
        import openai

        messages = list(prompt.messages)
        midway = f"The endpoint {self.base_url} stopped in the middle of the answer."
        started = False
        try:
            for chunk in self._chat.bind(max_tokens=max_tokens, stop=list(prompt.stop) or None).stream(
                messages
            ):
                if isinstance(chunk.content, str) and chunk.content:
                    started = True
                    yield chunk.content
        except openai.AuthenticationError as exc:
            raise GenerationError(
                f"The endpoint {self.base_url} rejected the API key (401); check ATTEST_OPENAI_API_KEY."
            ) from exc
        except openai.NotFoundError as exc:
            raise GenerationError(
                f"The endpoint {self.base_url} does not serve model {self.model!r} (404); "
                "check ATTEST_OPENAI_MODEL and ATTEST_OPENAI_BASE_URL."
            ) from exc
        except openai.APITimeoutError as exc:
            raise GenerationError(f"The endpoint {self.base_url} did not answer in time.") from exc
        except openai.APIConnectionError as exc:
            if started:
                raise GenerationError(midway) from exc
            raise GenerationError(f"Cannot reach the endpoint {self.base_url}: is it running?") from exc
        except openai.APIError as exc:
            raise GenerationError(f"The endpoint {self.base_url} failed: {exc}") from exc
        except httpx.HTTPError as exc:  # the connection broke after the reply began
            raise GenerationError(
                f"The endpoint {self.base_url} stopped in the middle of the answer."
            ) from exc
