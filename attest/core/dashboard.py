"""The admin dashboard's numbers, computed from the audit log's question records and feedback.

Every question asked, through the API or ``attest ask``, leaves one ``ask`` record (its
details written by :func:`attest.answers.audit_details`) with its latency, whether Attest
answered, the verdict's counts and the question's :class:`Outcome`; so the dashboard needs
no table of its own and agrees with the audit log by construction. It reads the stored
outcome and never re-derives it, except for records written before the outcome was stored
(:func:`legacy_outcome`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, false, or_

from attest.core.models import AuditRecord, Outcome
from attest.core.questions import question_key  # the answer cache's notion of "the same question"


@dataclass(frozen=True)
class Ask:
    """What the dashboard needs of one ``ask`` audit record."""

    at: datetime
    latency_ms: float | None
    outcome: Outcome
    question: str


def ask_from_details(at: datetime, details: dict[str, Any]) -> Ask:
    """Read an ``ask`` record's details (tolerating records written by older versions)."""
    latency = details.get("latency_ms")
    return Ask(
        at=at,
        latency_ms=float(latency) if isinstance(latency, int | float) else None,
        outcome=outcome_from_details(details),
        question=str(details.get("question") or ""),
    )


def outcome_from_details(details: dict[str, Any]) -> Outcome:
    """The outcome an ``ask`` record stored; for a record written before the outcome was
    stored (or one whose stored value is not an outcome, which only an edit of the log
    could leave, and ``attest audit verify`` reports), its :func:`legacy_outcome`."""
    try:
        return Outcome(details["outcome"])
    except (KeyError, ValueError, TypeError):
        return legacy_outcome(details)


def legacy_outcome(details: dict[str, Any]) -> Outcome:
    """The outcome of an ``ask`` record written before the outcome was stored, by the rule
    that held then: declined when not answered, unsupported when the verdict counted an
    unsupported claim, else supported. That rule did not know ``off_topic``, so no such
    record is ever read as one; records written since are never read by this rule.
    A record from before ``answered`` was stored was an answer."""
    verdict = details.get("verdict") if isinstance(details.get("verdict"), dict) else None
    if not details.get("answered", True):
        return Outcome.DECLINED
    if verdict and verdict.get("unsupported"):
        return Outcome.UNSUPPORTED
    return Outcome.SUPPORTED


def outcome_filter(outcome: Outcome) -> ColumnElement[bool]:
    """The SQL condition for ``ask`` records with ``outcome``, on SQLite and PostgreSQL alike:
    the stored outcome where there is one, else :func:`legacy_outcome`'s rule (the same
    reading as :func:`outcome_from_details`)."""
    stored = AuditRecord.details["outcome"].as_string()
    return and_(
        AuditRecord.action == "ask",
        or_(stored == outcome.value, and_(stored.is_(None), _legacy_filter(outcome))),
    )


def _legacy_filter(outcome: Outcome) -> ColumnElement[bool]:
    """:func:`legacy_outcome` in SQL."""
    answered = AuditRecord.details["answered"].as_boolean()
    unsupported = AuditRecord.details[("verdict", "unsupported")].as_integer()
    if outcome is Outcome.DECLINED:
        return answered == False  # noqa: E712 - SQL, not Python
    not_declined = or_(answered.is_(None), answered == True)  # noqa: E712
    if outcome is Outcome.UNSUPPORTED:
        return and_(not_declined, unsupported > 0)
    if outcome is Outcome.SUPPORTED:
        return and_(not_declined, or_(unsupported.is_(None), unsupported == 0))
    return false()  # the old rule had no off_topic


def summarize(asks: Iterable[Ask], ratings: Iterable[int], *, gaps: int = 10) -> dict[str, Any]:
    """Questions and latency percentiles per day, outcomes, feedback, and the most frequent
    questions Attest declined (the gaps in the knowledge base)."""
    per_day: dict[date, list[Ask]] = defaultdict(list)
    outcomes: Counter[Outcome] = Counter()
    declined: Counter[str] = Counter()
    wording: dict[str, str] = {}  # normalised question -> its latest wording
    last_asked: dict[str, datetime] = {}
    for ask in sorted(asks, key=lambda a: a.at):
        per_day[ask.at.date()].append(ask)
        outcomes[ask.outcome] += 1
        if ask.outcome == Outcome.DECLINED and ask.question:
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
                "declined": sum(a.outcome == Outcome.DECLINED for a in per_day[day]),
                "p50_ms": p50,
                "p95_ms": p95,
            }
        )
    votes = Counter(1 if r > 0 else -1 for r in ratings)
    up, down = votes[1], votes[-1]
    return {
        "questions": sum(outcomes.values()),
        "days": days,
        "outcomes": {o.value: outcomes[o] for o in Outcome},
        "feedback": {"up": up, "down": down, "ratio": round(up / (up + down), 4) if up + down else None},
        "gaps": [
            {"question": wording[key], "count": count, "last_asked": last_asked[key]}
            for key, count in declined.most_common(gaps)
        ],
    }
