"""Query latency and memory of the whole retrieval path on synthetic 100k and 1M chunk indexes.

For each size, writes a synthetic index version in the on-disk format ingestion writes
(``chunks.jsonl``, ``embeddings.npy``, ``bm25/``, ``dense.faiss``, ``manifest.json``):

* chunks of ``--tokens`` BM25 tokens drawn from a Zipf distribution over ``--vocab`` words
  (think of them as the words left after stop-word removal and stemming);
* embeddings are unit vectors loosely around ``--clusters`` random centres (cosine about
  0.6 to their centre: real text embeddings cluster too, and pure noise would make any
  approximate index look bad);
* five chunks per document; half the documents are readable by everyone, the other half
  each by one of ten groups; each document has one of 100 tags and chunks name 0-2 of
  500 entities.

Then, in a fresh process (so that its peak memory is the serving footprint, not the
build's), opens the version exactly as the query service does and times the whole query
path: query embedding with the real MiniLM model, BM25, FAISS, fusion, the ACL and tag
filters and context building. Queries mix three kinds of askers: unrestricted, one group
(about 55 % of the chunks readable) and one group plus a rare tag (about 0.5 %).

Also reported: IVF recall@10 against exact search (queries near corpus vectors, with and
without a filter), and at 100k, BM25 speed against ``rank_bm25`` on the same corpus.

``--backend milvus`` (or ``both``, side by side per size) writes the same chunks, records and
vectors through the milvus index backend into an embedded milvus-lite database and times
the same queries (the first ``--milvus-queries`` of the mix, after one warm-up query per
asker kind) in a fresh process: see ``bench/scale_milvus.py``. milvus-lite is the embedded,
pure-Python development engine, in the measured processes; it is not a Milvus server.
Usage:
    python bench/retrieval_scale.py [--sizes 100000 1000000] [--queries 300] [--json]
        [--backend local|milvus|both] [--milvus-queries 30]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from attest.core.settings import Settings
from attest.eval.metrics import latency_percentiles
from attest.ingest.chunker import hf_offsets
from attest.retrieval.bm25 import BM25Config, BM25Index
from attest.retrieval.context import build_context
from attest.retrieval.dense import DenseConfig, DenseIndex
from attest.retrieval.filters import Filters
from attest.retrieval.hybrid import open_retriever
from attest.retrieval.index_store import FORMAT, load_snapshot
from attest.retrieval.records import ChunkEntity, ChunkRecord
from attest.text.embedder import SentenceTransformerEmbedder

DIM = 384
GROUPS = [f"group{i}" for i in range(10)]
CHUNKS_PER_DOC = 5
BATCH = 50_000
CONTEXT_BUDGET = 1500  # tokens handed to the generator


def zipf_probabilities(vocab: int, exponent: float = 1.05) -> np.ndarray:
    p = 1.0 / np.arange(1, vocab + 1) ** exponent
    return p / p.sum()


def word(i: int | np.integer) -> str:
    return f"t{int(i)}"


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``; unlike ``ru_maxrss`` it is not inherited)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- building


def synthetic_batches(
    size: int, args: argparse.Namespace
) -> Iterator[tuple[int, np.ndarray, np.ndarray, list[ChunkRecord]]]:
    """The synthetic chunks of a ``size``-chunk version, ``BATCH`` at a time: (first row, unit
    vectors, BM25 token ids, records). Seeded by ``size``, so every backend gets the same ones."""
    rng = np.random.default_rng(size)
    centres = rng.normal(size=(args.clusters, DIM)).astype(np.float32)
    p = zipf_probabilities(args.vocab)
    for start in range(0, size, BATCH):
        n = min(BATCH, size - start)
        v = centres[rng.integers(args.clusters, size=n)] + 1.2 * rng.normal(size=(n, DIM)).astype(np.float32)
        tokens = rng.choice(args.vocab, size=(n, args.tokens), p=p).astype(np.int32)
        records = [_record(start + i, tokens[i], rng) for i in range(n)]
        yield start, v / np.linalg.norm(v, axis=1, keepdims=True), tokens, records


def build(path: Path, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Write a synthetic index version of ``size`` chunks to ``path``; return build timings."""
    path.mkdir(parents=True)
    started = time.perf_counter()
    vectors = np.lib.format.open_memmap(
        path / "embeddings.npy", mode="w+", dtype=np.float32, shape=(size, DIM)
    )
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    tfs: list[np.ndarray] = []
    with open(path / "chunks.jsonl", "w", encoding="utf-8") as out:
        for start, unit, tokens, records in synthetic_batches(size, args):
            vectors[start : start + len(unit)] = unit
            r, c, t = _term_counts(tokens)
            rows.append(r + start)
            cols.append(c)
            tfs.append(t)
            for record in records:
                out.write(record.to_json() + "\n")
            print(f"  {start + len(unit):,}/{size:,} chunks", file=sys.stderr)
    vectors.flush()
    del vectors
    written = time.perf_counter()

    tf = sp.csc_matrix(
        (np.concatenate(tfs).astype(np.uint16), (np.concatenate(rows), np.concatenate(cols))),
        shape=(size, args.vocab),
    )
    keep = np.diff(tf.indptr) > 0  # the vocabulary holds only words that occur
    tf = tf[:, np.flatnonzero(keep)].tocsc()
    tf.sort_indices()
    vocabulary = [word(i) for i in np.flatnonzero(keep)]
    BM25Index(BM25Config(), vocabulary, tf, np.full(size, float(args.tokens))).save(path / "bm25")
    bm25_done = time.perf_counter()

    dense = DenseIndex.build(np.load(path / "embeddings.npy", mmap_mode="r"), DenseConfig())
    dense.save(path)
    manifest = {"format": FORMAT, "version": 1, "dim": DIM, "chunk_count": size, "dense_index": dense.kind}
    (path / "manifest.json").write_text(json.dumps(manifest))
    return {
        "chunks_s": round(written - started, 1),
        "bm25_s": round(bm25_done - written, 1),
        "faiss_s": round(time.perf_counter() - bm25_done, 1),
        "dense_index": dense.kind,
        "build_peak_rss_mb": round(peak_rss_mb()),
    }


def _term_counts(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, term, tf) of each distinct term of each row of a token matrix."""
    ordered = np.sort(tokens, axis=1)
    starts = np.ones(ordered.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    row, col = np.nonzero(starts)
    flat = np.flatnonzero(starts.ravel())
    counts = np.diff(np.append(flat, ordered.size))
    return row.astype(np.int64), ordered[row, col].astype(np.int64), counts


def _record(row: int, tokens: np.ndarray, rng: np.random.Generator) -> ChunkRecord:
    doc = row // CHUNKS_PER_DOC
    position = row % CHUNKS_PER_DOC
    text = " ".join(word(t) for t in tokens)
    group = doc % 20  # 0-9: one group; 10-19: everyone
    names = [f"Entity {e}" for e in rng.integers(500, size=row % 3)]
    return ChunkRecord(
        chunk_id=row + 1,
        document_id=doc + 1,
        position=position,
        text=text,
        char_start=position * 10_000,
        char_end=position * 10_000 + len(text),
        token_start=position * len(tokens),
        token_end=(position + 1) * len(tokens),
        page=None,
        entities=tuple(ChunkEntity("ORG", name, 0, len(name)) for name in names),  # not in the text
        title=f"Document {doc + 1}",
        source_uri=f"synthetic://doc/{doc + 1}",
        acl=(GROUPS[group],) if group < 10 else (),
        tags=(f"tag{doc % 100}",),
    )


# ---------------------------------------------------------------- serving


WARM_UP = 20  # queries before the timed ones: they warm caches (per-group BM25 statistics among them)
ASKERS = ("unrestricted", "one group", "group + rare tag")


def query_mix(
    args: argparse.Namespace, count: int, rng: np.random.Generator
) -> list[tuple[str, str, Filters]]:
    """The first ``count`` queries of the mix, as (asker kind, query, filters), the askers in
    rotation; query ``i`` is the same for every backend and every ``count`` (``rng`` seeded 7)."""
    p = zipf_probabilities(args.vocab)
    mix = []
    for i in range(count):
        words = rng.choice(args.vocab, size=int(rng.integers(3, 7)), p=p)
        kind = ASKERS[i % 3]
        filters = {
            "unrestricted": Filters(),
            "one group": Filters(groups=frozenset({GROUPS[i % 10]})),
            "group + rare tag": Filters(
                groups=frozenset({GROUPS[i % 10]}), tags=frozenset({f"tag{i % 100}"})
            ),
        }[kind]
        mix.append((kind, " ".join(word(w) for w in words), filters))
    return mix


def time_queries(
    searcher: Any,
    embedder: SentenceTransformerEmbedder,
    warm_up: list[tuple[str, str, Filters]],
    timed: list[tuple[str, str, Filters]],
    progress: bool = False,
) -> dict[str, list[float]]:
    """Milliseconds per query, from the question to the packed context, by asker kind."""
    offsets = hf_offsets(embedder.tokenizer)  # a stand-in for the generator's tokenizer

    def count_tokens(text: str) -> int:
        return len(offsets(text))

    kinds: dict[str, list[float]] = {kind: [] for kind in ASKERS}
    for n, (kind, query, filters) in enumerate(warm_up + timed):
        began = time.perf_counter()
        hits = searcher.retrieve(query, k=10, filters=filters)
        context = build_context(hits, CONTEXT_BUDGET, count_tokens)
        elapsed = (time.perf_counter() - began) * 1000
        assert context.tokens <= CONTEXT_BUDGET and len(hits) == 10, (kind, len(hits))
        if n >= len(warm_up):
            kinds[kind].append(elapsed)
        if progress:
            print(f"  query {n + 1}/{len(warm_up) + len(timed)} ({kind}): {elapsed:,.0f} ms", file=sys.stderr)
    return kinds


def latencies(kinds: dict[str, list[float]]) -> dict[str, Any]:
    everything = [ms for values in kinds.values() for ms in values]
    return {
        "latency_ms": latency_percentiles(everything),
        "latency_ms_by_asker": {k: latency_percentiles(v) for k, v in kinds.items()},
    }


def serve(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Open the version like the query service and time the whole query path."""
    settings = Settings()
    started = time.perf_counter()
    embedder = SentenceTransformerEmbedder(settings.embedding_model)
    embedder.warm_up()
    retriever = open_retriever(load_snapshot(path, 1), embedder, settings)
    opened = time.perf_counter() - started
    rng = np.random.default_rng(7)
    mix = query_mix(args, WARM_UP + args.queries, rng)
    kinds = time_queries(retriever, embedder, mix[:WARM_UP], mix[WARM_UP:])
    serving_rss = peak_rss_mb()  # before the recall check scans every vector
    return {
        "open_s": round(opened, 1),
        **latencies(kinds),
        "serve_peak_rss_mb": round(serving_rss),
        "dense_index": retriever.dense.kind,
        "recall": ann_recall(retriever.dense, rng) if retriever.dense.kind == "ivf" else None,
    }


def ann_recall(dense: DenseIndex, rng: np.random.Generator, queries: int = 100) -> dict[str, float]:
    """IVF recall@10 against exact search, for queries near corpus vectors."""
    vectors = dense.embeddings
    picks = np.sort(rng.integers(len(vectors), size=queries))
    noise = rng.normal(size=(queries, DIM)).astype(np.float32) / np.sqrt(DIM)
    q = np.asarray(vectors[picks]) + noise  # cosine about 0.7 to a corpus vector, like a real question
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    mask = rng.random(len(vectors)) < 0.55
    recall = {}
    for name, allowed in (("unfiltered", None), ("filtered", mask)):
        truth = exact_top10(vectors, q, allowed)
        found = [set(dense.search(q[i], 10, allowed)[0].tolist()) for i in range(queries)]
        shares = [len(f & set(t.tolist())) / 10 for f, t in zip(found, truth, strict=True)]
        recall[name] = round(float(np.mean(shares)), 4)
    return recall


def exact_top10(vectors: np.ndarray, q: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """Ids of the exact 10 nearest allowed rows per query, scanning in blocks."""
    best_scores = np.empty((len(q), 0), dtype=np.float32)
    best_ids = np.empty((len(q), 0), dtype=np.int64)
    for start in range(0, len(vectors), 200_000):
        scores = q @ np.asarray(vectors[start : start + 200_000]).T
        if allowed is not None:
            scores[:, ~allowed[start : start + 200_000]] = -np.inf
        part = np.argpartition(-scores, 10, axis=1)[:, :10]
        best_scores = np.hstack([best_scores, np.take_along_axis(scores, part, 1)])
        best_ids = np.hstack([best_ids, part + start])
        order = np.argsort(-best_scores, axis=1)[:, :10]
        best_scores = np.take_along_axis(best_scores, order, 1)
        best_ids = np.take_along_axis(best_ids, order, 1)
    return best_ids


def bm25_against_rank_bm25(path: Path, args: argparse.Namespace, queries: int = 20) -> dict[str, Any]:
    """Per-query BM25 time of Attest and of rank_bm25 over the same chunks."""
    from rank_bm25 import BM25Okapi

    bm25 = BM25Index.load(path / "bm25")
    with open(path / "chunks.jsonl", encoding="utf-8") as lines:
        corpus = [json.loads(line)["text"].split() for line in lines]
    reference = BM25Okapi(corpus)
    rng = np.random.default_rng(11)
    p = zipf_probabilities(args.vocab)
    texts = [" ".join(word(w) for w in rng.choice(args.vocab, size=4, p=p)) for _ in range(queries)]
    began = time.perf_counter()
    ours = [bm25.scores(t) for t in texts]
    ours_ms = (time.perf_counter() - began) * 1000 / queries
    began = time.perf_counter()
    theirs = [reference.get_scores(t.split()) for t in texts]
    theirs_ms = (time.perf_counter() - began) * 1000 / queries
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs, strict=True))
    return {
        "chunks": len(corpus),
        "attest_ms": round(ours_ms, 2),
        "rank_bm25_ms": round(theirs_ms, 1),
        "speedup": round(theirs_ms / ours_ms, 1),
        "max_score_difference": diff,
    }


# ---------------------------------------------------------------- main


def local_result(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Build ``size`` chunks in the on-disk format, then serve them in a fresh process."""
    forwarded = ["--queries", str(args.queries), "--vocab", str(args.vocab)]
    with tempfile.TemporaryDirectory(prefix="attest-scale-") as tmp:
        path = Path(tmp) / "v1"
        print(f"building {size:,} chunks (local)", file=sys.stderr)
        built = build(path, size, args)
        print(f"querying {size:,} chunks (local)", file=sys.stderr)
        served = subprocess.run(
            [sys.executable, __file__, "--serve", str(path), *forwarded],
            check=True,
            capture_output=True,
            text=True,
        )
        result = built | json.loads(served.stdout.strip().splitlines()[-1])
        if size <= 100_000:
            result["bm25_vs_rank_bm25"] = bm25_against_rank_bm25(path, args)
    return result


def milvus_result(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Build ``size`` chunks into milvus-lite in one fresh process, serve them in another
    (``bench/scale_milvus.py``): each process's peak memory is its own, engine included."""
    helper = str(Path(__file__).with_name("scale_milvus.py"))
    common = ["--size", str(size), "--vocab", str(args.vocab)]
    with tempfile.TemporaryDirectory(prefix="attest-scale-milvus-") as tmp:
        steps = (
            (
                "building",
                ["build", tmp, *common, "--tokens", str(args.tokens), "--clusters", str(args.clusters)],
            ),
            ("querying", ["serve", tmp, *common, "--queries", str(args.milvus_queries)]),
        )
        result: dict[str, Any] = {}
        for doing, command in steps:
            print(f"{doing} {size:,} chunks (milvus)", file=sys.stderr)
            done = subprocess.run([sys.executable, helper, *command], stdout=subprocess.PIPE, text=True)
            if done.returncode != 0:  # killed (memory) or failed: keep what the earlier steps measured
                result["error"] = f"{doing} {size:,} chunks failed with exit status {done.returncode}"
                break
            step = json.loads(done.stdout.strip().splitlines()[-1])
            print(json.dumps(step), file=sys.stderr)  # a long run's numbers, as soon as they exist
            result |= step
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backend", choices=("local", "milvus", "both"), default="local")
    parser.add_argument("--queries", type=int, default=300, help="timed queries, local backend")
    parser.add_argument(
        "--milvus-queries",
        type=int,
        default=30,
        help="timed queries, milvus backend (milvus-lite scans array filters in Python: slow)",
    )
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--tokens", type=int, default=100, help="BM25 tokens per chunk")
    parser.add_argument("--clusters", type=int, default=2_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # internal: the serving process
    args = parser.parse_args()
    if args.serve:
        print(json.dumps(serve(args.serve, args)))
        return

    results: dict[str, Any] = {"date": datetime.now(UTC).date().isoformat(), "sizes": {}}
    backends = {"local": local_result, "milvus": milvus_result}
    chosen = list(backends) if args.backend == "both" else [args.backend]
    for size in args.sizes:
        by_backend = {name: backends[name](size, args) for name in chosen}
        for name, result in by_backend.items():
            print(json.dumps({"size": size, "backend": name} | result), file=sys.stderr)
        results["sizes"][str(size)] = by_backend if args.backend == "both" else by_backend[args.backend]
    print(json.dumps(results, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
