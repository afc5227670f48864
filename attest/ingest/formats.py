"""Text extraction for each supported format: text, Markdown, HTML, PDF and Word (.docx).

Each ``extract_*`` function takes the raw bytes and the file's name (for messages) and
returns an :class:`Extracted`; :mod:`attest.ingest.loaders` turns that into a
``LoadedDocument``. Every failure is a ``LoadError`` naming the file.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from attest.core.errors import LoadError

_MB = 1024 * 1024
# A member is only judged by its compression ratio once it is this large: small XML parts
# of real documents (styles, settings) can compress very well without being dangerous.
_RATIO_MIN_BYTES = 1 * _MB
_MAX_RATIO = 200
_TITLE_MAX_CHARS = 200

_HTML_DROP = (
    "script", "style", "noscript", "nav", "header", "footer", "aside",
    "form", "template", "svg", "iframe",
)  # fmt: skip
_HTML_HEADINGS = {f"h{level}": level for level in range(1, 7)}
# Elements that end the running line of inline text; everything else is inline.
_HTML_BLOCKS = frozenset({
    "address", "article", "blockquote", "body", "br", "caption", "dd", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "hr", "html", "li", "main", "ol", "p", "section",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})  # fmt: skip
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING_RE = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""")
_DOCX_HEADING_RE = re.compile(r"^heading\s*(\d)$", re.I)
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(?:(.*?)\n)??(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_MATTER_KEY_RE = re.compile(r"^([A-Za-z_][\w.-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*$")
_FRONT_MATTER_ITEM_RE = re.compile(r"^[ \t]+-[ \t]+(.*?)[ \t]*$|^-[ \t]+(.*?)[ \t]*$")
_ATX_H1_RE = re.compile(r"^#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE_RE = re.compile(r"^[ \t]{0,3}(```|~~~)")


@dataclass(frozen=True)
class Extracted:
    """What a format extractor found: the text, a title if the file names one, metadata.

    ``page_texts`` is set only for PDFs: the text of each page, in order, before joining.
    """

    text: str
    title: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    page_texts: tuple[str, ...] = ()


def human_size(n: int) -> str:
    """Format a byte count for messages: MB for large sizes, plain bytes for small ones."""
    # "0.0 MB exceeds the 0.0 MB limit" would say nothing, so small sizes stay in bytes.
    return f"{n / _MB:.1f} MB" if n >= _MB // 10 else f"{n:,} bytes"


def clean_title(raw: object) -> str | None:
    """Collapse whitespace in a candidate title; None when nothing is left."""
    if raw is None:
        return None
    title = " ".join(str(raw).split())[:_TITLE_MAX_CHARS]
    return title or None


def _collapse(text: str) -> str:
    """Collapse every run of whitespace into one space and strip the ends."""
    return " ".join(text.split())


# --- plain text and Markdown -----------------------------------------------------------


def _decode_utf8(data: bytes, name: str) -> str:
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


def _front_matter_value(raw: str) -> str | list[str]:
    """A front-matter value: a '[a, b]' list becomes a list, quotes are removed."""
    raw = raw.strip()
    if raw.startswith("[") and raw.endswith("]"):
        return [_unquote(item) for item in raw[1:-1].split(",") if item.strip()]
    return _unquote(raw)


def _unquote(raw: str) -> str:
    """Strip whitespace and one pair of matching quotes."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw


def _is_front_matter(block: str) -> bool:
    """Whether every line of a '---' block looks like front matter (key, list item, comment).

    A document may also open with a '---' rule; its prose must not be taken for metadata.
    """
    return all(
        not line.strip()
        or line.lstrip().startswith("#")
        or _FRONT_MATTER_KEY_RE.match(line)
        or _FRONT_MATTER_ITEM_RE.match(line)
        for line in block.split("\n")
    )


def _parse_front_matter(block: str) -> dict[str, Any]:
    """Parse simple 'key: value' lines and '- item' lists; other lines are ignored."""
    metadata: dict[str, Any] = {}
    list_key: str | None = None  # the key whose value is empty, so '- item' lines follow
    for line in block.split("\n"):
        item = _FRONT_MATTER_ITEM_RE.match(line)
        if item and list_key is not None:
            metadata.setdefault(list_key, []).append(_unquote(item.group(1) or item.group(2)))
            continue
        match = _FRONT_MATTER_KEY_RE.match(line)
        if match is None:
            list_key = None
            continue
        key, value = match.group(1), match.group(2)
        if value:
            metadata[key] = _front_matter_value(value)
            list_key = None
        else:
            list_key = key
    return metadata


def _markdown_title(text: str) -> str | None:
    """The first level-1 heading ('# Title' or 'Title' over '==='), outside code fences."""
    in_fence = False
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if _FENCE_RE.match(line):
            in_fence = not in_fence  # a '# comment' in a shell snippet is not a heading
            continue
        if in_fence:
            continue
        match = _ATX_H1_RE.match(line)
        if match:
            return clean_title(match.group(1))
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"=+[ \t]*", following):
            return clean_title(line)
    return None


def extract_text(data: bytes, name: str) -> Extracted:
    """Plain text, decoded as UTF-8; a short first line followed by a break is its title."""
    text = _decode_utf8(data, name)
    first, _, rest = text.lstrip().partition("\n")
    looks_like_title = 0 < len(first.strip()) <= 120 and (not rest or rest.startswith(("\n", "=", "-")))
    return Extracted(text=text, title=clean_title(first) if looks_like_title else None)


def extract_markdown(data: bytes, name: str) -> Extracted:
    """Markdown as written, without its front matter, which becomes metadata."""
    text = _decode_utf8(data, name)
    metadata: dict[str, Any] = {}
    match = _FRONT_MATTER_RE.match(text)
    if match and _is_front_matter(match.group(1) or ""):
        metadata = _parse_front_matter(match.group(1) or "")
        text = text[match.end() :].lstrip("\n")
    front_title = metadata.get("title")
    title = clean_title(front_title) if isinstance(front_title, str) else None
    return Extracted(text=text, title=title or _markdown_title(text), metadata=metadata)


# --- HTML ------------------------------------------------------------------------------


def _html_charset(data: bytes) -> str:
    """The charset the document declares (BOM, <meta> or XML declaration), else UTF-8."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):  # fmt: skip
        if data.startswith(bom):
            return name
    head = data[:4096]
    match = _XML_ENCODING_RE.search(head) or _CHARSET_RE.search(head)
    if match:
        name = match.group(1).decode("ascii")
        try:
            return codecs.lookup(name).name
        except LookupError:
            pass  # an unknown charset name is treated as if none were declared
    return "utf-8"


def _html_root(soup: Any) -> Any:
    """The element holding the content: <main>, a single <article>, else <body>."""
    main = soup.find("main")
    if main is not None:
        return main
    articles = soup.find_all("article")
    if len(articles) == 1:
        return articles[0]
    return soup.body or soup


def _drop_boilerplate(root: Any) -> None:
    """Remove scripts, navigation, page chrome and other non-content elements in place."""
    for element in root.find_all(_HTML_DROP):
        if element.decomposed:
            continue  # already removed together with an ancestor
        # An article's own <header> usually holds its heading and byline: keep it.
        if element.name in ("header", "footer") and element.find_parent(["article", "main"]):
            continue
        element.decompose()
    for element in root.find_all(attrs={"role": "navigation"}):
        if not element.decomposed:
            element.decompose()


class _HtmlWriter:
    """Walks an element tree and collects one text block per heading, paragraph, item, row."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self._inline: list[str] = []
        self._prefix = ""

    def flush(self) -> None:
        """End the running block of inline text, if it holds any text."""
        text = _collapse("".join(self._inline))
        self._inline = []
        if text:
            self.blocks.append(self._prefix + text)
            self._prefix = ""

    def walk(self, element: Any) -> None:
        """Add the text under ``element`` to the blocks."""
        from bs4.element import NavigableString, PreformattedString, Tag

        for child in element.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):  # comments, doctype, CDATA
                    self._inline.append(str(child))
            elif isinstance(child, Tag):
                self._tag(child)

    def _tag(self, tag: Any) -> None:
        """Handle one element: headings, rows and <pre> whole, blocks by flushing around."""
        name = tag.name
        if name in _HTML_HEADINGS:
            self.flush()
            text = _collapse(tag.get_text(" "))
            if text:
                self.blocks.append("#" * _HTML_HEADINGS[name] + " " + text)
        elif name == "tr":
            self.flush()
            cells = tag.find_all(["td", "th"], recursive=False)
            texts = [_collapse(cell.get_text(" ")) for cell in cells]
            if any(texts):
                self.blocks.append(" | ".join(texts))
        elif name == "pre":
            self.flush()  # code keeps its line breaks and indentation
            text = tag.get_text().strip("\n").rstrip()
            if text.strip():
                self.blocks.append(text)
        elif name in _HTML_BLOCKS:
            self.flush()
            if name == "li":
                self._prefix = "- "
            self.walk(tag)
            self.flush()
            self._prefix = ""  # an item without text must not mark the next block
        else:
            self.walk(tag)


def extract_html(data: bytes, name: str) -> Extracted:
    """Extract the readable text of an HTML page, with headings marked by '#'."""
    from bs4 import BeautifulSoup

    text = data.decode(_html_charset(data), errors="replace")
    soup = BeautifulSoup(text, "lxml")
    title_tag = soup.find("title")
    title = clean_title(title_tag.get_text(" ")) if title_tag is not None else None
    root = _html_root(soup)
    _drop_boilerplate(root)
    if title is None:
        h1 = root.find("h1") or soup.find("h1")
        title = clean_title(h1.get_text(" ")) if h1 is not None else None
    writer = _HtmlWriter()
    writer.walk(root)
    writer.flush()
    return Extracted(text="\n\n".join(writer.blocks), title=title)


# --- PDF -------------------------------------------------------------------------------


def _open_pdf(data: bytes, name: str) -> Any:
    """Open a PDF with pypdf, decrypting it with the empty password when it is encrypted."""
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as exc:  # pypdf raises many kinds of error for damaged files
        raise LoadError(
            f"{name}: the file is corrupt or not a valid PDF ({type(exc).__name__}: {exc}); "
            "re-export it from the original application and try again"
        ) from exc
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


def extract_pdf(data: bytes, name: str) -> Extracted:
    """Extract the text of each page of a PDF; pages that cannot be read count as empty."""
    reader = _open_pdf(data, name)
    try:
        pages = list(reader.pages)
    except Exception as exc:
        raise LoadError(
            f"{name}: the file is corrupt or not a valid PDF ({type(exc).__name__}: {exc}); "
            "re-export it from the original application and try again"
        ) from exc
    texts: list[str] = []
    unreadable: list[int] = []
    for number, page in enumerate(pages, start=1):
        try:
            raw = page.extract_text() or ""
        except Exception:  # one broken page should not lose the rest of the document
            raw = ""
            unreadable.append(number)
        texts.append(raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip())
    if pages and len(unreadable) == len(pages):
        raise LoadError(f"{name}: the file is corrupt: no page could be read")
    if not any(texts):
        raise LoadError(
            f"{name}: no extractable text (scanned images? OCR is not supported); "
            "upload a PDF with a text layer"
        )
    title, author = _pdf_metadata(reader)
    if title is None:  # no metadata title: the first line of text is the best guess
        title = clean_title(next(t for t in texts if t).split("\n", 1)[0])
    metadata: dict[str, Any] = {"page_count": len(pages)}
    if author:
        metadata["author"] = author
    if unreadable:
        metadata["unreadable_pages"] = unreadable
    return Extracted(text="", title=title, metadata=metadata, page_texts=tuple(texts))


# --- Word (.docx) ----------------------------------------------------------------------


def check_zip_bomb(data: bytes, name: str, max_bytes: int) -> None:
    """Refuse an archive whose members would expand to far more than its own size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise LoadError(
            f"{name}: the file is corrupt or not a valid Word document ({exc}); "
            "re-save it as .docx and try again"
        ) from exc
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
    text = _collapse(paragraph.text)
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
    """One line per table row, the cells joined by ' | '; merged cells appear once."""
    lines = []
    for row in table.rows:
        cells: list[str] = []
        seen: list[Any] = []
        for cell in row.cells:
            if any(cell._tc is tc for tc in seen):
                continue  # a horizontally merged cell is repeated by python-docx
            seen.append(cell._tc)
            cells.append(_collapse(cell.text))
        if any(cells):
            lines.append(" | ".join(cells))
    return lines


def extract_docx(data: bytes, name: str, max_bytes: int) -> Extracted:
    """Extract a Word document's paragraphs and tables in body order."""
    check_zip_bomb(data, name, max_bytes)  # before python-docx decompresses anything
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise LoadError(
            f"{name}: the file is corrupt or not a valid Word document "
            f"({type(exc).__name__}: {exc}); re-save it as .docx and try again"
        ) from exc
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
