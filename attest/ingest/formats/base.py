"""What every format extractor returns, its signature, and the helpers they share."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any, Protocol

from attest.core.errors import LoadError

MB = 1024 * 1024
_TITLE_MAX_CHARS = 200


@dataclass(frozen=True)
class Extracted:
    """What a format extractor found: the text, a title if the file names one, metadata.

    ``page_texts`` is set only for PDFs: the text of each page, in order, before joining.
    """

    text: str
    title: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    page_texts: tuple[str, ...] = ()


class Extractor(Protocol):
    """Extract a file's text from its bytes. ``name`` is the file's name, for messages;
    ``max_bytes`` is the upload limit, which formats that decompress hold their parts to."""

    def __call__(self, data: bytes, name: str, *, max_bytes: int) -> Extracted: ...


def human_size(n: int) -> str:
    """Format a byte count for messages: MB for large sizes, plain bytes for small ones."""
    # "0.0 MB exceeds the 0.0 MB limit" would say nothing, so small sizes stay in bytes.
    return f"{n / MB:.1f} MB" if n >= MB // 10 else f"{n:,} bytes"


def clean_title(raw: object) -> str | None:
    """Collapse whitespace in a candidate title; None when nothing is left."""
    if raw is None:
        return None
    title = " ".join(str(raw).split())[:_TITLE_MAX_CHARS]
    return title or None


def collapse(text: str) -> str:
    """Collapse every run of whitespace into one space and strip the ends."""
    return " ".join(text.split())


def decode_utf8(data: bytes, name: str) -> str:
    """Decode UTF-8 text without its BOM and with every newline as '\\n'."""
    skipped = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[skipped:].decode("utf-8")
    except UnicodeDecodeError as exc:
        # Guessing another encoding would silently garble the text, so say where it broke.
        offset = exc.start + skipped
        raise LoadError(
            f"{name}: not UTF-8 text (byte 0x{data[offset]:02x} at offset {offset} is invalid); "
            "save it as UTF-8 and try again"
        ) from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")
