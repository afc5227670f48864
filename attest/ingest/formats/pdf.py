"""PDF (.pdf): the text of each page, read with pypdf; no OCR.

Running headers and footers (a line that opens or closes most pages, such as "Kestrel Lane
Analytics - Parental Leave Policy" or "Internal - Page 1 of 2") are left out: repeated on
every page, they ran into the sentences around them and into every search for the
document's words (:func:`without_running_lines`).
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from attest.core.errors import LoadError
from attest.ingest.formats.base import Extracted, clean_title

MEDIA_TYPE = "application/pdf"


def corrupt(name: str, exc: Exception) -> LoadError:
    """The error for a file pypdf cannot parse."""
    return LoadError(
        f"{name}: the file is corrupt or not a valid PDF ({type(exc).__name__}: {exc}); "
        "re-export it from the original application and try again"
    )


def misnamed(name: str) -> LoadError:
    """The error for a file named .pdf whose content is not a PDF."""
    return LoadError(f"{name}: named .pdf but the content is not a PDF; check the file")


def extract(data: bytes, name: str, *, max_bytes: int) -> Extracted:
    """Extract the text of each page of a PDF; pages that cannot be read count as empty."""
    reader = _open_pdf(data, name)
    try:
        pages = list(reader.pages)
    except Exception as exc:
        raise corrupt(name, exc) from exc
    texts: list[str] = []
    unreadable: list[int] = []
    for number, page in enumerate(pages, start=1):
        try:
            raw = page.extract_text() or ""
        except Exception:  # one broken page should not lose the rest of the document
            raw = ""
            unreadable.append(number)
        texts.append(raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip())
    first_lines = [t.split("\n", 1)[0] for t in texts]  # before a running header goes
    texts = without_running_lines(texts)
    if pages and len(unreadable) == len(pages):
        raise LoadError(f"{name}: the file is corrupt: no page could be read")
    if not any(texts):
        raise LoadError(
            f"{name}: no extractable text (scanned images? OCR is not supported); "
            "upload a PDF with a text layer"
        )
    title, author = _pdf_metadata(reader)
    if title is None:  # no metadata title: the first line of text is the best guess
        title = clean_title(next(t for t in first_lines if t))
    metadata: dict[str, Any] = {"page_count": len(pages)}
    if author:
        metadata["author"] = author
    if unreadable:
        metadata["unreadable_pages"] = unreadable
    return Extracted(text="", title=title, metadata=metadata, page_texts=tuple(texts))


RUNNING_LINES = 2  # how many lines at each end of a page may be a running header or footer
_DIGITS = re.compile(r"\d+")


def without_running_lines(pages: Sequence[str]) -> list[str]:
    """``pages`` without their running headers and footers: among the first and last
    :data:`RUNNING_LINES` lines of each page, those that open or close more than half of the
    pages with text, and two at least. The page's own number and the page count are the
    only numbers ignored ("Page 1 of 2" and "Page 2 of 2" are one line); a line that
    differs in any other number ("Total: 120") is the page's own text."""
    total = len(pages)
    with_text = [page for page in pages if page.strip()]
    if len(with_text) < 2:
        return list(pages)
    seen: Counter[str] = Counter()
    for number, page in enumerate(pages, start=1):
        seen.update({_shape(line, number, total) for line in _ends(page.split("\n"))})
    running = {shape for shape, count in seen.items() if shape and 2 * count > len(with_text)}
    if not running:
        return list(pages)
    kept = []
    for number, page in enumerate(pages, start=1):
        lines = page.split("\n")
        edge = RUNNING_LINES
        kept_lines = [
            line
            for i, line in enumerate(lines)
            if edge <= i < len(lines) - edge or _shape(line, number, total) not in running
        ]
        kept.append("\n".join(kept_lines).strip())
    return kept


def _ends(lines: list[str]) -> list[str]:
    return lines[:RUNNING_LINES] + lines[RUNNING_LINES:][-RUNNING_LINES:]


def _shape(line: str, number: int, total: int) -> str:
    """``line`` with whitespace collapsed and the page's number and the page count as ``#``."""
    return _DIGITS.sub(
        lambda m: "#" if int(m.group()) in (number, total) else m.group(), " ".join(line.split())
    )


def _open_pdf(data: bytes, name: str) -> Any:
    """Open a PDF with pypdf, decrypting it with the empty password when it is encrypted."""
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as exc:  # pypdf raises many kinds of error for damaged files
        raise corrupt(name, exc) from exc
    if encrypted:
        try:
            opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
        except Exception:  # e.g. an unsupported cipher; the result is the same for the user
            opened = False
        if not opened:
            raise LoadError(
                f"{name}: the PDF is encrypted (password-protected); "
                "save a copy without the password and upload that"
            )
    return reader


def _pdf_metadata(reader: Any) -> tuple[str | None, str | None]:
    """The title and author from the PDF's document information, when readable."""
    try:
        info = reader.metadata
    except Exception:  # damaged info dictionaries are common and not worth failing for
        return None, None
    if info is None:
        return None, None
    return clean_title(info.title), clean_title(info.author)
