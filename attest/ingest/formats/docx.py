"""Word (.docx): paragraphs and tables in body order, read with python-docx.

The archive is checked for a zip bomb before python-docx decompresses anything.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from attest.core.errors import LoadError
from attest.ingest.formats.base import MB, Extracted, clean_title, collapse, human_size
from attest.text.units import describe_row

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# A member is only judged by its compression ratio once it is this large: small XML parts
# of real documents (styles, settings) can compress very well without being dangerous.
_RATIO_MIN_BYTES = 1 * MB
_MAX_RATIO = 200
_DOCX_HEADING_RE = re.compile(r"^heading\s*(\d)$", re.I)


def corrupt(name: str, detail: str) -> LoadError:
    """The error for a file that cannot be opened as a Word document (``detail``: why)."""
    return LoadError(
        f"{name}: the file is corrupt or not a valid Word document ({detail}); "
        "re-save it as .docx and try again"
    )


def misnamed(name: str, content: str) -> LoadError:
    """The error for a file named .docx whose ``content`` is something else."""
    return LoadError(
        f"{name}: named .docx but the content is not a Word document ({content}); "
        "re-save it as .docx and try again"
    )


def extract(data: bytes, name: str, *, max_bytes: int) -> Extracted:
    """Extract a Word document's paragraphs and tables in body order."""
    check_zip_bomb(data, name, max_bytes)  # before python-docx decompresses anything
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise corrupt(name, f"{type(exc).__name__}: {exc}") from exc
    blocks: list[str] = []
    first_heading: str | None = None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(_docx_table(item))
            continue
        line, level = _docx_paragraph(item)
        if line:
            blocks.append(line)
        if level and first_heading is None:
            first_heading = line.lstrip("#").strip()
    core = document.core_properties
    metadata: dict[str, Any] = {}
    author = clean_title(core.author)
    if author:
        metadata["author"] = author
    title = clean_title(core.title) or clean_title(first_heading)
    return Extracted(text="\n\n".join(blocks), title=title, metadata=metadata)


def check_zip_bomb(data: bytes, name: str, max_bytes: int) -> None:
    """Refuse an archive whose members would expand to far more than its own size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise corrupt(name, str(exc)) from exc
    total = sum(member.file_size for member in members)
    if total > max_bytes * 10:
        raise LoadError(
            f"{name}: the uncompressed size {human_size(total)} (from {human_size(len(data))}) "
            "looks like a zip bomb; the file was not opened"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= _RATIO_MIN_BYTES and ratio > _MAX_RATIO:
            raise LoadError(
                f"{name}: part {member.filename!r} has an uncompressed size of "
                f"{human_size(member.file_size)} ({ratio:.0f} times its compressed size), "
                "which looks like a zip bomb; the file was not opened"
            )


def _docx_paragraph(paragraph: Any) -> tuple[str, int]:
    """A paragraph's text with its '#' or '- ' prefix, and its heading level (0 if none)."""
    text = collapse(paragraph.text)
    if not text:
        return "", 0
    style = paragraph.style.name if paragraph.style is not None else ""
    match = _DOCX_HEADING_RE.match(style or "")
    level = int(match.group(1)) if match else (1 if style == "Title" else 0)
    if level:
        return "#" * level + " " + text, level
    p_pr = paragraph._p.pPr
    if (style or "").startswith("List") or (p_pr is not None and p_pr.numPr is not None):
        return "- " + text, 0
    return text, 0


def _docx_table(table: Any) -> list[str]:
    """One line per table row, the cells joined by ' | ', each body cell with its column's
    name (:func:`attest.text.units.describe_row`); merged cells appear once."""
    lines = []
    header: list[str] | None = None
    for row in table.rows:
        cells: list[str] = []
        seen: list[Any] = []
        for cell in row.cells:
            if any(cell._tc is tc for tc in seen):
                continue  # a horizontally merged cell is repeated by python-docx
            seen.append(cell._tc)
            cells.append(collapse(cell.text))
        if any(cells):
            if header is None:
                header = cells
            else:
                cells = describe_row(header, cells)
            lines.append(" | ".join(cells))
    return lines
