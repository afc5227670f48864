"""Tests for attest.retrieval.evaluation: metrics against hand-computed values, BEIR readers,
latency percentiles, the retrieval Mode and the SQuAD -> BEIR conversion (function and script)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from attest.core.errors import RetrievalError
from attest.retrieval.evaluation import (
    CorpusDoc,
    Mode,
    evaluate_run,
    latency_percentiles,
    mrr_at_k,
    ndcg_at_k,
    read_corpus,
    read_qrels,
    read_queries,
    recall_at_k,
    squad_to_beir,
)

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "squad_to_beir.py"
LOG2_3 = 1.584962500721156  # log2(3); 1/log2(3) = 0.6309297535714574


# --- nDCG ----------------------------------------------------------------------------------------


def test_ndcg_graded_example() -> None:
    # ranking [d3, d1, d2], qrels {d1: 1, d2: 2}
    # DCG@10  = 0/log2(2) + 1/log2(3) + 2/log2(4) = 0 + 0.6309 + 1.0 = 1.6309
    # IDCG@10 = 2/log2(2) + 1/log2(3) = 2.0 + 0.6309 = 2.6309
    # nDCG@10 = 1.6309 / 2.6309 = 0.6199
    value = ndcg_at_k(["d3", "d1", "d2"], {"d1": 1, "d2": 2}, 10)
    assert value == pytest.approx((1 / LOG2_3 + 1.0) / (2.0 + 1 / LOG2_3))
    assert value == pytest.approx(0.6199, abs=1e-4)


def test_ndcg_ideal_ranking_is_one() -> None:
    # [d2, d1]: DCG = 2/1 + 1/log2(3) = IDCG -> 1.0
    assert ndcg_at_k(["d2", "d1", "d9"], {"d1": 1, "d2": 2}, 10) == pytest.approx(1.0)


def test_ndcg_cut_at_k() -> None:
    # k = 2: ranking [d3, d1 | d2]: DCG@2 = 0/1 + 1/log2(3) = 0.6309
    # IDCG@2 = 2/1 + 1/log2(3) = 2.6309 -> nDCG@2 = 0.6309 / 2.6309 = 0.2398
    value = ndcg_at_k(["d3", "d1", "d2"], {"d1": 1, "d2": 2}, 2)
    assert value == pytest.approx(0.2398, abs=1e-4)


def test_ndcg_ideal_is_also_cut_at_k() -> None:
    # three relevant docs, k = 1: DCG@1 = 1/1 = 1; IDCG@1 = 1/1 = 1 (not 1 + 0.6309 + 0.5) -> 1.0
    assert ndcg_at_k(["a"], {"a": 1, "b": 1, "c": 1}, 1) == pytest.approx(1.0)


def test_ndcg_zero_and_negative_scores_give_no_gain() -> None:
    # qrels {d1: 0, d2: -1, d3: 1}, ranking [d1, d2, d3]
    # DCG = 0/1 + 0/log2(3) + 1/log2(4) = 0.5; IDCG = 1/1 = 1 -> nDCG = 0.5
    assert ndcg_at_k(["d1", "d2", "d3"], {"d1": 0, "d2": -1, "d3": 1}, 10) == pytest.approx(0.5)


def test_ndcg_repeated_id_counts_once() -> None:
    # [d1, d1, d2] with k = 2 is [d1, d2]: DCG = 0/1 + 1/log2(3) = 0.6309; IDCG = 1 -> 0.6309
    assert ndcg_at_k(["d1", "d1", "d2"], {"d2": 1}, 2) == pytest.approx(1 / LOG2_3)


def test_ndcg_without_relevant_docs_is_zero() -> None:
    assert ndcg_at_k(["a", "b"], {"a": 0}, 10) == 0.0
    assert ndcg_at_k([], {"a": 1}, 10) == 0.0


def test_k_below_one_is_refused() -> None:
    with pytest.raises(RetrievalError, match="at least 1"):
        ndcg_at_k(["a"], {"a": 1}, 0)


# --- recall and MRR -----------------------------------------------------------------------------

QREL = {"d1": 1, "d2": 1, "d3": 1, "d4": 0}  # three relevant; d4 judged non-relevant


def test_recall_at_k() -> None:
    ranking = ["d9", "d1", "d4", "d2", "d3"]
    assert recall_at_k(ranking, QREL, 2) == pytest.approx(1 / 3)  # top 2 holds d1: 1/3
    assert recall_at_k(ranking, QREL, 4) == pytest.approx(2 / 3)  # d1, d2 (d4 scores 0): 2/3
    assert recall_at_k(ranking, QREL, 5) == pytest.approx(1.0)  # d1, d2, d3: 3/3


def test_recall_no_relevant_retrieved_or_beyond_k() -> None:
    assert recall_at_k(["x", "y", "d4"], QREL, 10) == 0.0  # nothing relevant retrieved: 0/3
    assert recall_at_k(["x", "y", "d1"], QREL, 2) == 0.0  # d1 at rank 3 > k = 2: 0/3
    assert recall_at_k(["d1"], {"d1": 0}, 10) == 0.0  # no relevant doc at all


def test_mrr_at_k() -> None:
    assert mrr_at_k(["x", "d1", "d2"], QREL, 10) == pytest.approx(0.5)  # first relevant at rank 2
    assert mrr_at_k(["d4", "d3"], QREL, 10) == pytest.approx(0.5)  # d4 scores 0: first relevant is rank 2
    ten_misses = [f"x{i}" for i in range(9)]
    assert mrr_at_k([*ten_misses, "d1"], QREL, 10) == pytest.approx(0.1)  # rank 10 = k: 1/10
    assert mrr_at_k([*ten_misses, "x9", "d1"], QREL, 10) == 0.0  # rank 11 > k: 0
    assert mrr_at_k(["x", "y"], QREL, 10) == 0.0  # nothing relevant retrieved


# --- evaluate_run --------------------------------------------------------------------------------


def test_evaluate_run_means_over_judged_queries() -> None:
    misses = [f"x{i}" for i in range(8)]
    qrels = {
        "q1": {"a": 1},
        "q2": {"b": 1, "c": 1},
        "q3": {"d": 0},  # no relevant doc: left out of the mean
        "q5": {"e": 1},  # missing from the run: scores 0
    }
    run = {
        "q1": ["a"],  # nDCG 1, R@10 1, R@100 1, RR 1
        # c at rank 2, b at rank 11: DCG@10 = 1/log2(3) = 0.6309, IDCG = 1 + 0.6309 = 1.6309
        # -> nDCG@10 = 0.3869; R@10 = 1/2; R@100 = 2/2; RR@10 = 1/2
        "q2": ["x", "c", *misses, "b"],
        "q3": ["d"],
        "q4": ["a"],  # not in qrels: left out
    }
    result = evaluate_run(run, qrels)
    assert set(result) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
    # means over q1, q2, q5
    assert result["ndcg@10"] == pytest.approx((1 + (1 / LOG2_3) / (1 + 1 / LOG2_3) + 0) / 3)
    assert result["ndcg@10"] == pytest.approx(0.4623, abs=1e-4)  # (1 + 0.3869 + 0) / 3
    assert result["recall@10"] == pytest.approx(0.5)  # (1 + 0.5 + 0) / 3
    assert result["recall@100"] == pytest.approx(2 / 3)  # (1 + 1 + 0) / 3
    assert result["mrr@10"] == pytest.approx(0.5)  # (1 + 0.5 + 0) / 3


def test_evaluate_run_other_cut_offs() -> None:
    # ranking [x, a]: nDCG@5 = (1/log2(3)) / 1 = 0.6309; R@5 = 1; RR@5 = 1/2; R@1 = 0
    result = evaluate_run({"q": ["x", "a"]}, {"q": {"a": 1}}, ks=(5, 1))
    assert result == pytest.approx({"ndcg@5": 1 / LOG2_3, "recall@5": 1.0, "recall@1": 0.0, "mrr@5": 0.5})


def test_evaluate_run_without_judged_queries_is_refused() -> None:
    with pytest.raises(RetrievalError, match="relevant"):
        evaluate_run({"q": ["a"]}, {"q": {"a": 0}})
    with pytest.raises(RetrievalError, match="cut-off"):
        evaluate_run({"q": ["a"]}, {"q": {"a": 1}}, ks=())


# --- latency -------------------------------------------------------------------------------------


def test_latency_percentiles_linear_interpolation() -> None:
    # sorted samples 1..10 (n = 10); position = (n - 1) * p / 100, interpolated between neighbours
    # p50: 9 * 0.50 = 4.50 -> 5 + 0.50 * (6 - 5)  = 5.50
    # p95: 9 * 0.95 = 8.55 -> 9 + 0.55 * (10 - 9) = 9.55
    # p99: 9 * 0.99 = 8.91 -> 9 + 0.91 * (10 - 9) = 9.91
    samples = [7.0, 1.0, 10.0, 3.0, 5.0, 2.0, 9.0, 4.0, 8.0, 6.0]
    assert latency_percentiles(samples) == pytest.approx({"p50": 5.5, "p95": 9.55, "p99": 9.91})


def test_latency_percentiles_single_and_empty() -> None:
    assert latency_percentiles([4.0]) == {"p50": 4.0, "p95": 4.0, "p99": 4.0}
    with pytest.raises(RetrievalError, match="at least one sample"):
        latency_percentiles([])


# --- Mode ----------------------------------------------------------------------------------------


def test_mode_from_str_and_expand() -> None:
    assert Mode.from_str(" BM25 ") is Mode.BM25
    assert Mode.from_str("all").expand() == (Mode.BM25, Mode.DENSE, Mode.HYBRID)
    assert Mode.HYBRID.expand() == (Mode.HYBRID,)
    with pytest.raises(RetrievalError, match="valid modes: bm25, dense, hybrid, all"):
        Mode.from_str("sparse")


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
