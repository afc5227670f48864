"""Turn an uploaded file into plain text: detect its type, check it, extract its text.

Supported: plain text, Markdown, HTML, PDF and Word (.docx). Every problem with the input
(empty, too large, corrupt, encrypted, unsupported, not UTF-8, no text) is a ``LoadError``
whose message names the file, the problem and what to do. The format-specific extraction
lives in :mod:`attest.ingest.formats`, one module per format; this module detects, checks
and assembles.
"""

from __future__ import annotations

import codecs
import io
import stat
import zipfile
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from attest.core.errors import LoadError, UnsupportedFileType
from attest.ingest.formats import EXTRACTORS, docx, html, md, pdf, txt
from attest.ingest.formats.base import human_size

PDF = pdf.MEDIA_TYPE
DOCX = docx.MEDIA_TYPE

# Extension -> media type, in the order the supported types are listed in messages.
MEDIA_TYPES: Mapping[str, str] = MappingProxyType({
    ".txt": txt.MEDIA_TYPE,
    ".md": md.MEDIA_TYPE,
    ".markdown": md.MEDIA_TYPE,
    ".html": html.MEDIA_TYPE,
    ".htm": html.MEDIA_TYPE,
    ".pdf": PDF,
    ".docx": DOCX,
})  # fmt: skip
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(MEDIA_TYPES)

_SIZE_SETTING = "ATTEST_MAX_FILE_BYTES"


@dataclass(frozen=True)
class PageSpan:
    """Where one PDF page's text lies in ``LoadedDocument.text``."""

    page: int  # 1-based page number
    start: int  # character offset into LoadedDocument.text (inclusive)
    end: int  # (exclusive)


@dataclass(frozen=True)
class LoadedDocument:
    """The text of a file and what is known about it."""

    text: str  # the extracted text, the basis for all character offsets
    title: str  # best title found in the file, else the file's stem
    media_type: str  # one of MEDIA_TYPES values
    pages: tuple[PageSpan, ...] = ()  # only for PDFs: one span per page, in page order
    metadata: dict[str, Any] = field(default_factory=dict)  # page_count, front matter, author


# --- type detection --------------------------------------------------------------------


def _is_docx_zip(data: bytes, name: str, ext: str) -> bool:
    """Whether ``data`` is a zip holding word/document.xml; a damaged .docx is an error."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        if ext == ".docx":
            raise docx.corrupt(name, str(exc)) from exc
        return False
    if "word/document.xml" in names:
        return True
    if ext == ".docx":
        raise docx.misnamed(name, "a zip archive without word/document.xml")
    return False


def detect_media_type(data: bytes, filename: str) -> str:
    """The media type of a file, judged by its content first and then by its extension."""
    name = Path(filename).name
    ext = Path(filename).suffix.lower()
    # Signatures win over the name: a PDF saved without its extension is still a PDF.
    # Junk before the header is tolerated only in files named .pdf, so that a text file
    # that merely mentions "%PDF-" near its top is not mistaken for one.
    if data.startswith(b"%PDF-") or (ext == ".pdf" and b"%PDF-" in data[:1024]):
        return PDF
    if data.startswith(b"PK\x03\x04") and _is_docx_zip(data, name, ext):
        return DOCX
    if ext not in MEDIA_TYPES:
        shown = f"'{ext}'" if ext else "(no extension)"
        raise UnsupportedFileType(
            f"{name}: unsupported file type {shown}; supported: {', '.join(MEDIA_TYPES)}"
        )
    if ext == ".pdf":
        raise pdf.misnamed(name)
    if ext == ".docx":
        raise docx.misnamed(name, "not a zip archive")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise LoadError(f"{name}: the text is UTF-16, not UTF-8; save it as UTF-8 and try again")
    if b"\x00" in data:
        raise LoadError(f"{name}: binary content, not text, although it is named {ext}; check the file")
    return MEDIA_TYPES[ext]


# --- assembling ------------------------------------------------------------------------


def _join_pages(page_texts: Sequence[str]) -> tuple[str, tuple[PageSpan, ...]]:
    """Join page texts with blank lines and record where each page's text lies. A page
    that starts in lower case goes on with the sentence the page before it ended in: it
    joins with a line break only, so that the sentence stays whole.

    A page without text gets an empty span at the start of the next page's text (or at
    the end), so that ``page_at`` never answers with an empty page.
    """
    parts: list[str] = []
    bounds: list[tuple[int, int] | None] = []
    position = 0
    for page_text in page_texts:
        if not page_text:
            bounds.append(None)
            continue
        if position:
            separator = "\n" if page_text[0].islower() else "\n\n"
            parts.append(separator)
            position += len(separator)
        parts.append(page_text)
        bounds.append((position, position + len(page_text)))
        position += len(page_text)
    spans: list[PageSpan] = []
    for number in range(len(bounds), 0, -1):  # backwards, to know where the next page starts
        bound = bounds[number - 1]
        next_start = spans[0].start if spans else position
        start, end = bound if bound is not None else (next_start, next_start)
        spans.insert(0, PageSpan(page=number, start=start, end=end))
    return "".join(parts), tuple(spans)


def page_at(pages: Sequence[PageSpan], offset: int) -> int | None:
    """The number of the page whose text contains ``offset``; None when there are no pages.

    ``pages`` must be in text order, as ``LoadedDocument.pages`` is. An offset in the blank
    lines between two pages belongs to the page before; one outside the text gives None.
    """
    if not pages or offset < 0 or offset >= pages[-1].end:
        return None
    # bisect_right picks the last span starting at or before the offset: an empty page's
    # span shares its start with the page after it, which is the one holding the text.
    index = bisect_right(pages, offset, key=lambda span: span.start) - 1
    return pages[index].page if index >= 0 else None


def _too_large(name: str, size: int, max_bytes: int) -> LoadError:
    """The error for a file over the size limit."""
    return LoadError(
        f"{name}: {human_size(size)} exceeds the {human_size(max_bytes)} limit "
        f"({_SIZE_SETTING}); split the file or raise the limit"
    )


def load_bytes(data: bytes, *, filename: str, max_bytes: int) -> LoadedDocument:
    """Check a file's bytes, detect its type and extract its text and title."""
    name = Path(filename).name
    if not data:
        raise LoadError(f"{name}: the file is empty")
    if len(data) > max_bytes:
        raise _too_large(name, len(data), max_bytes)
    media_type = detect_media_type(data, filename)
    try:
        extracted = EXTRACTORS[media_type](data, name, max_bytes=max_bytes)
    except LoadError:
        raise
    except Exception as exc:  # parsers fail in many ways on bad input; none may escape raw
        raise LoadError(
            f"{name}: the file could not be read as {media_type} ({type(exc).__name__}: {exc}); "
            "check that it opens in its usual application"
        ) from exc
    text = extracted.text
    pages: tuple[PageSpan, ...] = ()
    if extracted.page_texts:
        text, pages = _join_pages(extracted.page_texts)
    if not text.strip():
        raise LoadError(f"{name}: the file contains no text")
    return LoadedDocument(
        text=text,
        title=extracted.title or Path(filename).stem or name,
        media_type=media_type,
        pages=pages,
        metadata=extracted.metadata,
    )


def load_file(path: Path, *, max_bytes: int) -> LoadedDocument:
    """Load a file from disk, refusing one over ``max_bytes`` before reading it."""
    name = path.name
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise LoadError(f"{name}: not a regular file; give the path of a document")
        if info.st_size > max_bytes:
            raise _too_large(name, info.st_size, max_bytes)
        with path.open("rb") as handle:
            # One byte past the limit is enough to notice a file that grew since stat().
            data = handle.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise LoadError(f"{name}: the file does not exist ({path})") from exc
    except OSError as exc:
        raise LoadError(f"{name}: the file could not be read ({exc.strerror or exc})") from exc
    return load_bytes(data, filename=name, max_bytes=max_bytes)
