"""Answer units: the pieces of a passage that can answer a question on their own.

A passage is prose, list items, Markdown headings and tables (the loaders write a table as
one line per row, cells joined by ``|``). Its units are:

* each sentence of the prose (:func:`attest.text.sentences.sentence_spans`);
* each list item, without its bullet or number, read and quoted after its list's lead-in
  (the sentence ending in ":" before the list; :attr:`Unit.read_as`);
* each table body row, rendered with its column names ("Location: Domestic; Maximum
  nightly rate: $180"), because a bare row ("Domestic | $180") says nothing on its own.
  Rows may be separated by blank lines (the HTML and DOCX loaders write a block per row);
  a row with another number of cells after a blank line starts a new table.

Headings and table header rows are never units: they name a topic without answering
anything about it. Besides Markdown's ``#`` headings, plain text and PDF pages have headings
of their own: a line underlined with ``===`` or ``---`` (and the underline), and a title line
(:func:`_is_title_line`: short, without end punctuation, after a finished sentence and
before a longer line that starts like one). Without that, "Eligibility" ran into the
sentence after it ("Eligibility Enhanced company pay ..."), and an underlined heading was
a unit of its own. Every unit keeps the offsets of the source text it comes from.

The loaders write each body row with its column names already in its cells ("Location:
Domestic | Maximum nightly rate: $180", :func:`describe_row`), so that a row still says
what it holds in a window of text that starts below its table's header; such a row is a
unit as written, header or none. Text stored before that is read with its header row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from attest.text.sentences import sentence_spans

MIN_WORDS = 3  # shorter pieces ("See below.", "Yes.") answer nothing alone
MAX_WORDS = 60  # a longer "sentence" is lines without end punctuation (PDF headings): cut at its line breaks
_LINE = re.compile(r"[^\n]*\n?")
_HEADING = re.compile(r"^[^\S\n]*#{1,6}\s")
_TABLE_SEPARATOR = re.compile(r"^[\s|:\-]+$")
_BULLET = re.compile(r"^\s*(?:[-*•]|[0-9]{1,3}[.)])\s+")
_DESCRIBED_CELL = re.compile(r"^[^:\n]{1,80}: \S")  # "Maximum nightly rate: $180"
_UNDERLINE = re.compile(r"^[^\S\n]*(?:={3,}|-{3,})[^\S\n]*$")  # a setext heading's underline
_SENTENCE_END = (".", "!", "?", ":", ";")
_TITLE_WORDS = 8  # the longest title line
_LEAD_WORDS = 30  # the longest lead-in read with each item of its list
# A line ending in one of these is cut mid-sentence ("Submit your plan in"), never a title.
_OPEN_ENDINGS = frozenset(
    {"a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with"}
)
# Where an item ends and prose follows: a finished item, then a sentence on its own line; or
# a blank line, then a line that is not indented (an indented one continues the item).
_ITEM_END = re.compile(r"[.!?]\n(?=[^\S\n]*[A-Z])|\n[^\S\n]*\n(?=\S)")
_ITEM_JOINER = re.compile(r"(?:[;,]\s*(?:and|or)|[;,])$")  # "26 weeks at full pay; and"
_ITEM_START = re.compile(r"\n(?=[^\S\n]*(?:[-*•]|[0-9]{1,3}[.)])\s)")  # a list item on a line of its own


class UnitKind(StrEnum):
    SENTENCE = "sentence"
    ITEM = "item"
    ROW = "row"


@dataclass(frozen=True)
class Unit:
    """A piece of a passage that can answer a question alone."""

    kind: UnitKind
    text: str  # whitespace collapsed; a table row rendered with its column names
    start: int  # offsets of the source text in the passage
    end: int  # exclusive
    lead: str = ""  # an item's lead-in: the sentence ending in ":" that opens its list

    @property
    def read_as(self) -> str:
        """The unit as it is read and quoted: an item after its list's lead-in ("The primary
        caregiver may take: 26 weeks of leave at full pay"), since an item alone often does
        not say what it is about, and without a closing "; and" or ","."""
        if self.kind is not UnitKind.ITEM:
            return self.text
        item = _ITEM_JOINER.sub("", self.text)
        return f"{self.lead} {item}" if self.lead else item


def as_sentence(text: str) -> str:
    """``text`` ending like a sentence: a row or an item without end punctuation gets a full
    stop, so that it stays a claim of its own when answers are cut into sentences."""
    return text if text.endswith((".", "!", "?", ":", ";")) else f"{text}."


def has_items(text: str) -> bool:
    """Whether ``text`` has a line that starts a list item (a cheap test before :func:`answer_units`)."""
    return bool(_ITEM_START.search(text))


def answer_units(text: str) -> list[Unit]:
    """The units of ``text`` in order, each of at least :data:`MIN_WORDS` words."""
    units: list[Unit] = []
    prose_start = 0
    table: list[tuple[int, int]] = []  # (start, end) of the current table's lines
    offset = 0
    lines = [line for line in _LINE.findall(text) if line]
    for n, line in enumerate(lines):
        start, end = offset, offset + len(line.rstrip("\n"))
        offset += len(line)
        if table and not line.strip() and _continues(text, offset, table[0]):
            prose_start = offset  # a blank line between rows (HTML and DOCX write a block per row)
            continue
        heading = _HEADING.match(line) or _is_plain_heading(lines, n)
        if _is_table_line(line) or heading:
            units.extend(_prose_units(text, prose_start, start))
            if heading:
                units.extend(_table_units(text, table))
                table = []
            else:
                table.append((start, end))
            prose_start = offset
        elif table:
            units.extend(_table_units(text, table))
            table = []
    units.extend(_table_units(text, table))
    units.extend(_prose_units(text, prose_start, len(text)))
    units.sort(key=lambda u: u.start)
    return [u for u in units if len(u.text.split()) >= MIN_WORDS]


def _is_plain_heading(lines: Sequence[str], n: int) -> bool:
    """Whether line ``n`` is a heading of plain text: a setext underline, the line it
    underlines, or a title line."""
    line = lines[n]
    if _UNDERLINE.match(line):
        return True
    if not line.strip() or _is_table_line(line):
        return False
    following = lines[n + 1] if n + 1 < len(lines) else ""
    return bool(_UNDERLINE.match(following)) or _is_title_line(lines[n - 1] if n else "", line, following)


def _is_title_line(before: str, line: str, after: str) -> bool:
    """Whether ``line`` is a title ("Eligibility", "Primary caregiver leave"): at most
    :data:`_TITLE_WORDS` words; it starts with a capital or a digit and ends without end
    punctuation, a colon or an open word ("in", "the"); it is not a list item and holds no
    colon ("Owner: People Team" is a statement); the line before it ended a sentence (or
    there is none); and the line after it is longer and starts like a sentence."""
    words = line.split()
    if not words or len(words) > _TITLE_WORDS or ":" in line or _BULLET.match(line):
        return False
    if not (words[0][0].isupper() or words[0][0].isdigit()):
        return False
    if line.rstrip().endswith((*_SENTENCE_END, ",")) or words[-1].lower() in _OPEN_ENDINGS:
        return False
    if before.strip() and not before.rstrip().endswith(_SENTENCE_END):
        return False
    following = after.split()
    return len(following) > len(words) and (following[0][0].isupper() or following[0][0].isdigit())


def _is_table_line(line: str) -> bool:
    stripped = line.strip()
    return "|" in stripped and (stripped.startswith("|") or stripped.endswith(" |") or " | " in stripped)


def _continues(text: str, offset: int, header: tuple[int, int]) -> bool:
    """Whether the next non-blank line after ``offset`` is a row of the table whose header
    line spans ``header``: a table line with as many cells."""
    rest = text[offset:].lstrip()
    line = rest.split("\n", 1)[0]
    return _is_table_line(line) and len(table_cells(line)) == len(table_cells(text[header[0] : header[1]]))


def describe_row(header: Sequence[str], cells: Sequence[str]) -> list[str]:
    """A body row's cells, each with its column's name ("Location: Domestic"), as the loaders
    write them; a cell of a column without a name stays as it is."""
    names = [*header, *[""] * (len(cells) - len(header))]
    return [f"{name}: {cell}" if name and cell else cell for name, cell in zip(names, cells, strict=False)]


def _described(cells: Sequence[str]) -> bool:
    """Whether a row was written by :func:`describe_row`: at least half of its cells, and
    one at least, begin with a name and a colon."""
    filled = [cell for cell in cells if cell]
    named = sum(bool(_DESCRIBED_CELL.match(cell)) for cell in filled)
    return named > 0 and 2 * named >= len(filled)


def table_cells(line: str) -> list[str]:
    """The cells of a table line (``a | b`` or ``| a | b |``), whitespace collapsed."""
    stripped = line.strip()
    if stripped.startswith("|"):
        stripped = stripped[1:]
    if stripped.endswith("|"):
        stripped = stripped[:-1]
    return [" ".join(cell.replace("**", "").split()) for cell in stripped.split("|")]


def _table_units(text: str, lines: list[tuple[int, int]]) -> list[Unit]:
    """A unit per body row. A described row is one as written; otherwise the first row, or
    a bare row after a described one, is a header, and each row below it is rendered with it."""
    rows = [(s, e) for s, e in lines if not _TABLE_SEPARATOR.match(text[s:e])]
    header: list[str] = []
    described = False  # the last row was described: a bare row after it heads another table
    units = []
    for n, (start, end) in enumerate(rows):
        cells = table_cells(text[start:end])
        if _described(cells):
            parts = [cell for cell in cells if cell]
            units.append(Unit(UnitKind.ROW, "; ".join(parts), start, end))
            described = True
            continue
        if n == 0 or described:
            header, described = cells, False
            continue
        parts = []
        for i, cell in enumerate(cells):
            if not cell:
                continue
            name = header[i] if i < len(header) else ""
            parts.append(f"{name}: {cell}" if name and name != cell else cell)
        if parts:
            units.append(Unit(UnitKind.ROW, "; ".join(parts), start, end))
    return units


def _prose_units(text: str, start: int, end: int) -> list[Unit]:
    """A unit per list item (the whole item, without its bullet, with its lead-in: the
    sentence ending in ":" before its list) and per sentence of the rest."""
    units = []
    cuts = [start, *(start + m.start() + 1 for m in _ITEM_START.finditer(text[start:end])), end]
    blocks = []
    for block_start, block_end in zip(cuts, cuts[1:], strict=False):
        block = text[block_start:block_end]
        finished = _ITEM_END.search(block) if _BULLET.match(block) else None
        if finished:  # the item ends; the lines after it are prose
            cut = block_start + finished.end()
            blocks += [(block_start, cut), (cut, block_end)]
        else:
            blocks.append((block_start, block_end))
    lead = ""  # the lead-in of the list being read
    for block_start, block_end in blocks:
        block = text[block_start:block_end]
        bullet = _BULLET.match(block)
        if bullet and len(block.split()) <= MAX_WORDS:
            item_start = block_start + bullet.end()
            item = text[item_start:block_end]
            units.append(
                Unit(
                    UnitKind.ITEM,
                    " ".join(item.split()),
                    item_start,
                    item_start + len(item.rstrip()),
                    lead,
                )
            )
            continue
        sentences = sentence_spans(block)
        if sentences:
            last = " ".join(block[sentences[-1][0] : sentences[-1][1]].split())
            lead = last if last.endswith(":") and len(last.split()) <= _LEAD_WORDS else ""
        if bullet:  # a long item runs on into the text after it: its sentences are the units
            block_start += bullet.end()
            block = text[block_start:block_end]
            sentences = sentence_spans(block)
        for s, e in sentences:
            for line_start, line_end in _lines(block, s, e):
                piece = text[block_start + line_start : block_start + line_end]
                units.append(
                    Unit(
                        UnitKind.SENTENCE,
                        " ".join(piece.split()),
                        block_start + line_start,
                        block_start + line_end,
                    )
                )
    return units


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``(start, end)`` as it is, or cut at its line breaks when it has over :data:`MAX_WORDS` words
    (into pieces of :data:`MAX_WORDS` words when it has none)."""
    if len(text[start:end].split()) <= MAX_WORDS:
        return [(start, end)]
    if "\n" not in text[start:end]:
        words = [m.span() for m in re.finditer(r"\S+", text[start:end])]
        return [
            (start + words[i][0], start + words[min(i + MAX_WORDS, len(words)) - 1][1])
            for i in range(0, len(words), MAX_WORDS)
        ]
    spans, offset = [], start
    for line in text[start:end].split("\n"):
        if line.strip():
            lead = len(line) - len(line.lstrip())
            spans.append((offset + lead, offset + len(line.rstrip())))
        offset += len(line) + 1
    return spans
