"""Attest's error hierarchy.

Every error carries a message that says what went wrong and what to do about it.
They become HTTP errors only in ``attest.api``; the CLI prints them without a traceback.

Two kinds, told apart by who must act:

- **The caller's** (the API answers 4xx): :class:`InvalidInput`, :class:`NotFound`,
  :class:`Conflict`, :class:`PermissionDenied`, and :class:`LoadError` (a file that cannot
  be read is the sender's to fix).
- **The operator's** (the API answers 5xx, and logs it): :class:`ConfigurationError`, and a
  component that failed: :class:`RetrievalError`, :class:`GenerationError`,
  :class:`VerificationError`, :class:`StorageFull` and any other :class:`IngestError`.

An exception that is not an :class:`AttestError` (a ``ValueError`` included) is a bug: the
API answers 500 without its details and logs its traceback. Arguments that only code can get
wrong (a negative ``k``, a mask of the wrong shape) stay ``ValueError`` for that reason.
"""

from __future__ import annotations


class AttestError(Exception):
    """Base class for errors that are reported to the user as they are."""


class InvalidInput(AttestError):
    """A value the caller sent is not acceptable: a name, a password, a mode.

    The message names the value and says what would be accepted.
    """


class ConfigurationError(AttestError):
    """A setting has a value Attest cannot work with."""


class NotFound(AttestError):
    """A knowledge base, document or other resource does not exist."""


class Conflict(AttestError):
    """The request clashes with the current state (for example a running job)."""


class PermissionDenied(AttestError):
    """The caller may not perform this action (its role is not enough)."""


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
