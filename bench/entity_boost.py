"""Measure whether the entity boost of hybrid retrieval helps, on a tuning half of the queries.

Indexes a BEIR data set through the normal pipeline (default: SQuAD 2.0 dev converted with
``squad_to_beir``), then answers every query with ``HybridRetriever.retrieve`` in hybrid
mode under a grid of ``entity_boost`` values. The query's entities come from the same
``EntityTagger`` the ingest pipeline builds (``ATTEST_SPACY_PIPELINE``, no knowledge-base
terms). Queries are split by a hash of their id as in ``tune_fusion.py``; a boost is chosen
on the tuning half and judged on the other. Also reported: how many queries carry an
entity the tagger finds, how many entities the chunks carry, and how often a relevant
document names a query's entity, i.e. how much the boost has to work with. Usage:
    python bench/entity_boost.py [--squad FILE | --corpus C --queries Q --qrels R] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tune_fusion import in_tuning_half, load_data

from attest.core.settings import get_settings
from attest.eval.beir import CHUNK_DEPTH, doc_ranking, index_corpus
from attest.eval.datasets import SQUAD_DEV, Qrels
from attest.eval.metrics import evaluate_run
from attest.ingest.entities import EntityTagger
from attest.retrieval.hybrid import HybridRetriever
from attest.text.embedder import Embedder

BOOSTS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


class PrecomputedQueries:
    """An ``Embedder`` that answers the benchmark's queries from vectors embedded once, in batches.

    Every boost value sees the same query vectors, so only the boost differs between runs.
    """

    def __init__(self, embedder: Embedder, texts: Sequence[str]) -> None:
        self.name = embedder.name
        self._inner = embedder
        unique = list(dict.fromkeys(texts))
        self._vectors = dict(zip(unique, embedder.embed(unique), strict=True))

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self._inner.embed(missing), strict=True))
        return np.stack([self._vectors[t] for t in texts])


def entity_stats(
    retriever: HybridRetriever,
    id_of: dict[str, str],
    entities: dict[str, list[str]],
    qrels: Qrels,
) -> dict[str, Any]:
    """What the boost has to work with: entities in queries and chunks, and how often they meet."""
    chunks = retriever.snapshot.chunks
    per_chunk = [len(c.entities) for c in chunks]
    named_by_doc: dict[str, set[str]] = {}
    labels: Counter[str] = Counter()
    for chunk in chunks:
        doc = id_of[Path(chunk.source_uri).stem]
        named_by_doc.setdefault(doc, set()).update(e.text.casefold() for e in chunk.entities)
        labels.update(e.label for e in chunk.entities)
    with_entities = [q for q, ents in entities.items() if ents]
    met = [
        q
        for q in with_entities
        if any({e.casefold() for e in entities[q]} & named_by_doc.get(d, set()) for d in qrels[q])
    ]
    return {
        "queries": len(entities),
        "queries_with_entities": len(with_entities),
        "queries_whose_relevant_doc_names_one": len(met),
        "entities_per_query_with_any": round(
            sum(len(entities[q]) for q in with_entities) / max(len(with_entities), 1), 2
        ),
        "chunks": len(chunks),
        "entities_per_chunk": round(sum(per_chunk) / max(len(chunks), 1), 2),
        "chunks_with_entities": sum(1 for n in per_chunk if n),
        "chunk_entity_labels": dict(labels.most_common()),
    }


def boosted_run(
    retriever: HybridRetriever, queries: dict[str, str], id_of: dict[str, str]
) -> dict[str, list]:
    """Document rankings per query through the retriever's own hybrid path."""
    run = {}
    for n, (qid, text) in enumerate(queries.items(), 1):
        run[qid] = doc_ranking([hit.chunk for hit in retriever.retrieve(text, CHUNK_DEPTH)], id_of)
        if n % 2000 == 0:
            print(f"boost {retriever.config.entity_boost}: {n}/{len(queries)} queries", file=sys.stderr)
    return run


def score(run: dict[str, list[str]], qrels: Qrels, entities: dict[str, list[str]]) -> dict[str, dict]:
    """Metrics per half, over all queries of the half and over those with entities only."""
    result = {}
    for half in ("tune", "test"):
        qids = [q for q in run if in_tuning_half(q) == (half == "tune")]
        with_entities = [q for q in qids if entities[q]]
        metrics = evaluate_run({q: run[q] for q in qids}, {q: qrels[q] for q in qids})
        row: dict[str, Any] = {k: round(v, 4) for k, v in metrics.items()}
        if with_entities:
            subset = evaluate_run({q: run[q] for q in with_entities}, {q: qrels[q] for q in with_entities})
            row["ndcg@10_with_entities"] = round(subset["ndcg@10"], 4)
        row["queries"], row["queries_with_entities"] = len(qids), len(with_entities)
        result[half] = row
    return result


def markdown(report: dict[str, Any]) -> str:
    stats = report["entities"]
    lines = [
        f"- Command: `{report['command']}`",
        f"- Tagger: `{report['tagger']}`; queries with at least one entity: "
        f"{stats['queries_with_entities']} of {stats['queries']} "
        f"({stats['queries_whose_relevant_doc_names_one']} of them with a relevant document naming one); "
        f"entities per chunk: {stats['entities_per_chunk']} "
        f"({stats['chunks_with_entities']} of {stats['chunks']} chunks have any).",
        f"- Best boost on the tuning half: {report['best_on_tune']}.",
        "",
        "| entity boost | half | nDCG@10 | Recall@10 | Recall@100 | MRR@10 | nDCG@10 (with entities) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in report["grid"]:
        for half, label in (("tune", "tuning"), ("test", "held-out")):
            m = row[half]
            subset = m.get("ndcg@10_with_entities")
            lines.append(
                f"| {row['entity_boost']} | {label} | {m['ndcg@10']:.4f} | {m['recall@10']:.4f} | "
                f"{m['recall@100']:.4f} | {m['mrr@10']:.4f} | {'-' if subset is None else f'{subset:.4f}'} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD_DEV)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--queries", type=Path)
    parser.add_argument("--qrels", type=Path)
    parser.add_argument("--boosts", type=float, nargs="+", default=list(BOOSTS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = get_settings()
    corpus, queries, qrels = load_data(args)
    queries = {q: t for q, t in queries.items() if q in qrels}
    tagger = EntityTagger(settings.spacy_pipeline)  # what IngestPipeline builds for a KB without terms
    print(f"tagging {len(queries)} queries", file=sys.stderr)
    entities = {qid: [e.text for e in tagger.tag(text)] for qid, text in queries.items()}
    by_text = {queries[q]: ents for q, ents in entities.items()}
    with tempfile.TemporaryDirectory(prefix="attest-boost-") as tmp:
        base, id_of = index_corpus(corpus, Path(tmp), settings)
        print(f"embedding {len(queries)} queries", file=sys.stderr)
        embedder = PrecomputedQueries(base.embedder, list(queries.values()))
        results = []
        for boost in args.boosts:
            config = dataclasses.replace(base.config, entity_boost=boost)
            retriever = HybridRetriever(
                base.snapshot, base.bm25, base.dense, embedder, config, query_entities=by_text.__getitem__
            )
            run = boosted_run(retriever, queries, id_of)
            results.append({"entity_boost": boost, **score(run, qrels, entities)})
    best = max(results, key=lambda r: (r["tune"]["ndcg@10"], -r["entity_boost"]))
    report = {
        "date": datetime.now(UTC).date().isoformat(),
        "command": " ".join(["python", *sys.argv]),
        "tagger": f"{settings.spacy_pipeline} ({'trained' if tagger.trained else 'blank + rules'})",
        "entities": entity_stats(base, id_of, entities, qrels),
        "best_on_tune": best["entity_boost"],
        "grid": results,
    }
    print(json.dumps(report) if args.json else markdown(report))
    print(
        f"best on tune: boost {best['entity_boost']}; test nDCG@10 {best['test']['ndcg@10']} "
        f"against {results[0]['test']['ndcg@10']} at boost {results[0]['entity_boost']}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
