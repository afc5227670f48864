"""Dense retrieval: FAISS inner-product search over the normalized chunk embeddings.

Below ``ann_threshold`` vectors the index is exact (``IndexFlatIP``). From there on it is
an inverted-file index (``IndexIVFFlat``): k-means cells over the vectors, and a query
scans only the ``nprobe`` cells nearest to it. ``bench/retrieval_scale.py`` reports its
recall against exact search.

Filters go into FAISS as a bitmap selector, so they apply before the top-k cut. An IVF
search that allows only a small share of the vectors would find few of them in the cells
it visits, so it visits more cells (``nprobe / share``); when the allowed set is small
(``exact_below``) it is searched exactly instead, which is both faster and complete.

The index is written into the version directory at build time and memory-mapped on load,
so that several processes serving the same version share its pages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from attest.core.errors import ConfigurationError, RetrievalError

Ranking = tuple[np.ndarray, np.ndarray]
INDEX_FILE = "dense.faiss"
ADD_BATCH = 65_536


@dataclass(frozen=True)
class DenseConfig:
    """When to go approximate and how hard an approximate search looks."""

    ann_threshold: int = 50_000  # vectors; from here on the index is IVF
    nprobe: int = 32  # IVF cells visited by an unfiltered query
    exact_below: int = 20_000  # filtered queries allowing at most this many vectors run exactly

    def __post_init__(self) -> None:
        for name in ("ann_threshold", "nprobe", "exact_below"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"dense.{name} must be a positive integer, not {value!r}")


def cells_for(count: int) -> int:
    """IVF cells for ``count`` vectors: about 2 * sqrt(n), so cells hold a few hundred each."""
    return max(16, min(16_384, int(2 * math.sqrt(count))))


class DenseIndex:
    """A FAISS index over one version's embeddings (rows = chunk positions)."""

    def __init__(self, index: faiss.Index, embeddings: np.ndarray, config: DenseConfig) -> None:
        if index.ntotal != len(embeddings):
            raise RetrievalError(
                f"dense index holds {index.ntotal} vectors for {len(embeddings)} chunks; rebuild it"
            )
        self.index = index
        self.embeddings = embeddings  # row order, for exact search over a small allowed set
        self.config = config
        self.ivf = index if isinstance(index, faiss.IndexIVF) else None

    @property
    def kind(self) -> str:
        """``"ivf"`` or ``"flat"``."""
        return "ivf" if self.ivf is not None else "flat"

    @classmethod
    def build(cls, embeddings: np.ndarray, config: DenseConfig | None = None, seed: int = 0) -> DenseIndex:
        """Index ``embeddings`` (float32, unit rows): exact or IVF depending on the count."""
        config = config or DenseConfig()
        count, dim = embeddings.shape
        if count < config.ann_threshold:
            index: faiss.Index = faiss.IndexFlatIP(dim)
        else:
            nlist = cells_for(count)
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            sample = np.random.default_rng(seed).choice(count, size=min(count, 40 * nlist), replace=False)
            index.train(np.ascontiguousarray(embeddings[np.sort(sample)], dtype=np.float32))
        for start in range(0, count, ADD_BATCH):
            index.add(np.ascontiguousarray(embeddings[start : start + ADD_BATCH], dtype=np.float32))
        if isinstance(index, faiss.IndexIVFFlat):
            index.nprobe = config.nprobe
        return cls(index, embeddings, config)

    def save(self, directory: Path) -> None:
        """Write the index as ``dense.faiss`` in ``directory``."""
        faiss.write_index(self.index, str(directory / INDEX_FILE))

    @classmethod
    def load(cls, directory: Path, embeddings: np.ndarray, config: DenseConfig | None = None) -> DenseIndex:
        """Memory-map the index of a version directory."""
        path = directory / INDEX_FILE
        if not path.is_file():
            raise RetrievalError(f"the dense index {path} is missing; re-run `attest ingest` to rebuild it")
        with open(path, "rb") as handle:
            flat = handle.read(4).startswith(b"IxF")  # FAISS's tag for IndexFlat*
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if flat else faiss.IO_FLAG_MMAP)
        except RuntimeError as exc:
            raise RetrievalError(f"cannot read the dense index {path}: {exc}; rebuild it") from exc
        loaded = cls(index, embeddings, config or DenseConfig())
        if loaded.ivf is not None:
            loaded.ivf.nprobe = loaded.config.nprobe
        return loaded

    def search(self, vector: np.ndarray, k: int, mask: np.ndarray | None = None) -> Ranking:
        """The ``k`` nearest rows to ``vector`` (inner product) among those ``mask`` allows."""
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        total = self.index.ntotal
        allowed = total if mask is None else int(np.count_nonzero(mask))
        if k <= 0 or allowed == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if mask is not None and self.ivf is not None and allowed <= self.config.exact_below:
            return self._exact_subset(query[0], k, np.flatnonzero(mask))
        params, bits = self._params(mask, allowed / total)
        scores, ids = self.index.search(query, min(k, allowed), params=params)
        del bits  # the selector reads this bitmap until the search returns
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep]

    def _params(
        self, mask: np.ndarray | None, share: float
    ) -> tuple[faiss.SearchParameters | None, np.ndarray | None]:
        """Search parameters, and the bitmap they point into (the caller keeps it alive)."""
        selector, bits = None, None
        if mask is not None:
            bits = np.packbits(mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        if self.ivf is not None:
            nprobe = min(self.ivf.nlist, math.ceil(self.config.nprobe / share))
            return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe), bits  # type: ignore[call-arg]
        if selector is None:
            return None, None
        return faiss.SearchParameters(sel=selector), bits  # type: ignore[call-arg]

    def _exact_subset(self, query: np.ndarray, k: int, rows: np.ndarray) -> Ranking:
        scores = np.asarray(self.embeddings[rows], dtype=np.float32) @ query
        k = min(k, len(rows))
        top = np.argpartition(-scores, k - 1)[:k]
        order = top[np.lexsort((rows[top], -scores[top]))]
        return rows[order].astype(np.int64), scores[order]
