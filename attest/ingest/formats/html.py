"""HTML (.html, .htm): the readable text of a page, headings marked by '#'.

Scripts, navigation and page chrome are dropped; the content is taken from <main>, a
single <article>, else <body>, one text block per heading, paragraph, list item or row.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from attest.ingest.formats.base import Extracted, clean_title, collapse
from attest.text.units import describe_row

MEDIA_TYPE = "text/html"

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
        self._headers: dict[int, list[str]] = {}  # each table's header row, by the table's id
        self._inline: list[str] = []
        self._prefix = ""

    def flush(self) -> None:
        """End the running block of inline text, if it holds any text."""
        text = collapse("".join(self._inline))
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
            text = collapse(tag.get_text(" "))
            if text:
                self.blocks.append("#" * _HTML_HEADINGS[name] + " " + text)
        elif name == "tr":
            self.flush()
            cells = tag.find_all(["td", "th"], recursive=False)
            texts = [collapse(cell.get_text(" ")) for cell in cells]
            if any(texts):
                table = id(tag.find_parent("table"))
                header = self._headers.setdefault(table, texts)  # a table's first row is its header
                self.blocks.append(" | ".join(texts if header is texts else describe_row(header, texts)))
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


def extract(data: bytes, name: str, *, max_bytes: int) -> Extracted:
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
