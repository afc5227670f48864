"""Markdown (.md, .markdown): the text as written, but for table rows, which are written
with their column names (:func:`attest.text.units.describe_row`); front matter becomes
metadata."""

from __future__ import annotations

import re
from typing import Any

from attest.ingest.formats.base import Extracted, clean_title, decode_utf8
from attest.text.units import describe_row, table_cells

MEDIA_TYPE = "text/markdown"

_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(?:(.*?)\n)??(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_MATTER_KEY_RE = re.compile(r"^([A-Za-z_][\w.-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*$")
_FRONT_MATTER_ITEM_RE = re.compile(r"^[ \t]+-[ \t]+(.*?)[ \t]*$|^-[ \t]+(.*?)[ \t]*$")
_ATX_H1_RE = re.compile(r"^#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE_RE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_TABLE_RULE_RE = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")


def extract(data: bytes, name: str, *, max_bytes: int) -> Extracted:
    """Markdown as written, without its front matter, which becomes metadata."""
    text = decode_utf8(data, name)
    metadata: dict[str, Any] = {}
    match = _FRONT_MATTER_RE.match(text)
    if match and _is_front_matter(match.group(1) or ""):
        metadata = _parse_front_matter(match.group(1) or "")
        text = text[match.end() :].lstrip("\n")
    front_title = metadata.get("title")
    title = clean_title(front_title) if isinstance(front_title, str) else None
    return Extracted(text=_describe_tables(text), title=title or _markdown_title(text), metadata=metadata)


def _describe_tables(text: str) -> str:
    """``text`` with the body rows of each pipe table (a header line, then a ``|---|`` rule)
    written with their column names; code blocks are left alone."""
    lines = text.split("\n")
    fence: str | None = None
    header: list[str] | None = None
    for i, line in enumerate(lines):
        opened = _FENCE_RE.match(line)
        if fence is not None or opened:
            if opened and (fence is None or opened.group(1) == fence):
                fence = None if fence else opened.group(1)
            header = None
            continue
        if i and _TABLE_RULE_RE.match(line) and "|" in line and "|" in lines[i - 1]:
            header = table_cells(lines[i - 1])
        elif header is not None and "|" in line:
            cells = describe_row(header, table_cells(line))
            row = " | ".join(cells)
            lines[i] = f"| {row} |" if line.strip().startswith("|") else row
        else:
            header = None
    return "\n".join(lines)


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
