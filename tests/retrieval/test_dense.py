"""Dense index: exact below the threshold, IVF above it, filters before the cut, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attest.core.errors import ConfigurationError, RetrievalError
from attest.retrieval.dense import DenseConfig, DenseIndex

pytestmark = pytest.mark.unit

DIM = 32


def clustered(count: int, seed: int = 0, clusters: int = 50) -> np.ndarray:
    """Unit vectors around random centres: structure an IVF index can exploit, like real text."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, DIM))
    vectors = centres[rng.integers(clusters, size=count)] + 0.35 * rng.normal(size=(count, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def exact(vectors: np.ndarray, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[int]:
    scores = vectors @ query
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    return [int(i) for i in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[i])]


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return clustered(6000)


@pytest.fixture(scope="module")
def ivf(vectors: np.ndarray) -> DenseIndex:
    return DenseIndex.build(vectors, DenseConfig(ann_threshold=5000, nprobe=16, exact_below=300))


def test_small_index_is_exact(vectors: np.ndarray) -> None:
    flat = DenseIndex.build(vectors[:800], DenseConfig(ann_threshold=5000))
    assert flat.kind == "flat"
    for query in clustered(20, seed=1):
        ids, scores = flat.search(query, 10)
        assert ids.tolist() == exact(vectors[:800], query, 10)
        np.testing.assert_allclose(scores, vectors[:800][ids] @ query, atol=1e-5)


def test_large_index_is_ivf_with_high_recall(vectors: np.ndarray, ivf: DenseIndex) -> None:
    assert ivf.kind == "ivf" and ivf.ivf is not None and ivf.ivf.nlist > 16
    queries = clustered(100, seed=2)
    found = [set(ivf.search(q, 10)[0].tolist()) & set(exact(vectors, q, 10)) for q in queries]
    recall = sum(len(f) for f in found) / (10 * len(queries))
    assert recall >= 0.9


@pytest.mark.parametrize("share", [0.02, 0.3, 0.9])
def test_filters_apply_before_the_cut(vectors: np.ndarray, ivf: DenseIndex, share: float) -> None:
    mask = np.random.default_rng(3).random(len(vectors)) < share
    allowed = int(mask.sum())
    recalls = []
    for query in clustered(30, seed=4):
        ids, _ = ivf.search(query, 10, mask)
        assert len(ids) == 10 and mask[ids].all()  # a full top-k, nothing outside the mask
        truth = exact(vectors, query, 10, mask)
        if allowed <= ivf.config.exact_below:
            assert ids.tolist() == truth  # small allowed sets are searched exactly
        recalls.append(len(set(ids.tolist()) & set(truth)) / 10)
    assert np.mean(recalls) >= 0.85


def test_asking_for_more_than_allowed_returns_all_allowed(ivf: DenseIndex, vectors: np.ndarray) -> None:
    mask = np.zeros(len(vectors), dtype=bool)
    mask[[5, 17, 4000]] = True
    ids, _ = ivf.search(vectors[17], 10, mask)
    assert ids.tolist()[0] == 17 and sorted(ids.tolist()) == [5, 17, 4000]
    assert len(ivf.search(vectors[0], 10, np.zeros(len(vectors), dtype=bool))[0]) == 0
    assert len(ivf.search(vectors[0], 0)[0]) == 0


@pytest.mark.parametrize("threshold", [100, 10_000])
def test_save_and_load(tmp_path: Path, vectors: np.ndarray, threshold: int) -> None:
    config = DenseConfig(ann_threshold=threshold, nprobe=8)
    built = DenseIndex.build(vectors[:3000], config)
    built.save(tmp_path)
    loaded = DenseIndex.load(tmp_path, vectors[:3000], config)
    assert loaded.kind == built.kind
    for query in clustered(5, seed=5):
        np.testing.assert_array_equal(loaded.search(query, 10)[0], built.search(query, 10)[0])


def test_load_errors(tmp_path: Path, vectors: np.ndarray) -> None:
    with pytest.raises(RetrievalError, match="missing"):
        DenseIndex.load(tmp_path, vectors)
    (tmp_path / "dense.faiss").write_bytes(b"not an index")
    with pytest.raises(RetrievalError, match="cannot read"):
        DenseIndex.load(tmp_path, vectors)
    DenseIndex.build(vectors[:10]).save(tmp_path)
    with pytest.raises(RetrievalError, match="rebuild"):
        DenseIndex.load(tmp_path, vectors[:20])


def test_config_validation() -> None:
    for bad in ({"ann_threshold": 0}, {"nprobe": -1}, {"exact_below": 1.5}, {"nprobe": True}):
        with pytest.raises(ConfigurationError):
            DenseConfig(**bad)  # type: ignore[arg-type]
