"""The answer's HTML: verdict badges per sentence, citation links, escaped text, highlighted spans."""

from __future__ import annotations

from typing import Any

import pytest

from attest.ui.render import answer_html, excerpt, highlights, link_citations, overall, source_card

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
