"""Readers of the evaluation data sets: BEIR retrieval sets, SQuAD 2.0, factuality JSONL.

BEIR layout (Thakur et al. 2021): ``corpus.jsonl`` (``{"_id", "title", "text"}``), ``queries.jsonl``
(``{"_id", "text"}``) and a qrels TSV with the header ``query-id\\tcorpus-id\\tscore``. Scores are kept
as given; relevance (score > 0) is decided by the metrics. Bad BEIR input raises
:class:`RetrievalError` naming the file, the line and the problem.

SQuAD 2.0 is the official JSON; its paragraphs become a BEIR corpus (``squad_to_beir``).

The factuality format (``../shared/data/README.md``) is one JSON object per line with
``context``, optional ``question``, ``response`` and ``supported``; a bad line is a
``ValueError`` naming it.

The public copies live in ``../shared/data`` beside a checkout (see its README); the paths
below are the defaults of the scripts in ``bench/``, which skip when they are missing.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attest.core.errors import RetrievalError

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SQUAD_DEV = SHARED_DATA / "squad-v2-dev" / "dev-v2.0.json"
HALUEVAL_QA = SHARED_DATA / "halueval-qa" / "qa-one-turn.factuality.jsonl"
HANDBOOK_PAGES = SHARED_DATA / "handbook-18f" / "pages"

QRELS_HEADER = ("query-id", "corpus-id", "score")

Qrels = dict[str, dict[str, int]]


# --- BEIR ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusDoc:
    """One BEIR corpus document."""

    id: str
    title: str
    text: str


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for the non-blank lines of a UTF-8 file, numbered from 1."""
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    yield number, line.rstrip("\r\n")
    except FileNotFoundError:
        raise RetrievalError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise RetrievalError(f"{path.name}: not UTF-8 text ({exc.reason})") from None


def _json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each JSON-object line of a JSONL file."""
    for number, line in _lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RetrievalError(f"{path.name} line {number}: invalid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise RetrievalError(f"{path.name} line {number}: expected a JSON object")
        yield number, obj


def _field(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    """The string field ``key`` of ``obj`` (an int ``_id`` is accepted as its decimal string)."""
    if key not in obj:
        if required:
            raise RetrievalError(f"{where}: missing {key!r}")
        return ""
    value = obj[key]
    if key == "_id" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RetrievalError(f"{where}: {key!r} must be a string")
    if key == "_id" and not value:
        raise RetrievalError(f"{where}: '_id' is empty")
    return value


def read_corpus(path: str | Path) -> list[CorpusDoc]:
    """Read a BEIR ``corpus.jsonl``: one ``{"_id", "title"?, "text"}`` object per line, in file order."""
    path = Path(path)
    docs: list[CorpusDoc] = []
    seen: set[str] = set()
    for number, obj in _json_objects(path):
        where = f"{path.name} line {number}"
        doc_id = _field(obj, "_id", where)
        if doc_id in seen:
            raise RetrievalError(f"{where}: duplicate '_id' {doc_id!r}")
        seen.add(doc_id)
        title = _field(obj, "title", where, required=False)
        docs.append(CorpusDoc(doc_id, title, _field(obj, "text", where)))
    return docs


def read_queries(path: str | Path) -> dict[str, str]:
    """Read a BEIR ``queries.jsonl`` into ``{query_id: text}`` (file order)."""
    path = Path(path)
    queries: dict[str, str] = {}
    for number, obj in _json_objects(path):
        where = f"{path.name} line {number}"
        query_id = _field(obj, "_id", where)
        if query_id in queries:
            raise RetrievalError(f"{where}: duplicate '_id' {query_id!r}")
        queries[query_id] = _field(obj, "text", where)
    return queries


def read_qrels(path: str | Path) -> Qrels:
    """Read a BEIR qrels TSV (header ``query-id\\tcorpus-id\\tscore``) into ``{qid: {doc_id: score}}``.

    Scores are kept as given, zero and negative included; relevance (score > 0) is decided by the metrics.
    """
    path = Path(path)
    qrels: Qrels = {}
    for number, line in _lines(path):
        where = f"{path.name} line {number}"
        fields = line.split("\t")
        if number == 1 and tuple(f.strip() for f in fields) == QRELS_HEADER:
            continue
        if number == 1:
            raise RetrievalError(f"{where}: expected the header 'query-id<TAB>corpus-id<TAB>score'")
        if len(fields) != 3 or not fields[0].strip() or not fields[1].strip():
            raise RetrievalError(f"{where}: expected 3 tab-separated fields, got {len(fields)}")
        query_id, doc_id, raw = (f.strip() for f in fields)
        try:
            score = int(raw)
        except ValueError:
            raise RetrievalError(f"{where}: score {raw!r} is not an integer") from None
        judged = qrels.setdefault(query_id, {})
        if doc_id in judged:
            raise RetrievalError(f"{where}: duplicate judgement for ({query_id!r}, {doc_id!r})")
        judged[doc_id] = score
    return qrels


# --- SQuAD ---------------------------------------------------------------------------------------


def _answerable(qa: Mapping[str, Any]) -> bool:
    """A SQuAD v2 question is answerable when not ``is_impossible`` and it has at least one answer."""
    return not qa.get("is_impossible", False) and bool(qa.get("answers"))


def squad_to_beir(
    squad_json: Mapping[str, Any],
) -> tuple[list[dict[str, str]], list[dict[str, str]], list[tuple[str, str, int]]]:
    """Convert SQuAD (v1.1/v2.0 JSON) to BEIR rows: ``(corpus, queries, qrels)``.

    One document per paragraph, ``_id`` = ``"{article_index}-{paragraph_index}"``, title = article title,
    text = context. Queries are the answerable questions (``_id`` = SQuAD id); each has one qrel, score 1,
    for its own paragraph.
    """
    articles = squad_json.get("data")
    if not isinstance(articles, list):
        raise RetrievalError("SQuAD JSON: missing the 'data' list of articles")
    corpus: list[dict[str, str]] = []
    queries: list[dict[str, str]] = []
    qrels: list[tuple[str, str, int]] = []
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(article.get("paragraphs", [])):
            doc_id = f"{a}-{p}"
            corpus.append({"_id": doc_id, "title": article.get("title", ""), "text": paragraph["context"]})
            for qa in paragraph.get("qas", []):
                if _answerable(qa):
                    queries.append({"_id": qa["id"], "text": qa["question"]})
                    qrels.append((qa["id"], doc_id, 1))
    return corpus, queries, qrels


def squad_corpus(squad_json: Mapping[str, Any]) -> list[CorpusDoc]:
    """Every paragraph of a SQuAD file as a corpus document (ids as in ``squad_to_beir``)."""
    return [CorpusDoc(row["_id"], row.get("title", ""), row["text"]) for row in squad_to_beir(squad_json)[0]]


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: tuple[str, ...]  # empty for unanswerable questions
    paragraph_id: str  # the corpus id of its paragraph (see ``squad_to_beir``)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def squad_questions(squad: Mapping[str, Any]) -> list[SquadQuestion]:
    """Every question of a SQuAD 2.0 file, with its paragraph's corpus id."""
    questions = []
    for a, article in enumerate(squad["data"]):
        for p, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                golds = tuple(dict.fromkeys(ans["text"] for ans in qa.get("answers", [])))
                questions.append(SquadQuestion(qa["id"], qa["question"], golds, f"{a}-{p}"))
    return questions


def sample(questions: Sequence[SquadQuestion], limit: int | None, seed: int = 13) -> list[SquadQuestion]:
    """A fixed random sample (the same for every backend and run)."""
    chosen = list(questions)
    random.Random(seed).shuffle(chosen)
    return chosen if limit is None else chosen[:limit]


# --- factuality ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One line of a factuality file."""

    id: str
    context: str
    question: str | None
    response: str
    supported: bool


HALVES = ("all", "even", "odd")  # the calibration fits on 'even' and reports on 'odd'


def half(item: Item) -> str:
    """The half ``item`` belongs to: by the question number in its id ("qa-12-hallucinated"
    is even), so that every response to one question falls in the same half; for ids
    without a number, by a stable hash of the question (or the context)."""
    number = re.search(r"-(\d+)-", item.id)
    key = int(number.group(1)) if number else zlib.crc32((item.question or item.context).encode())
    return "even" if key % 2 == 0 else "odd"


def read_items(path: Path) -> list[Item]:
    """The items of ``path``; a line that is not a valid item is a ``ValueError`` naming it."""
    items = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("expected a JSON object")
                for key, kind in (("context", str), ("response", str), ("supported", bool)):
                    if not isinstance(row.get(key), kind):
                        raise ValueError(f"{key!r} must be a {kind.__name__}")
                question = row.get("question")
                if question is not None and not isinstance(question, str):
                    raise ValueError("'question' must be a string")
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from None
            items.append(
                Item(str(row.get("id", number)), row["context"], question, row["response"], row["supported"])
            )
    if not items:
        raise ValueError("no items")
    if len({item.supported for item in items}) < 2:
        raise ValueError("the file needs both supported and unsupported responses to measure detection")
    return items
