"""The admin dashboard's numbers, computed from the audit log's question records and feedback.

Every question the API answers leaves one ``ask`` record (see :mod:`attest.api.routes.ask`)
with its latency, whether Attest answered, and the verdict's counts; so the dashboard needs
no table of its own and agrees with the audit log by construction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, or_

from attest.core.models import AuditRecord
from attest.core.questions import question_key  # the answer cache's notion of "the same question"

OUTCOMES = ("supported", "unsupported", "declined")


@dataclass(frozen=True)
class Ask:
    """What the dashboard needs of one ``ask`` audit record."""

    at: datetime
    latency_ms: float | None
    outcome: str  # one of OUTCOMES
    question: str


def ask_from_details(at: datetime, details: dict[str, Any]) -> Ask:
    """Read an ``ask`` record's details (tolerating records written by older versions)."""
    verdict = details.get("verdict") if isinstance(details.get("verdict"), dict) else None
    if not details.get("answered", True):
        outcome = "declined"
    elif verdict and verdict.get("unsupported"):
        outcome = "unsupported"
    else:
        outcome = "supported"
    latency = details.get("latency_ms")
    return Ask(
        at=at,
        latency_ms=float(latency) if isinstance(latency, int | float) else None,
        outcome=outcome,
        question=str(details.get("question") or ""),
    )


def outcome_filter(outcome: str) -> ColumnElement[bool]:
    """The SQL condition for ``ask`` records with ``outcome`` (the same rule as
    :func:`ask_from_details`), on SQLite and PostgreSQL alike."""
    answered = AuditRecord.details["answered"].as_boolean()
    unsupported = AuditRecord.details[("verdict", "unsupported")].as_integer()
    is_ask = AuditRecord.action == "ask"
    if outcome == "declined":
        return and_(is_ask, answered == False)  # noqa: E712 - SQL, not Python
    not_declined = or_(answered.is_(None), answered == True)  # noqa: E712
    if outcome == "unsupported":
        return and_(is_ask, not_declined, unsupported > 0)
    if outcome == "supported":
        return and_(is_ask, not_declined, or_(unsupported.is_(None), unsupported == 0))
    raise ValueError(f"unknown outcome {outcome!r}; valid: {', '.join(OUTCOMES)}")


def summarize(asks: Iterable[Ask], ratings: Iterable[int], *, gaps: int = 10) -> dict[str, Any]:
    """Questions and latency percentiles per day, outcomes, feedback, and the most frequent
    questions Attest declined (the gaps in the knowledge base)."""
    per_day: dict[date, list[Ask]] = defaultdict(list)
    outcomes: Counter[str] = Counter()
    declined: Counter[str] = Counter()
    wording: dict[str, str] = {}  # normalised question -> its latest wording
    last_asked: dict[str, datetime] = {}
    for ask in sorted(asks, key=lambda a: a.at):
        per_day[ask.at.date()].append(ask)
        outcomes[ask.outcome] += 1
        if ask.outcome == "declined" and ask.question:
            key = question_key(ask.question)
            declined[key] += 1
            wording[key] = ask.question
            last_asked[key] = ask.at
    days = []
    for day in sorted(per_day):
        latencies = [a.latency_ms for a in per_day[day] if a.latency_ms is not None]
        p50, p95 = np.percentile(latencies, [50, 95]).round(1).tolist() if latencies else (None, None)
        days.append(
            {
                "day": day.isoformat(),
                "questions": len(per_day[day]),
                "declined": sum(a.outcome == "declined" for a in per_day[day]),
                "p50_ms": p50,
                "p95_ms": p95,
            }
        )
    votes = Counter(1 if r > 0 else -1 for r in ratings)
    up, down = votes[1], votes[-1]
    return {
        "questions": sum(outcomes.values()),
        "days": days,
        "outcomes": {name: outcomes[name] for name in OUTCOMES},
        "feedback": {"up": up, "down": down, "ratio": round(up / (up + down), 4) if up + down else None},
        "gaps": [
            {"question": wording[key], "count": count, "last_asked": last_asked[key]}
            for key, count in declined.most_common(gaps)
        ],
    }
