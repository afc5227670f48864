"""``attest eval qa``: index a SQuAD 2.0 file's paragraphs, ask its questions, score the answers.

Exact match and F1 use the official SQuAD normalisation and take the best gold answer;
"contains gold" is whether a gold answer appears inside the answer (see
:mod:`attest.eval.metrics`). Unanswerable questions count as handled when Attest declines.
Citation precision is the share of cited passages that contain a gold answer, over
answerable questions.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attest.answers import Answerer
from attest.core import db
from attest.core.enums import IndexBackendName
from attest.core.errors import InvalidInput
from attest.core.settings import Settings
from attest.eval.beir import index_corpus
from attest.eval.datasets import SquadQuestion, sample, squad_corpus, squad_questions
from attest.eval.metrics import contains_gold, exact_match, f1, latency_percentiles, time_to_first_word
from attest.retrieval.backend import Searcher
from attest.retrieval.hybrid import HybridRetriever, RetrievedChunk
from attest.text.embedder import SentenceTransformerEmbedder


def evaluate_squad(
    path: Path, settings: Settings, *, limit: int | None, oracle: bool, articles: str = "all"
) -> dict[str, Any]:
    """Metrics of the configured backend on a fixed sample of ``path``'s questions.

    ``articles`` ``"even"`` or ``"odd"`` keeps the questions of those articles only (the
    tuning and the held-out half of SQuAD 2.0 dev); all paragraphs are indexed regardless.
    """
    squad = json.loads(path.read_text(encoding="utf-8"))
    corpus = squad_corpus(squad)
    parity = {"even": 0, "odd": 1}.get(articles)
    asked = [
        q for q in squad_questions(squad) if parity is None or int(q.paragraph_id.split("-")[0]) % 2 == parity
    ]
    questions = sample(asked, limit)
    if oracle and settings.index_backend is not IndexBackendName.LOCAL:
        raise InvalidInput(
            "--oracle-context reads the local index's files; run it with ATTEST_INDEX_BACKEND=local."
        )
    embedder = SentenceTransformerEmbedder(settings.embedding_model, batch_size=settings.embedding_batch_size)
    with tempfile.TemporaryDirectory(prefix="attest-qa-") as tmp:
        retriever, id_of = index_corpus(corpus, Path(tmp), settings, embedder)
        settings = settings.model_copy(update={"data_dir": Path(tmp) / "data", "database_url": None})
        answerer = Answerer(db.make_engine(settings.sqlalchemy_url), settings, embedder=embedder)
        gold_rows = _rows_by_corpus_id(retriever, id_of) if oracle else {}
        outcomes = []
        for n, question in enumerate(questions, 1):
            outcomes.append(_ask(answerer, question, retriever, gold_rows))
            if n % 25 == 0 or n == len(questions):
                print(f"{n}/{len(questions)} questions", file=sys.stderr)
    result = report(outcomes)
    result["backend"] = answerer.generator.name
    result["oracle_context"] = oracle
    result["articles"] = articles
    return result


def _ask(
    answerer: Answerer, question: SquadQuestion, retriever: Searcher, gold_rows: dict[str, list[int]]
) -> Outcome:
    if gold_rows:
        assert isinstance(retriever, HybridRetriever)  # --oracle-context is refused on other backends
        hits = [
            RetrievedChunk(retriever.snapshot.chunks[row], 1.0, row, retriever.dense.embeddings[row])
            for row in gold_rows[question.paragraph_id]
        ]
        answer = answerer.answer_from(question.question, hits)
    else:
        answer = answerer.ask("eval", question.question)
    cited = {c.number for c in answer.citations}
    texts = tuple(s.text for s in answer.sources if s.passage is not None and s.passage.number in cited)
    return Outcome(question, answer.text, answer.answered, texts, answer.timings_ms)


def _rows_by_corpus_id(retriever: Searcher, id_of: dict[str, str]) -> dict[str, list[int]]:
    assert isinstance(retriever, HybridRetriever)  # --oracle-context is refused on other backends
    rows: dict[str, list[int]] = {}
    for row, chunk in enumerate(retriever.snapshot.chunks):
        rows.setdefault(id_of[Path(chunk.source_uri).stem], []).append(row)
    return rows


@dataclass(frozen=True)
class Outcome:
    """One question's answer, reduced to what the report needs."""

    question: SquadQuestion
    text: str
    answered: bool
    cited_texts: tuple[str, ...]
    timings_ms: dict[str, float]


def report(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    """The stable ``attest eval qa --json`` object."""
    outcomes = list(outcomes)
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    cited = [(o, t) for o in answerable for t in o.cited_texts]
    return {
        "answerable": {
            "n": len(answerable),
            "exact_match": _mean(
                exact_match(o.text, o.question.answers) if o.answered else 0.0 for o in answerable
            ),
            "f1": _mean(f1(o.text, o.question.answers) if o.answered else 0.0 for o in answerable),
            "contains_gold": _mean(
                o.answered and contains_gold(o.text, o.question.answers) for o in answerable
            ),
            "answered": _mean(o.answered for o in answerable),
        },
        "unanswerable": {"n": len(unanswerable), "declined": _mean(not o.answered for o in unanswerable)},
        "citation_precision": _mean(contains_gold(text, o.question.answers) for o, text in cited),
        "latency_ms": _latency(outcomes),
    }


def _latency(outcomes: list[Outcome]) -> dict[str, dict[str, float]]:
    """Percentiles per stage, of the total and of the time to the first word, in milliseconds."""
    if not outcomes:
        return {}
    stages = sorted({stage for o in outcomes for stage in o.timings_ms})
    latency = {
        stage: latency_percentiles([o.timings_ms[stage] for o in outcomes if stage in o.timings_ms])
        for stage in stages
    }
    latency["total"] = latency_percentiles([sum(o.timings_ms.values()) for o in outcomes])
    latency["first_word"] = latency_percentiles([time_to_first_word(o.timings_ms) for o in outcomes])
    return latency


def _mean(values: Iterable[float | bool]) -> float:
    values = [float(v) for v in values]
    return round(sum(values) / len(values), 4) if values else 0.0
