"""The answer's HTML: verdict badges per sentence, citation links, escaped text, highlighted spans;
untrusted text as Markdown that shows as written; table cells safe to open in a spreadsheet."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from markdown_it import MarkdownIt

from attest.ui.render import (
    WORD_JOINER,
    answer_html,
    csv_cell,
    excerpt,
    highlights,
    link_citations,
    md_text,
    overall,
    source_card,
    table,
    text_html,
)

pytestmark = pytest.mark.unit

TEXT = "Staff get 27 days [1]. Cats <b>rule</b> [2, 3]."


def payload(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "answer": TEXT.replace("[2, 3].", "[2, 3]. [unverified]"),
        "answered": True,
        "sentences": [
            {
                "text": "Staff get 27 days [1].",
                "char_start": 0,
                "char_end": 22,
                "cited": [1],
                "support": {"number": 1, "char_start": 110, "char_end": 130},
            },
            {
                "text": "Cats <b>rule</b> [2, 3].",
                "char_start": 23,
                "char_end": 47,
                "cited": [2, 3],
                "support": None,
            },
        ],
        "verdict": {
            "supported": 1,
            "unsupported": 1,
            "score": 0.2,
            "threshold": 0.5,
            "claims": [
                {"text": "Staff get 27 days [1].", "start": 0, "end": 22, "supported": True, "score": 0.93},
                {
                    "text": "Cats <b>rule</b> [2, 3].",
                    "start": 23,
                    "end": 47,
                    "supported": False,
                    "score": 0.2,
                },
            ],
        },
        "gate": {"action": "flagged", "note": "1 statement could not be verified in the sources"},
        "citations": [{"number": 1}, {"number": 2}, {"number": 3}],
    }
    return base | changes


def test_each_sentence_carries_its_verdict_and_links_its_citations() -> None:
    out = answer_html(payload(), "m0")
    assert out.count("✓ supported") == 1 and out.count("⚠ unverified") == 1
    assert out.index("✓ supported") < out.index("Cats")  # the badge follows its own sentence
    assert '<a class="cite" href="#m0-src-2"' in out and '<a class="cite" href="#m0-src-3"' in out
    assert "<b>rule</b>" not in out and "&lt;b&gt;rule&lt;/b&gt;" in out  # answer text is escaped
    assert "[unverified]" not in out  # the badge replaces the policy's inline mark


def test_stripped_or_refused_answers_are_shown_as_given() -> None:
    stripped = payload(answer="Staff get 27 days [1].", gate={"action": "stripped", "note": "1 removed"})
    out = answer_html(stripped, "m1")
    assert "Cats" not in out and "supported" not in out and 'href="#m1-src-1"' in out


def test_overall_verdicts() -> None:
    assert overall(payload()).kind == "warning" and "1 of 2 statements supported" in overall(payload()).label
    verified = payload(verdict={"supported": 2, "unsupported": 0, "claims": []})
    assert overall(verified).kind == "success"
    assert overall({"answered": False}).label.startswith("Not in the documents")
    refused = payload(gate={"action": "refused", "note": "the answer's support score is below the threshold"})
    assert overall(refused).label.startswith("Could not verify")


def test_an_answer_that_does_not_answer_is_never_shown_as_verified() -> None:
    off_topic = {"supported": 1, "unsupported": 0, "claims": [], "answers_question": False}
    flagged = overall(payload(verdict=off_topic, gate={"action": "flagged", "note": "does not answer"}))
    assert flagged.kind == "warning" and flagged.label.startswith("Does not answer the question")
    refused = overall(payload(verdict=off_topic, gate={"action": "refused", "note": "does not answer"}))
    assert refused.label.startswith("Not answered")
    mark = " [does not answer the question]"
    shown = payload(
        answer="Owner: Office of the CEO. [1]" + mark, verdict=off_topic, gate={"action": "refused"}
    )
    assert mark.strip() not in answer_html(shown, "m0")  # the line below says it, in words


def test_source_card_highlights_the_cited_span_in_context() -> None:
    text = "Intro line.\n# Not a heading\n" + "x " * 200 + "Full-time staff get 27 days. " + "y " * 200
    start = 100 + text.index("Full-time")  # the passage starts at document offset 100
    source = {"number": 1, "title": "Leave <policy>", "page": 3, "char_start": 100, "text": text}
    card = source_card(source, "m0", [(start, start + 28)])
    assert "<mark>Full-time staff get 27 days.</mark>" in card
    assert 'id="m0-src-1"' in card and "Leave &lt;policy&gt;" in card and "page 3" in card
    assert card.count("…") == 2  # cut around the span, both sides
    assert "\n" not in card  # newlines are character references: never read as Markdown


def test_excerpt_keeps_short_texts_whole_and_shifts_spans() -> None:
    assert excerpt("short text", [(0, 5)]) == ("short text", [(0, 5)])
    body, spans = excerpt("a " * 400 + "target " + "b " * 400, [(800, 806)], context=20)
    assert body.startswith("…") and body.endswith("…")
    assert body[spans[0][0] : spans[0][1]] == "target"


def test_helpers() -> None:
    assert highlights(payload()) == {1: [(110, 130)]}
    assert link_citations("a [7] b", "p") == 'a <a class="cite" href="#p-src-7" title="source 7">[7]</a> b'


# What the security probe typed, and the rest of what Markdown and Streamlit give a meaning to.
HOSTILE = [
    "![x](http://203.0.113.9/pixel.png)",
    "Session expired, [click here](http://203.0.113.9/login) to sign in again",
    "<img src=http://203.0.113.9/raw.png> <b>bold</b> &amp; &#91;",
    "**bold** _it_ `code` ~~gone~~ $x^2$ :red[red] :material/lock: [^1]",
    "# Heading",
    "> quoted",
    "- item",
    "+ item",
    "1. item",
    "12) item",
    "    indented code",
    "```\nfenced\n```",
    "line one\n\n# heading\n===\n- item",
    "a\r\rb",
    "| a | b |\n|---|---|\n| c | d |",
    "[ref]: http://203.0.113.9/ref\n[ref]",
    "<http://203.0.113.9/auto> http://203.0.113.9/bare www.example.org alice@example.org",
    "\\*not bold\\*",
]

# CommonMark with GitHub's tables and strikethrough: the parser family Streamlit's
# react-markdown belongs to (GFM's autolinks literal are checked separately below).
PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


@pytest.mark.parametrize("text", HOSTILE)
def test_md_text_is_shown_as_written(text: str) -> None:
    rendered = PARSER.render(md_text(text))
    inner = re.fullmatch(r"<p>(.*)</p>\n", rendered, re.S)
    assert inner, rendered  # one paragraph: no heading, list, quote, code block or table
    assert "<" not in inner.group(1).replace("&lt;", "")  # no element at all: no img, a, em, code
    shown = html.unescape(inner.group(1)).replace(WORD_JOINER, "")
    assert shown == text  # line breaks included, as characters: the browser shows them as spaces


def test_md_text_breaks_gfm_autolinks_and_keeps_plain_text_as_is() -> None:
    # GFM links bare URLs and addresses in already decoded text; a word joiner stops it.
    out = md_text("see http://203.0.113.9/x or www.example.org, mail alice@example.org")
    assert "http://" not in html.unescape(out) and "www." not in html.unescape(out)
    assert "e@" not in html.unescape(out)
    assert md_text("Wrong username or password.") == "Wrong username or password."


def test_text_html_keeps_a_fragment_one_raw_html_block() -> None:
    assert text_html("a\n\nb\r\rc\r\nd <img>") == "a&#10;&#10;b&#10;&#10;c&#10;d &lt;img&gt;"
    card = source_card({"number": 1, "title": "T\n\n![x](http://203.0.113.9/t.png)", "text": "x"}, "m", [])
    rendered = PARSER.enable("html_block").render(card)
    assert "<img" not in rendered and "\n\n" not in card


def test_answer_text_cannot_end_the_answer_block() -> None:
    text = "Leave is 27 days [1].\n\n![x](http://203.0.113.9/a.png)\r\r[click](http://203.0.113.9/l)"
    out = answer_html({"answer": text, "answered": True}, "m0")
    rendered = MarkdownIt("commonmark").render(out)  # raw HTML on, as with unsafe_allow_html
    assert "<img" not in rendered and '203.0.113.9/l"' not in rendered
    assert "\n" not in out and "\r" not in out


def test_table_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    for formula in ("=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "\n=1"):
        assert csv_cell(formula) == "'" + formula
    assert csv_cell("How many days?") == "How many days?"
    assert csv_cell(42) == 42 and csv_cell(None) is None
    assert csv_cell(["staff", "=1+1"]) == ["staff", "'=1+1"]
    rows = table([{"id": 1, "question": '=HYPERLINK("http://203.0.113.9")', "actor": "user:a"}])
    assert rows == [{"id": 1, "question": '\'=HYPERLINK("http://203.0.113.9")', "actor": "user:a"}]
