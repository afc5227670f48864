"""End to end: how many wrong answers reach users with and without the verification gate.

Indexes the SQuAD 2.0 dev paragraphs (as ``attest eval qa`` does), answers a fixed sample
of answerable and unanswerable questions with the configured backend, and compares what
users would see under no gate and under each policy. Judged against the gold data:

* an answer shown for an *unanswerable* question states something its passages do not
  support (SQuAD's annotators wrote these questions so that the paragraph does not answer
  them), and so does an answer to an answerable question that contains no gold answer;
* a *correct* answer contains a gold answer; it is *withheld* when the policy's text no
  longer contains it (stripped or refused).

``unmarked`` counts the unsupported answers shown with nothing marked: under ``flag``
the answer is shown, but the unsupported claims carry ``[unverified]`` and an answer that
does not answer the question carries ``[does not answer the question]``.

"No gate" is what users would see with neither the reader's "not in the documents" gate
nor the verification policy: each question is asked once with the reader's decline
threshold at 0, and its draft is shown as written. Then each question is asked once with
the default gate (under ``flag``); its draft is checked again here, against its passages'
own embeddings rather than the index's chunk vectors, and flag, strip and refuse are
applied to that draft and verdict with the service's own ``apply`` (an answer the reader
gate declined stays declined); ``regenerate`` re-asks the questions whose answer had an
unsupported claim or did not answer, through the service. Usage:
    python bench/hallucination_gate.py [--limit 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attest.answers import Answer, Answerer
from attest.core import db
from attest.core.models import Policy
from attest.core.settings import get_settings
from attest.eval.beir import index_corpus
from attest.eval.datasets import SQUAD_DEV, SquadQuestion, sample, squad_corpus, squad_questions
from attest.eval.metrics import contains_gold
from attest.verify.checker import Verdict
from attest.verify.policy import OFF_TOPIC_MARK, UNVERIFIED_MARK, apply


def judge(question: SquadQuestion, shown: str | None, marked: bool) -> dict[str, bool]:
    """What one question's shown text (``None``: declined or refused) means for the user."""
    correct = shown is not None and question.answerable and contains_gold(shown, question.answers)
    unsupported = shown is not None and not correct
    return {"shown": shown is not None, "correct": correct, "unsupported": unsupported, "marked": marked}


def summarise(rows: list[dict[str, bool]], baseline: list[dict[str, bool]]) -> dict[str, Any]:
    shown = sum(r["shown"] for r in rows)
    unsupported = sum(r["unsupported"] for r in rows)
    unmarked = sum(r["unsupported"] and not r["marked"] for r in rows)
    correct_before = [i for i, r in enumerate(baseline) if r["correct"]]
    withheld = sum(not rows[i]["correct"] for i in correct_before)
    return {
        "shown": shown,
        "unsupported_shown": round(unsupported / max(shown, 1), 4),
        "unsupported_unmarked": round(unmarked / max(shown, 1), 4),
        "correct_withheld": round(withheld / max(len(correct_before), 1), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not SQUAD_DEV.is_file():
        print(f"skipped: {SQUAD_DEV} is missing", file=sys.stderr)
        return 0
    settings = get_settings()
    squad = json.loads(SQUAD_DEV.read_text(encoding="utf-8"))
    corpus = squad_corpus(squad)
    questions = sample(squad_questions(squad), args.limit)
    with tempfile.TemporaryDirectory(prefix="attest-gate-") as tmp:
        retriever, _ = index_corpus(corpus, Path(tmp), settings)
        settings = settings.model_copy(
            update={"data_dir": Path(tmp) / "data", "database_url": None, "verify_policy": "flag"}
        )
        engine = db.make_engine(settings.sqlalchemy_url)
        answerer = Answerer(engine, settings, embedder=retriever.embedder)
        ungated = Answerer(
            engine,
            settings,
            embedder=retriever.embedder,
            answer_model=answerer.answer_model.ungated(),
        )
        open_answers = ask_all(ungated, questions)
        answers = ask_all(answerer, questions)
        results = {
            "no gate": [judge(q, a.draft, False) for q, a in zip(questions, open_answers, strict=True)]
        }
        verdicts = [verdict_of(q, a, answerer) for q, a in zip(questions, answers, strict=True)]
        for policy in (Policy.FLAG, Policy.STRIP, Policy.REFUSE):
            results[policy.value] = [
                gated(q, a, v, policy) for q, a, v in zip(questions, answers, verdicts, strict=True)
            ]
        regenerate = answerer.settings.model_copy(update={"verify_policy": "regenerate"})
        answerer.settings = regenerate
        results["regenerate"] = [
            judge(q, _shown(answerer.ask("eval", q.question)), False)
            if a.verdict and (a.verdict.unsupported or a.verdict.answers_question is False)
            else judge(q, _shown(a), False)
            for q, a in zip(questions, answers, strict=True)
        ]
    baseline = results["no gate"]
    report = {
        "date": f"{datetime.now(UTC):%Y-%m-%d}",
        "backend": answerer.generator.name,
        "questions": len(questions),
        "answerable": sum(q.answerable for q in questions),
        "policies": {name: summarise(rows, baseline) for name, rows in results.items()},
    }
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))
    return 0


def ask_all(answerer: Answerer, questions: list[SquadQuestion]) -> list[Answer]:
    answers = []
    for n, question in enumerate(questions, 1):
        answers.append(answerer.ask("eval", question.question))
        if n % 25 == 0:
            print(f"{n}/{len(questions)} questions", file=sys.stderr)
    return answers


def verdict_of(question: SquadQuestion, answer: Answer, answerer: Answerer) -> Verdict | None:
    """The checker's verdict on the answer's draft (``None`` when it was declined unchecked)."""
    if answer.draft is None:
        return None
    passages, titles = [], {}
    for source in answer.sources:
        if source.passage is not None:
            passages.append((source.passage.number, source.text))
            titles[source.passage.number] = source.passage.title
    return answerer.checker.check(answer.draft, passages, question.question, titles=titles)


def gated(
    question: SquadQuestion, answer: Answer, verdict: Verdict | None, policy: Policy
) -> dict[str, bool]:
    """The policy applied to the answer's draft and verdict (the service's own ``apply``)."""
    if answer.draft is None or verdict is None:
        return judge(question, None, False)
    result = apply(policy, answer.draft, verdict)
    shown = None if result.action == "refused" else result.text
    return judge(question, shown, UNVERIFIED_MARK in result.text or OFF_TOPIC_MARK in result.text)


def _shown(answer: Answer) -> str | None:
    refused = answer.gate is not None and answer.gate.action == "refused"
    return answer.text if answer.answered and not refused else None


if __name__ == "__main__":
    raise SystemExit(main())
