"""Metrics against hand-computed values: ranking (nDCG, recall, MRR), SQuAD answers (EM, F1,
contains gold), detection of unsupported responses, and latency percentiles."""

from __future__ import annotations

import pytest

from attest.core.errors import RetrievalError
from attest.eval.metrics import (
    contains_gold,
    detection_scores,
    evaluate_run,
    exact_match,
    f1,
    latency_percentiles,
    mrr_at_k,
    ndcg_at_k,
    normalize_answer,
    recall_at_k,
    time_to_first_word,
)

pytestmark = pytest.mark.unit

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


# --- SQuAD answers -------------------------------------------------------------------------------


def test_official_normalisation() -> None:
    assert normalize_answer("The  Cat, sat!") == "cat sat"
    assert normalize_answer("an apple a day") == "apple day"
    assert normalize_answer("Theory of the Case") == "theory of case"  # 'the' only as a word
    assert normalize_answer("In 1066 [2], then [1, 3].") == "in 1066 then"  # citations are not answer text


def test_exact_match_and_f1_by_hand() -> None:
    assert exact_match("the Normans", ["Normans", "Norsemen"]) == 1.0
    assert exact_match("Normans came", ["Normans"]) == 0.0
    # "cat sat" against "cat sat on mat": 2 common tokens, P = 1, R = 0.5, F1 = 2/3
    assert f1("the cat sat", ["a cat sat on the mat"]) == pytest.approx(2 / 3)
    # best over golds: against "sat" P = 1/2, R = 1, F1 = 2/3; against "dog" 0
    assert f1("cat sat", ["dog", "sat"]) == pytest.approx(2 / 3)
    assert f1("nothing shared", ["gold"]) == 0.0


def test_contains_gold_matches_whole_words_only() -> None:
    assert contains_gold("They arrived in the 10th century [1].", ["10th century"])
    assert not contains_gold("In 1910 they left.", ["10"])
    assert not contains_gold("anything", [""])


# --- detection -----------------------------------------------------------------------------------


def test_detection_scores_by_hand() -> None:
    # positives p1, p2 (risk 0.9, 0.4); negatives n1, n2 (risk 0.6, 0.1)
    # ROC AUC: pairs (pos > neg) = (0.9>0.6, 0.9>0.1, 0.4>0.1) = 3 of 4 -> 0.75
    # PR AUC (average precision): ranking p1, n1, p2, n2: precision at p1 = 1, at p2 = 2/3
    #   -> (1 + 2/3) / 2 = 0.8333
    # decisions: flag p1 and n1: TP 1, FN 1, FP 1, TN 1 -> balanced accuracy (1/2 + 1/2) / 2 = 0.5,
    #   F1 = 2 * 1 / (2 * 1 + 1 + 1) = 0.5
    result = detection_scores([True, False, True, False], [0.9, 0.6, 0.4, 0.1], [True, True, False, False])
    assert result == {"roc_auc": 0.75, "pr_auc": 0.8333, "balanced_accuracy": 0.5, "f1": 0.5}
    perfect = detection_scores([True, False], [1.0, 0.0], [True, False])
    assert perfect == {"roc_auc": 1.0, "pr_auc": 1.0, "balanced_accuracy": 1.0, "f1": 1.0}


# --- time to the first word ----------------------------------------------------------------------


def test_time_to_first_word_counts_the_stages_up_to_the_models_first_piece() -> None:
    stages = {"retrieve": 10.0, "read": 40.0, "first_token": 900.0, "generate": 600.0, "verify": 90.0}
    assert time_to_first_word(stages) == 950.0
    declined = {"retrieve": 10.0, "read": 40.0}  # a decline comes all at once
    assert time_to_first_word(declined) == 50.0
