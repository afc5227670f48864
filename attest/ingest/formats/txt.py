"""Plain text (.txt): UTF-8, a short first line followed by a break taken as the title."""

from __future__ import annotations

from attest.ingest.formats.base import Extracted, clean_title, decode_utf8

MEDIA_TYPE = "text/plain"


def extract(data: bytes, name: str, *, max_bytes: int) -> Extracted:
    """Plain text, decoded as UTF-8; a short first line followed by a break is its title."""
    text = decode_utf8(data, name)
    first, _, rest = text.lstrip().partition("\n")
    looks_like_title = 0 < len(first.strip()) <= 120 and (not rest or rest.startswith(("\n", "=", "-")))
    return Extracted(text=text, title=clean_title(first) if looks_like_title else None)
