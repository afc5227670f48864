"""Attest's error hierarchy.

Every error carries a message that says what went wrong and what to do about it.
They become HTTP errors only in ``attest.api``; the CLI prints them without a traceback.
"""

from __future__ import annotations


class AttestError(Exception):
    """Base class for errors that are reported to the user as they are."""


class ConfigurationError(AttestError):
    """A setting has a value Attest cannot work with."""


class NotFound(AttestError):
    """A knowledge base, document or other resource does not exist."""


class Conflict(AttestError):
    """The request clashes with the current state (for example a running job)."""


class IngestError(AttestError):
    """A file could not be ingested."""


class StorageFull(IngestError):
    """The data directory or the database ran out of space; nothing was activated."""


class LoadError(IngestError):
    """A file could not be read or its text could not be extracted.

    The message names the file and the problem (corrupt, empty, too large, unsupported type).
    """


class UnsupportedFileType(LoadError):
    """The content is none of the formats Attest reads (an upload answers 415)."""


class RetrievalError(AttestError):
    """The index could not be searched."""


class GenerationError(AttestError):
    """The language model failed to produce an answer."""


class VerificationError(AttestError):
    """The factuality check could not be run."""


class PermissionDenied(AttestError):
    """The caller may not perform this action."""
