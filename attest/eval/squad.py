"""Run ``attest eval qa``: index a SQuAD 2.0 file's paragraphs, ask its questions, score them."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from attest.answers import Answerer
from attest.core import db
from attest.core.settings import Settings
from attest.eval.beir import index_corpus
from attest.generation.evaluation import Outcome, SquadQuestion, report, sample, squad_questions
from attest.retrieval.evaluation import CorpusDoc, squad_to_beir
from attest.retrieval.hybrid import HybridRetriever, RetrievedChunk


def evaluate_squad(
    path: Path, settings: Settings, *, limit: int | None, oracle: bool, articles: str = "all"
) -> dict[str, Any]:
    """Metrics of the configured backend on a fixed sample of ``path``'s questions.

    ``articles`` ``"even"`` or ``"odd"`` keeps the questions of those articles only (the
    tuning and the held-out half of SQuAD 2.0 dev); all paragraphs are indexed regardless.
    """
    squad = json.loads(path.read_text(encoding="utf-8"))
    corpus_rows, _queries, _qrels = squad_to_beir(squad)
    corpus = [CorpusDoc(r["_id"], r.get("title", ""), r["text"]) for r in corpus_rows]
    parity = {"even": 0, "odd": 1}.get(articles)
    asked = [
        q for q in squad_questions(squad) if parity is None or int(q.paragraph_id.split("-")[0]) % 2 == parity
    ]
    questions = sample(asked, limit)
    with tempfile.TemporaryDirectory(prefix="attest-qa-") as tmp:
        retriever, id_of = index_corpus(corpus, Path(tmp), settings)
        settings = settings.model_copy(update={"data_dir": Path(tmp) / "data", "database_url": None})
        answerer = Answerer(db.make_engine(settings.sqlalchemy_url), settings, embedder=retriever.embedder)
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
    answerer: Answerer, question: SquadQuestion, retriever: HybridRetriever, gold_rows: dict[str, list[int]]
) -> Outcome:
    if gold_rows:
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


def _rows_by_corpus_id(retriever: HybridRetriever, id_of: dict[str, str]) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for row, chunk in enumerate(retriever.snapshot.chunks):
        rows.setdefault(id_of[Path(chunk.source_uri).stem], []).append(row)
    return rows
