"""The dashboard's arithmetic on hand-made question records."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from attest.core.dashboard import ask_from_details, summarize

pytestmark = pytest.mark.unit

DAY = datetime(2026, 11, 20, 9, 0)


def test_outcomes_are_read_from_the_ask_details() -> None:
    assert ask_from_details(DAY, {"answered": False}).outcome == "declined"
    assert ask_from_details(DAY, {"answered": True, "verdict": {"unsupported": 1}}).outcome == "unsupported"
    assert ask_from_details(DAY, {"answered": True, "verdict": {"unsupported": 0}}).outcome == "supported"
    assert ask_from_details(DAY, {"latency_ms": "fast"}).latency_ms is None  # a malformed value is ignored


def test_summary_per_day_percentiles_feedback_and_gaps() -> None:
    asks = [
        ask_from_details(DAY, {"answered": True, "latency_ms": ms, "question": "q"}) for ms in range(1, 101)
    ]
    asks += [
        ask_from_details(DAY + timedelta(days=1), {"answered": False, "latency_ms": 10.0, "question": q})
        for q in ("Where is the cat?", "where is the  CAT", "Who is the CEO?")
    ]
    summary = summarize(asks, [1, 1, -1])
    first, second = summary["days"]
    assert first["day"] == "2026-11-20" and first["questions"] == 100 and first["declined"] == 0
    assert first["p50_ms"] == 50.5 and first["p95_ms"] == pytest.approx(95.05, abs=0.05)
    assert second["questions"] == 3 and second["declined"] == 3
    assert summary["outcomes"] == {"supported": 100, "unsupported": 0, "declined": 3}
    assert summary["feedback"] == {"up": 2, "down": 1, "ratio": 0.6667}
    gaps = summary["gaps"]
    assert gaps[0]["count"] == 2 and gaps[0]["question"] == "where is the  CAT"  # latest wording
    assert gaps[1] == {"question": "Who is the CEO?", "count": 1, "last_asked": DAY + timedelta(days=1)}


def test_an_empty_period() -> None:
    summary = summarize([], [])
    assert summary["questions"] == 0 and summary["days"] == [] and summary["feedback"]["ratio"] is None
