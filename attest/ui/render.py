"""How an answer looks: sentences with verdict badges, citation links and source cards.

Pure functions from the API's answer payload to HTML fragments, so that they can be tested
without Streamlit. Every piece of document or answer text is escaped before it is wrapped
in markup; the only HTML here is what this module writes.

Text that is not the UI's own (questions, answers, document titles and text, file names,
user and knowledge base names, the API's error messages) reaches Streamlit only through
:func:`text_html` (inside this module's HTML), :func:`md_text` (anywhere Streamlit reads
Markdown: ``st.markdown``, captions, alerts, widget and expander labels) or, for tables,
:func:`table` (cells a spreadsheet would run as formulas are neutralised for the table's
"Download as CSV").
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
UNVERIFIED_MARK = " [unverified]"  # what the flag policy writes after an unsupported claim
OFF_TOPIC_MARK = " [does not answer the question]"  # what it writes after an answer that does not answer
CONTEXT_CHARS = 300  # of a source shown around its cited spans

STYLE = """
<style>
.attest-answer { line-height: 1.6; }
.attest-answer a.cite { text-decoration: none; font-size: 0.8em; vertical-align: super; padding: 0 1px; }
.attest-badge { font-size: 0.72em; padding: 1px 6px; border-radius: 8px; margin-left: 4px;
                white-space: nowrap; vertical-align: 1px; }
.attest-ok { background: #e3f4e8; color: #1d6b35; }
.attest-bad { background: #fde8e6; color: #a52a1a; }
.attest-sentence-bad { background: #fff4e0; border-bottom: 1px dashed #d08a00; }
.attest-card { border: 1px solid #e3e6ea; border-radius: 8px; padding: 10px 14px; margin: 6px 0;
               background: #fafbfc; font-size: 0.9em; }
.attest-card .title { font-weight: 600; margin-bottom: 4px; }
.attest-card .where { color: #6b7280; font-weight: 400; }
.attest-card mark { background: #fff1a8; padding: 0 1px; }
.attest-card .body { white-space: pre-wrap; }
.attest-declined { border-left: 4px solid #6b7280; background: #f3f4f6; padding: 10px 14px;
                   border-radius: 4px; }
</style>
"""


# Inside a line, these start Markdown (emphasis, code, links and images, raw HTML, entities,
# strikethrough, math, Streamlit's ``:color[...]`` and ``:icon:`` directives, tables); as
# character references they are plain characters to the parser.
_INLINE = frozenset("\\`*_{}[]()<>!|~$:@&^")
# At the start of a line these (after optional spaces) start a block: a heading, a quote,
# a list, a setext underline, an indented code block.
_BLOCK_START = re.compile(r"[ \t]*(?:[#>+\-=]|\d{1,9}(?=[.)]))?")
# GFM turns bare URLs and e-mail addresses in the text it has already decoded into links,
# so character references do not stop it; an invisible word joiner does.
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|mailto|xmpp|www)(?=[:.])|(?=@)")
WORD_JOINER = "\u2060"
# What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _reference(char: str) -> str:
    return f"&#{ord(char)};"


def md_text(value: object) -> str:
    """``value`` as Markdown that Streamlit shows exactly as written: no image is fetched,
    no link, heading, list, emphasis or raw HTML is made. Line breaks become spaces (the
    text stays one line, so no later line can start a block)."""
    text = _AUTOLINK.sub(lambda m: (m.group(1) or "") + WORD_JOINER, str(value))
    start = _BLOCK_START.match(text)
    end = start.end() if start else 0
    head = "".join(_reference(c) for c in text[:end])
    return head + "".join(_reference(c) if c in _INLINE or c in "\r\n\t" else c for c in text[end:])


def text_html(value: object) -> str:
    """``value`` escaped for this module's HTML fragments. Line breaks become character
    references, so that a fragment stays one raw-HTML block: Streamlit's Markdown never
    reads what is inside it, and a blank line in the text cannot end the block early."""
    escaped = html.escape(str(value))
    return escaped.replace("\r\n", "&#10;").replace("\r", "&#10;").replace("\n", "&#10;")


def csv_cell(value: Any) -> Any:
    """A cell as a spreadsheet may safely open it: text that would start a formula (``=``,
    ``+``, ``-``, ``@``, tab, line break) gets a leading apostrophe, as OWASP recommends;
    lists are treated cell by cell; anything else is returned unchanged."""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    if isinstance(value, list | tuple):
        return [csv_cell(v) for v in value]
    return value


def table(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for ``st.dataframe``, every cell through :func:`csv_cell`: Streamlit's own
    "Download as CSV" of a table writes the cells as they are."""
    return [{key: csv_cell(value) for key, value in row.items()} for row in rows]


@dataclass(frozen=True)
class Overall:
    """The answer's overall verdict as a label and a kind (``success``, ``warning``, ``info``)."""

    label: str
    kind: str


def anchor(prefix: str, number: int) -> str:
    return f"{prefix}-src-{number}"


def link_citations(text: str, prefix: str) -> str:
    """Escape ``text`` and turn each ``[n]`` / ``[n, m]`` into links to the source cards."""
    out, last = [], 0
    for match in CITATION.finditer(text):
        out.append(text_html(text[last : match.start()]))
        numbers = [int(n) for n in match.group(1).split(",")]
        out.append(
            "".join(
                f'<a class="cite" href="#{anchor(prefix, n)}" title="source {n}">[{n}]</a>' for n in numbers
            )
        )
        last = match.end()
    out.append(text_html(text[last:]))
    return "".join(out)


def _claims_in(claims: list[dict[str, Any]], start: int, end: int) -> list[dict[str, Any]]:
    return [c for c in claims if c.get("start", -1) < end and c.get("end", -1) > start]


def answer_html(payload: dict[str, Any], prefix: str) -> str:
    """The answer's text as HTML. When the user sees the answer as written (policy ``flag`` or
    nothing to flag), each sentence carries its verdict badge; when the policy stripped or
    refused, or Attest declined, the text is shown as the API gave it."""
    gate = payload.get("gate") or {}
    verdict = payload.get("verdict") or {}
    sentences = payload.get("sentences") or []
    claims = verdict.get("claims") or []
    as_written = payload.get("answered") and gate.get("action", "shown") in ("shown", "flagged")
    if not (as_written and sentences and claims):
        text = str(payload.get("answer", "")).replace(UNVERIFIED_MARK, "").replace(OFF_TOPIC_MARK, "")
        return f'<div class="attest-answer">{link_citations(text, prefix)}</div>'
    parts = []
    for sentence in sentences:
        inside = _claims_in(claims, sentence["char_start"], sentence["char_end"])
        body = link_citations(sentence["text"], prefix)
        if not inside:
            parts.append(body)
        elif all(c.get("supported") for c in inside):
            score = min(float(c.get("score", 0)) for c in inside)
            parts.append(
                f'{body}<span class="attest-badge attest-ok" title="support {score:.2f}">✓ supported</span>'
            )
        else:
            score = min(float(c.get("score", 0)) for c in inside)
            parts.append(
                f'<span class="attest-sentence-bad">{body}</span>'
                f'<span class="attest-badge attest-bad" title="support {score:.2f}">⚠ unverified</span>'
            )
    return f'<div class="attest-answer">{" ".join(parts)}</div>'


def overall(payload: dict[str, Any]) -> Overall:
    """The one-line verdict shown under an answer."""
    if payload.get("withheld"):
        return Overall("Withheld: this answer rests on a document you can no longer read.", "info")
    if not payload.get("answered"):
        return Overall("Not in the documents: the knowledge base does not contain the answer.", "info")
    gate = payload.get("gate") or {}
    verdict = payload.get("verdict")
    if not verdict:
        return Overall("Not verified.", "warning")
    total = verdict["supported"] + verdict["unsupported"]
    note = f" {gate['note'][0].upper()}{gate['note'][1:]}." if gate.get("note") else ""
    if verdict.get("answers_question") is False:
        if gate.get("action") == "refused":
            return Overall("Not answered: the documents found do not answer this question.", "info")
        return Overall(
            "Does not answer the question: the text comes from the sources but answers something else.",
            "warning",
        )
    if gate.get("action") == "refused":
        return Overall(f"Could not verify this answer against the documents.{note}", "warning")
    if verdict["unsupported"] == 0:
        return Overall(f"Verified: {total} of {total} statements supported by the sources.", "success")
    return Overall(
        f"{verdict['supported']} of {total} statements supported; {verdict['unsupported']} could not be "
        f"verified.{note}",
        "warning",
    )


def highlights(payload: dict[str, Any]) -> dict[int, list[tuple[int, int]]]:
    """Per source number, the spans (document offsets) that answer sentences rest on."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for sentence in payload.get("sentences") or []:
        support = sentence.get("support")
        if support:
            spans.setdefault(int(support["number"]), []).append(
                (int(support["char_start"]), int(support["char_end"]))
            )
    return spans


def _marked(text: str, spans: list[tuple[int, int]]) -> str:
    """Escape ``text`` (:func:`text_html`) and wrap the spans (offsets into ``text``) in <mark>."""
    out, last = [], 0
    for start, end in sorted(spans):
        start = max(start, last)
        if start >= end:
            continue
        out.append(text_html(text[last:start]))
        out.append(f"<mark>{text_html(text[start:end])}</mark>")
        last = end
    out.append(text_html(text[last:]))
    return "".join(out)


def excerpt(
    text: str, spans: list[tuple[int, int]], context: int = CONTEXT_CHARS
) -> tuple[str, list[tuple[int, int]]]:
    """The part of ``text`` around ``spans`` (about ``context`` characters each side, cut at
    spaces, with ellipses), and the spans' offsets in it; all of a short text."""
    spans = [(max(0, s), min(len(text), e)) for s, e in spans if min(len(text), e) > max(0, s)]
    if not spans:
        start, end = 0, min(len(text), 2 * context)
    else:
        start = max(0, min(s for s, _ in spans) - context)
        end = min(len(text), max(e for _, e in spans) + context)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < min(s for s, _ in spans or [(len(text), 0)]) else start
    if end < len(text):
        space = text.rfind(" ", 0, end)
        end = space if space > max((e for _, e in spans), default=0) else end
    head = "…" if start > 0 else ""
    tail = "…" if end < len(text) else ""
    shifted = [(s - start + len(head), e - start + len(head)) for s, e in spans]
    return head + text[start:end] + tail, shifted


def source_card(source: dict[str, Any], prefix: str, spans: list[tuple[int, int]]) -> str:
    """One source: number, title, page, and its text around the cited spans (document offsets),
    which are highlighted."""
    number = source.get("number")
    where = f", page {source['page']}" if source.get("page") else ""
    head = f"[{number}] " if number is not None else ""
    offset = int(source.get("char_start", 0))
    text, local = excerpt(str(source.get("text", "")), [(s - offset, e - offset) for s, e in spans])
    ident = f' id="{anchor(prefix, int(number))}"' if number is not None else ""
    title = text_html(head + str(source.get("title", "")))
    return (
        f'<div class="attest-card"{ident}><div class="title">{title}<span class="where">{text_html(where)}'
        f'</span></div><div class="body">{_marked(text, local)}</div></div>'
    )


def cited_numbers(payload: dict[str, Any]) -> set[int]:
    return {int(c["number"]) for c in payload.get("citations") or [] if "number" in c}
