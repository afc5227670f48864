"""Modes that settings, requests and stored rows name by a word, and how a word becomes one.

Every such mode is a :class:`Choice`: a ``StrEnum`` whose members are found by their value,
ignoring case and surrounding spaces, by the constructor (so pydantic fields typed with it
are as tolerant) and by :meth:`Choice.from_str`. The rule for a word that is none of them:

- from a setting, pydantic refuses it when the settings load, listing the valid values, and
  ``get_settings`` reports it as a :class:`~attest.core.errors.ConfigurationError`;
- anywhere else (a command-line option, a request, a stored row), :meth:`Choice.from_str`
  raises :class:`~attest.core.errors.InvalidInput` naming the word and listing the valid values.

This module imports no ORM, so that settings (which the UI reads) can use the modes.
"""

from __future__ import annotations

import enum
import re
from typing import Self

from attest.core.errors import InvalidInput


class Choice(enum.StrEnum):
    """A ``StrEnum`` parsed from a word, case and surrounding spaces ignored."""

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if isinstance(value, str):
            folded = value.strip().lower()
            for member in cls:
                if member.value == folded:
                    return member
        return None

    @classmethod
    def from_str(cls, value: str, *, name: str = "") -> Self:
        """The member ``value`` names (a member is returned as it is).

        Raises :class:`InvalidInput` naming ``value`` (and ``name``, the option or field it
        came from, when given) and listing the valid values.
        """
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(member.value for member in cls)
            where = f"{name}: " if name else ""
            raise InvalidInput(f"{where}unknown {cls.kind()} {value!r}; valid values: {valid}.") from None

    @classmethod
    def kind(cls) -> str:
        """What a member is, in words: ``FusionMode`` -> ``fusion mode``."""
        return re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()


class Precision(Choice):
    """The arithmetic of the models that run while a question is answered: the reader, the
    consistency model and the question-time embedder (``ATTEST_MODEL_PRECISION``;
    :func:`attest.text.embedder.runs_bfloat16`)."""

    AUTO = "auto"  # bfloat16 where the CPU has native bfloat16 instructions, else float32
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"


class Policy(Choice):
    """What a user sees of an answer the checker could not fully verify (:mod:`attest.verify.policy`).

    Stored per knowledge base and set globally (``ATTEST_VERIFY_POLICY``).
    """

    FLAG = "flag"
    STRIP = "strip"
    REFUSE = "refuse"
    REGENERATE = "regenerate"


class FusionMode(Choice):
    """How the hybrid retriever combines its rankings (:mod:`attest.retrieval.fusion`);
    ``ATTEST_RETRIEVAL_FUSION``."""

    RRF = "rrf"
    WEIGHTED = "weighted"


class IndexBackendName(Choice):
    """Where index versions live (``ATTEST_INDEX_BACKEND``); :mod:`attest.retrieval.backends` builds each."""

    LOCAL = "local"  # immutable files under the data directory, memory-mapped by every process
    MILVUS = "milvus"  # one Milvus collection per version: embedded milvus-lite, or a server by URI


class JobRunnerName(Choice):
    """Which processes run ingest and re-index jobs (``ATTEST_JOB_RUNNER``)."""

    API = "api"  # a thread of the API process that accepted the job (one process, the default)
    WORKER = "worker"  # queued in the database, claimed by ``attest worker`` processes


class GeneratorName(Choice):
    """The answer backends (``ATTEST_GENERATOR``); :mod:`attest.answers.generators` builds each one."""

    EXTRACTIVE = "extractive"
    LLAMA_CPP = "llama_cpp"
    OPENAI = "openai"
