"""Rank fusion on hand-made rankings, with the expected scores computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from attest.core.errors import InvalidInput
from attest.retrieval.fusion import FusionMode, Ranking, reciprocal_rank_fusion, weighted_fusion

pytestmark = pytest.mark.unit


def ranking(ids: list[int], scores: list[float] | None = None) -> Ranking:
    """``(ids, scores)`` best first; RRF ignores the scores, so they default to junk."""
    if scores is None:
        scores = [-7.0] * len(ids)  # deliberately meaningless: RRF must only look at ranks
    return np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64)


def as_dict(fused: Ranking) -> dict[int, float]:
    ids, scores = fused
    return dict(zip(ids.tolist(), scores.tolist(), strict=True))


# Two rankings used by several RRF tests:
#   A = [1, 2, 3]   (doc 1 at rank 1, doc 2 at rank 2, doc 3 at rank 3)
#   B = [3, 1, 4]   (doc 3 at rank 1, doc 1 at rank 2, doc 4 at rank 3)
A = ranking([1, 2, 3])
B = ranking([3, 1, 4])


# --- reciprocal rank fusion -------------------------------------------------------------


def test_rrf_default_k_60_hand_computed() -> None:
    # k = 60, ranks count from 1:
    #   doc 1: 1/(60+1) + 1/(60+2) = 1/61 + 1/62 ~ 0.032522
    #   doc 3: 1/(60+3) + 1/(60+1) = 1/63 + 1/61 ~ 0.032266
    #   doc 2: 1/62 (only in A)                  ~ 0.016129
    #   doc 4: 1/63 (only in B)                  ~ 0.015873
    ids, scores = reciprocal_rank_fusion([A, B])
    assert ids.tolist() == [1, 3, 2, 4]
    assert scores == pytest.approx([1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62, 1 / 63], rel=1e-12)
    assert ids.dtype == np.int64 and scores.dtype == np.float64


def test_rrf_rank_1_of_one_list_and_rank_3_of_another() -> None:
    # The example from the docstring: rank 1 in A and rank 3 in B scores 1/61 + 1/63.
    fused = as_dict(reciprocal_rank_fusion([ranking([9, 5, 6]), ranking([7, 8, 9])]))
    assert fused[9] == pytest.approx(1 / 61 + 1 / 63, rel=1e-12)


def test_rrf_ignores_the_scores() -> None:
    with_scores = reciprocal_rank_fusion(
        [ranking([1, 2, 3], [0.1, 0.09, 0.08]), ranking([3, 1, 4], [90, 2, 1])]
    )
    plain = reciprocal_rank_fusion([A, B])
    assert with_scores[0].tolist() == plain[0].tolist()
    assert with_scores[1].tolist() == plain[1].tolist()


def test_rrf_custom_k() -> None:
    # k = 1:
    #   doc 1: 1/2 + 1/3 = 0.8333...   doc 3: 1/4 + 1/2 = 0.75
    #   doc 2: 1/3 = 0.3333...         doc 4: 1/4 = 0.25
    ids, scores = reciprocal_rank_fusion([A, B], k=1)
    assert ids.tolist() == [1, 3, 2, 4]
    assert scores == pytest.approx([1 / 2 + 1 / 3, 1 / 4 + 1 / 2, 1 / 3, 1 / 4], rel=1e-12)


def test_rrf_weights_change_the_order() -> None:
    # weights (1, 3), k = 60:
    #   doc 3: 1/63 + 3/61 ~ 0.015873 + 0.049180 = 0.065053
    #   doc 1: 1/61 + 3/62 ~ 0.016393 + 0.048387 = 0.064780
    #   doc 4:        3/63 ~ 0.047619
    #   doc 2: 1/62        ~ 0.016129
    # Unweighted the order was 1, 3, 2, 4; the heavy second list puts 3 first and 4 above 2.
    ids, scores = reciprocal_rank_fusion([A, B], weights=[1.0, 3.0])
    assert ids.tolist() == [3, 1, 4, 2]
    assert scores == pytest.approx([1 / 63 + 3 / 61, 1 / 61 + 3 / 62, 3 / 63, 1 / 62], rel=1e-12)


def test_rrf_zero_weight_keeps_documents_with_score_zero() -> None:
    # weights (1, 0): B contributes nothing, but its documents still appear with what A gives.
    #   doc 1: 1/61   doc 2: 1/62   doc 3: 1/63   doc 4: 0
    fused = as_dict(reciprocal_rank_fusion([A, B], weights=[1.0, 0.0]))
    assert fused == pytest.approx({1: 1 / 61, 2: 1 / 62, 3: 1 / 63, 4: 0.0}, rel=1e-12)


def test_rrf_single_ranking_keeps_its_order() -> None:
    # One list: score = 1/(60 + rank), strictly decreasing, so the order is unchanged.
    ids, scores = reciprocal_rank_fusion([ranking([42, 7, 13])])
    assert ids.tolist() == [42, 7, 13]
    assert scores == pytest.approx([1 / 61, 1 / 62, 1 / 63], rel=1e-12)


def test_rrf_empty_inputs() -> None:
    ids, scores = reciprocal_rank_fusion([])
    assert ids.shape == scores.shape == (0,)
    assert ids.dtype == np.int64 and scores.dtype == np.float64

    ids, scores = reciprocal_rank_fusion([ranking([]), ranking([])])
    assert ids.shape == scores.shape == (0,)

    # An empty list next to a non-empty one is the same as the non-empty one alone.
    ids, scores = reciprocal_rank_fusion([ranking([]), ranking([5, 4])])
    assert ids.tolist() == [5, 4]
    assert scores == pytest.approx([1 / 61, 1 / 62], rel=1e-12)


def test_rrf_ties_are_broken_by_ascending_id() -> None:
    # doc 7: 1/61 + 1/62; doc 3: 1/62 + 1/61 -- the same two terms, an exact tie.
    ids, scores = reciprocal_rank_fusion([ranking([7, 3]), ranking([3, 7])])
    assert ids.tolist() == [3, 7]
    assert scores[0] == scores[1]
    # The tie-break does not depend on which list comes first.
    ids, _ = reciprocal_rank_fusion([ranking([3, 7]), ranking([7, 3])])
    assert ids.tolist() == [3, 7]

    # Documents found at the same rank of different lists tie too: 1/61 each, then 1/62 each.
    ids, _ = reciprocal_rank_fusion([ranking([20, 11]), ranking([10, 21])])
    assert ids.tolist() == [10, 20, 11, 21]


def test_rrf_weights_must_match_the_rankings() -> None:
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([A, B], weights=[1.0])


# --- weighted (min-max) fusion ---------------------------------------------------------


def test_weighted_fusion_min_max_hand_computed() -> None:
    # A: scores 10, 6, 2  -> min 2, max 10 -> (s - 2) / 8 = 1.0, 0.5, 0.0 for docs 1, 2, 3
    # B: scores 0.9, 0.3  -> min 0.3, max 0.9 -> 1.0, 0.0 for docs 3, 4
    # weights 0.5 / 0.5; a document missing from a list scores 0 there:
    #   doc 1: 0.5*1.0 + 0        = 0.5
    #   doc 3: 0.5*0.0 + 0.5*1.0  = 0.5   (tie with doc 1: lower id first)
    #   doc 2: 0.5*0.5 + 0        = 0.25
    #   doc 4: 0       + 0.5*0.0  = 0.0
    a = ranking([1, 2, 3], [10.0, 6.0, 2.0])
    b = ranking([3, 4], [0.9, 0.3])
    ids, scores = weighted_fusion([a, b], [0.5, 0.5])
    assert ids.tolist() == [1, 3, 2, 4]
    assert scores.tolist() == [0.5, 0.5, 0.25, 0.0]  # all exactly representable

    # weights 0.3 / 0.7:
    #   doc 3: 0.3*0.0 + 0.7*1.0 = 0.7
    #   doc 1: 0.3*1.0           = 0.3
    #   doc 2: 0.3*0.5           = 0.15
    #   doc 4: 0.7*0.0           = 0.0
    ids, scores = weighted_fusion([a, b], [0.3, 0.7])
    assert ids.tolist() == [3, 1, 2, 4]
    assert scores == pytest.approx([0.7, 0.3, 0.15, 0.0], abs=1e-12)


def test_weighted_fusion_is_invariant_to_shift_and_scale_and_handles_negative_scores() -> None:
    # Cosine similarities can be negative: -0.2, -0.4, -0.6 normalize to 1.0, 0.5, 0.0,
    # exactly like 100, 50, 0 do.
    negative = weighted_fusion([ranking([1, 2, 3], [-0.2, -0.4, -0.6])], [1.0])
    large = weighted_fusion([ranking([1, 2, 3], [100.0, 50.0, 0.0])], [1.0])
    assert negative[0].tolist() == large[0].tolist() == [1, 2, 3]
    assert negative[1] == pytest.approx([1.0, 0.5, 0.0], abs=1e-12)
    assert large[1] == pytest.approx([1.0, 0.5, 0.0], abs=1e-12)


def test_weighted_fusion_all_equal_scores_normalize_to_one() -> None:
    # A: docs 5, 6 both scored 3.0: the spread is 0, so both normalize to 1 (not 0/0 = NaN).
    # B: a single document, doc 6, scored 0.2: spread 0 again, normalizes to 1.
    # weights 0.4 / 0.6:
    #   doc 6: 0.4*1 + 0.6*1 = 1.0
    #   doc 5: 0.4*1         = 0.4
    ids, scores = weighted_fusion([ranking([5, 6], [3.0, 3.0]), ranking([6], [0.2])], [0.4, 0.6])
    assert ids.tolist() == [6, 5]
    assert scores == pytest.approx([1.0, 0.4], abs=1e-12)
    assert np.isfinite(scores).all()


def test_weighted_fusion_document_in_only_one_ranking() -> None:
    # A: docs 1, 2 scored 4, 2 -> 1.0, 0.0; B: docs 3, 4 scored 8, 0 -> 1.0, 0.0
    # weights 0.25 / 0.75: doc 3 = 0.75, doc 1 = 0.25, docs 2 and 4 = 0.0 (tie: 2 before 4)
    ids, scores = weighted_fusion([ranking([1, 2], [4.0, 2.0]), ranking([3, 4], [8.0, 0.0])], [0.25, 0.75])
    assert ids.tolist() == [3, 1, 2, 4]
    assert scores.tolist() == [0.75, 0.25, 0.0, 0.0]


def test_weighted_fusion_empty_inputs() -> None:
    ids, scores = weighted_fusion([], [])
    assert ids.shape == scores.shape == (0,)
    assert ids.dtype == np.int64 and scores.dtype == np.float64

    ids, scores = weighted_fusion([ranking([], []), ranking([], [])], [0.5, 0.5])
    assert ids.shape == scores.shape == (0,)

    # An empty list contributes nothing; the other one is normalized as usual:
    #   scores 3, 1 -> 1.0, 0.0, times weight 0.6 -> 0.6, 0.0
    ids, scores = weighted_fusion([ranking([], []), ranking([8, 9], [3.0, 1.0])], [0.4, 0.6])
    assert ids.tolist() == [8, 9]
    assert scores == pytest.approx([0.6, 0.0], abs=1e-12)


def test_weighted_fusion_ties_are_broken_by_ascending_id() -> None:
    # Both lists normalize to (1.0, 0.0); doc 9 = 0.5*1 + 0.5*0 = 0.5 = doc 4's 0.5*0 + 0.5*1.
    ids, scores = weighted_fusion([ranking([9, 4], [2.0, 1.0]), ranking([4, 9], [5.0, 3.0])], [0.5, 0.5])
    assert ids.tolist() == [4, 9]
    assert scores.tolist() == [0.5, 0.5]


def test_weighted_fusion_weights_must_match_the_rankings() -> None:
    with pytest.raises(ValueError):
        weighted_fusion([A, B], [1.0])


# --- FusionMode ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mode"),
    [("rrf", FusionMode.RRF), (" RRF ", FusionMode.RRF), ("Weighted", FusionMode.WEIGHTED)],
)
def test_fusion_mode_from_str(text: str, mode: FusionMode) -> None:
    assert FusionMode.from_str(text) is mode


def test_fusion_mode_from_str_lists_the_valid_values() -> None:
    with pytest.raises(InvalidInput, match="'borda'") as info:
        FusionMode.from_str("borda")
    assert "rrf, weighted" in str(info.value)
