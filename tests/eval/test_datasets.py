"""Data set readers: BEIR files, SQuAD -> BEIR (function and script), SQuAD questions and the
fixed sample, factuality JSONL, and where the shared data lives."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from attest.core.errors import RetrievalError
from attest.eval.datasets import (
    HALUEVAL_QA,
    HANDBOOK_PAGES,
    SHARED_DATA,
    SQUAD_DEV,
    CorpusDoc,
    read_corpus,
    read_items,
    read_qrels,
    read_queries,
    sample,
    squad_corpus,
    squad_questions,
    squad_to_beir,
)
from attest.eval.metrics import evaluate_run

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "squad_to_beir.py"


# --- readers -------------------------------------------------------------------------------------


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_read_corpus_queries_qrels(tmp_path: Path) -> None:
    corpus = _write(
        tmp_path / "corpus.jsonl",
        ['{"_id": "d1", "title": "T", "text": "one"}', "", '{"_id": 2, "text": "two"}'],
    )
    assert read_corpus(corpus) == [CorpusDoc("d1", "T", "one"), CorpusDoc("2", "", "two")]
    queries = _write(tmp_path / "queries.jsonl", ['{"_id": "q1", "text": "what?", "extra": 1}'])
    assert read_queries(queries) == {"q1": "what?"}
    qrels = _write(
        tmp_path / "test.tsv", ["query-id\tcorpus-id\tscore", "q1\td1\t1", "q1\td2\t0", "q2\td1\t2"]
    )
    assert read_qrels(qrels) == {"q1": {"d1": 1, "d2": 0}, "q2": {"d1": 2}}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"_id": "q1", "text": "a"}', "{not json"], "queries.jsonl line 2: invalid JSON"),
        (['{"_id": "q1", "text": "a"}', "", '{"text": "b"}'], "queries.jsonl line 3: missing '_id'"),
        (['{"_id": "q1"}'], "queries.jsonl line 1: missing 'text'"),
        (['["q1", "a"]'], "queries.jsonl line 1: expected a JSON object"),
        (['{"_id": "", "text": "a"}'], "queries.jsonl line 1: '_id' is empty"),
        (['{"_id": "q1", "text": 5}'], "queries.jsonl line 1: 'text' must be a string"),
        (
            ['{"_id": "q1", "text": "a"}', '{"_id": "q1", "text": "b"}'],
            "queries.jsonl line 2: duplicate '_id'",
        ),
    ],
)
def test_read_queries_rejects_malformed_lines(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(RetrievalError, match=message):
        read_queries(_write(tmp_path / "queries.jsonl", lines))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"_id": "d1", "text": "a"}', '{"_id": "d2", "title": 3, "text": "b"}'], "line 2: 'title' must be"),
        (['{"_id": "d1", "text": "a"}', '{"_id": "d1", "text": "b"}'], "line 2: duplicate '_id' 'd1'"),
        (['{"_id": "d1", "title": "t"}'], "line 1: missing 'text'"),
    ],
)
def test_read_corpus_rejects_malformed_lines(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(RetrievalError, match=f"corpus.jsonl {message}"):
        read_corpus(_write(tmp_path / "corpus.jsonl", lines))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["q1\td1\t1"], "line 1: expected the header"),
        (["query-id\tcorpus-id\tscore", "q1\td1\t1", "q1 d2 1"], "line 3: expected 3 tab-separated fields"),
        (["query-id\tcorpus-id\tscore", "q1\td1\thigh"], "line 2: score 'high' is not an integer"),
        (["query-id\tcorpus-id\tscore", "q1\td1\t1", "q1\td1\t2"], "line 3: duplicate judgement"),
    ],
)
def test_read_qrels_rejects_malformed_lines(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(RetrievalError, match=f"test.tsv {message}"):
        read_qrels(_write(tmp_path / "test.tsv", lines))


def test_readers_report_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RetrievalError, match="absent.jsonl: file not found"):
        read_corpus(tmp_path / "absent.jsonl")


# --- SQuAD -> BEIR -------------------------------------------------------------------------------


def _qa(qid: str, answers: list[str], impossible: bool | None = False) -> dict[str, Any]:
    qa: dict[str, Any] = {"id": qid, "question": f"question {qid}?"}
    qa["answers"] = [{"text": a, "answer_start": 0} for a in answers]
    if impossible is not None:
        qa["is_impossible"] = impossible
    return qa


SQUAD: dict[str, Any] = {
    "version": "v2.0",
    "data": [
        {
            "title": "Alpha",
            "paragraphs": [
                {"context": "Alpha one.", "qas": [_qa("q1", ["one"]), _qa("q2", [], impossible=True)]},
                # q3 is v1.1 style (no is_impossible); q4 claims to be answerable but has no answer
                {"context": "Alpha two.", "qas": [_qa("q3", ["two"], impossible=None), _qa("q4", [])]},
            ],
        },
        {
            "title": "Beta",
            "paragraphs": [{"context": "Beta one.", "qas": [_qa("q5", ["b"]), _qa("q6", ["b"], True)]}],
        },
    ],
}


def test_squad_to_beir() -> None:
    corpus, queries, qrels = squad_to_beir(SQUAD)
    assert corpus == [
        {"_id": "0-0", "title": "Alpha", "text": "Alpha one."},
        {"_id": "0-1", "title": "Alpha", "text": "Alpha two."},
        {"_id": "1-0", "title": "Beta", "text": "Beta one."},
    ]
    assert queries == [
        {"_id": "q1", "text": "question q1?"},
        {"_id": "q3", "text": "question q3?"},
        {"_id": "q5", "text": "question q5?"},
    ]
    assert qrels == [("q1", "0-0", 1), ("q3", "0-1", 1), ("q5", "1-0", 1)]


def test_squad_to_beir_rejects_non_squad() -> None:
    with pytest.raises(RetrievalError, match="'data'"):
        squad_to_beir({"version": "v2.0"})


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("squad_to_beir_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_writes_a_readable_beir_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps(SQUAD), encoding="utf-8")
    out = tmp_path / "beir"
    assert _script().main(["--squad", str(squad), "--out", str(out)]) == 0
    assert "documents=3 queries=3 qrels=3" in capsys.readouterr().err
    assert (out / "qrels.tsv").read_text() == (out / "qrels" / "test.tsv").read_text()
    assert [d.id for d in read_corpus(out / "corpus.jsonl")] == ["0-0", "0-1", "1-0"]
    qrels = read_qrels(out / "qrels.tsv")
    assert list(read_queries(out / "queries.jsonl")) == list(qrels) == ["q1", "q3", "q5"]
    perfect = {qid: list(judged) for qid, judged in qrels.items()}
    assert evaluate_run(perfect, qrels) == pytest.approx(
        dict.fromkeys(("ndcg@10", "recall@10", "recall@100", "mrr@10"), 1.0)
    )


def test_script_limit_articles_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps(SQUAD), encoding="utf-8")
    script = _script()
    assert script.main(["--squad", str(squad), "--out", str(tmp_path / "one"), "--limit-articles", "1"]) == 0
    assert [d.id for d in read_corpus(tmp_path / "one" / "corpus.jsonl")] == ["0-0", "0-1"]
    capsys.readouterr()
    assert script.main(["--squad", str(tmp_path / "absent.json"), "--out", str(tmp_path / "x")]) == 0
    assert capsys.readouterr().err.startswith("skipped: ")
    assert not (tmp_path / "x").exists()


def test_squad_corpus_is_the_beir_corpus_as_documents() -> None:
    assert squad_corpus(SQUAD) == [
        CorpusDoc("0-0", "Alpha", "Alpha one."),
        CorpusDoc("0-1", "Alpha", "Alpha two."),
        CorpusDoc("1-0", "Beta", "Beta one."),
    ]


# --- SQuAD questions -----------------------------------------------------------------------------

SMALL_SQUAD = {
    "data": [
        {
            "title": "T",
            "paragraphs": [
                {
                    "context": "c0",
                    "qas": [
                        {"id": "a", "question": "qa?", "answers": [{"text": "x"}, {"text": "x"}]},
                        {"id": "b", "question": "qb?", "answers": [], "is_impossible": True},
                    ],
                },
                {"context": "c1", "qas": [{"id": "c", "question": "qc?", "answers": [{"text": "y z"}]}]},
            ],
        }
    ]
}


def test_questions_and_fixed_sample() -> None:
    questions = squad_questions(SMALL_SQUAD)
    assert [(q.id, q.answers, q.paragraph_id, q.answerable) for q in questions] == [
        ("a", ("x",), "0-0", True),
        ("b", (), "0-0", False),
        ("c", ("y z",), "0-1", True),
    ]
    assert sample(questions, 2) == sample(questions, 2) and len(sample(questions, 2)) == 2
    assert sorted(q.id for q in sample(questions, None)) == ["a", "b", "c"]


# --- factuality ----------------------------------------------------------------------------------

FACTS = [
    {"id": "1", "context": "c", "question": "q?", "response": "yes", "supported": True},
    {"id": "2", "context": "c", "response": "no", "supported": False},
]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1"),
        ("[1, 2]", "expected a JSON object"),
        ('{"context": "c", "response": "r"}', "'supported' must be a bool"),
        ('{"context": 3, "response": "r", "supported": true}', "'context' must be a str"),
    ],
)
def test_bad_factuality_lines_are_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match=message):
        read_items(path)


def test_one_sided_factuality_data_cannot_measure_detection(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(FACTS[0]) + "\n")
    with pytest.raises(ValueError, match="both supported and unsupported"):
        read_items(path)
    path.write_text("".join(json.dumps(row) + "\n" for row in FACTS))
    items = read_items(path)
    assert [(i.id, i.question, i.supported) for i in items] == [("1", "q?", True), ("2", None, False)]


# --- shared data ---------------------------------------------------------------------------------


def test_the_shared_data_is_beside_the_checkout() -> None:
    assert ROOT.parent / "shared" / "data" == SHARED_DATA
    assert [p.relative_to(SHARED_DATA).as_posix() for p in (SQUAD_DEV, HALUEVAL_QA, HANDBOOK_PAGES)] == [
        "squad-v2-dev/dev-v2.0.json",
        "halueval-qa/qa-one-turn.factuality.jsonl",
        "handbook-18f/pages",
    ]
