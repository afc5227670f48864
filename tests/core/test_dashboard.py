"""The dashboard's arithmetic on hand-made question records."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from attest.core.dashboard import ask_from_details, summarize

pytestmark = pytest.mark.unit

DAY = datetime(2026, 11, 20, 9, 0)


def test_a_stored_value_that_is_no_outcome_is_read_by_the_old_rule() -> None:
    assert ask_from_details(DAY, {"answered": False, "outcome": "bogus"}).outcome == "declined"
    assert ask_from_details(DAY, {"answered": True, "outcome": ["x"]}).outcome == "supported"


def test_the_stored_outcome_is_read_not_derived() -> None:
    # Details that the old rule would read otherwise: the stored outcome wins.
    faithful = {"answered": True, "verdict": {"unsupported": 0, "answers_question": False}}
    assert ask_from_details(DAY, faithful | {"outcome": "off_topic"}).outcome == "off_topic"
    assert ask_from_details(DAY, {"answered": True, "outcome": "declined"}).outcome == "declined"
    assert ask_from_details(DAY, {"answered": False, "outcome": "unsupported"}).outcome == "unsupported"


def test_records_before_the_outcome_was_stored_are_read_by_the_old_rule() -> None:
    assert ask_from_details(DAY, {"answered": False}).outcome == "declined"
    assert ask_from_details(DAY, {"answered": True, "verdict": {"unsupported": 1}}).outcome == "unsupported"
    assert ask_from_details(DAY, {"answered": True, "verdict": {"unsupported": 0}}).outcome == "supported"
    assert ask_from_details(DAY, {"question": "before 'answered' was stored"}).outcome == "supported"
    # The old rule had no off_topic: such an answer was counted as supported, and still is.
    off_topic = {"answered": True, "verdict": {"unsupported": 0, "answers_question": False}}
    assert ask_from_details(DAY, off_topic).outcome == "supported"
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
    assert summary["outcomes"] == {"supported": 100, "unsupported": 0, "off_topic": 0, "declined": 3}
    assert summary["feedback"] == {"up": 2, "down": 1, "ratio": 0.6667}
    gaps = summary["gaps"]
    assert gaps[0]["count"] == 2 and gaps[0]["question"] == "where is the  CAT"  # latest wording
    assert gaps[1] == {"question": "Who is the CEO?", "count": 1, "last_asked": DAY + timedelta(days=1)}


def test_off_topic_answers_are_counted_apart() -> None:
    asks = [
        ask_from_details(DAY, {"answered": True, "outcome": "off_topic", "question": "q"}),
        ask_from_details(DAY, {"answered": True, "outcome": "supported", "question": "q"}),
        ask_from_details(DAY, {"answered": True, "verdict": {"unsupported": 0}}),  # legacy: supported
    ]
    summary = summarize(asks, [])
    assert summary["outcomes"] == {"supported": 2, "unsupported": 0, "off_topic": 1, "declined": 0}
    assert summary["questions"] == 3 and summary["days"][0]["declined"] == 0


def test_an_empty_period() -> None:
    summary = summarize([], [])
    assert summary["questions"] == 0 and summary["days"] == [] and summary["feedback"]["ratio"] is None
