"""``attest eval``: retrieval, answer and factuality quality on public data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from attest.cli.common import fail, guard, progress

app = typer.Typer(
    help="Measure retrieval, answer and factuality quality on public data.", no_args_is_help=True
)


@app.command("qa")
def eval_qa(
    squad: Annotated[Path, typer.Option("--squad", help="SQuAD 2.0 JSON file.")],
    limit: Annotated[
        int | None, typer.Option(help="Questions in the fixed sample (default: all).", min=1)
    ] = None,
    oracle_context: Annotated[
        bool, typer.Option("--oracle-context", help="Answer from the gold paragraph instead of retrieval.")
    ] = False,
    articles: Annotated[
        str,
        typer.Option(
            help="Ask the questions of 'all' articles, or only the 'even' (tuning) or 'odd' (held-out) ones; "
            "every paragraph is indexed either way."
        ),
    ] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Exact match, F1, contains-gold, declined share, citation precision and latency per stage."""
    from attest.core.settings import get_settings
    from attest.eval.squad import evaluate_squad

    if articles not in ("all", "even", "odd"):
        fail(f"--articles is {articles!r}; choose all, even or odd")
    with guard(OSError, ValueError, KeyError, about=squad):
        result = evaluate_squad(squad, get_settings(), limit=limit, oracle=oracle_context, articles=articles)
    if as_json:
        print(json.dumps(result))
        return
    a, u = result["answerable"], result["unanswerable"]
    typer.echo(
        f"{result['backend']}: answerable n={a['n']} EM {a['exact_match']:.3f} F1 {a['f1']:.3f} "
        f"contains gold {a['contains_gold']:.3f}; unanswerable n={u['n']} declined {u['declined']:.3f}; "
        f"citation precision {result['citation_precision']:.3f}"
    )


@app.command("factuality")
def eval_factuality(
    data: Annotated[
        Path, typer.Option("--data", help="Factuality JSONL (context, question, response, supported).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    half: Annotated[
        str,
        typer.Option(
            "--half",
            help="Check 'all' items, or only the 'even' (calibration) or 'odd' (held-out) questions' ones.",
        ),
    ] = "all",
) -> None:
    """ROC AUC, PR AUC, balanced accuracy, F1 and latency of the factuality checker."""
    from attest.core.settings import get_settings
    from attest.eval.datasets import HALVES, read_items
    from attest.eval.datasets import half as half_of
    from attest.eval.factuality import evaluate_factuality
    from attest.ingest.entities import EntityTagger
    from attest.text.embedder import QuestionTimeEmbedder, SentenceTransformerEmbedder
    from attest.verify.checker import FactChecker

    if half not in HALVES:
        fail(f"--half is {half!r}; choose all, even or odd")
    with guard(OSError, ValueError, about=data):
        items = [item for item in read_items(data) if half in ("all", half_of(item))]
        settings = get_settings()
        tagger = EntityTagger(settings.spacy_pipeline)
        embedder = SentenceTransformerEmbedder(settings.embedding_model)
        checker = FactChecker(
            QuestionTimeEmbedder(embedder, settings.model_precision), entities=tagger.labelled
        )  # as the service checks
        result = evaluate_factuality(items, checker, progress("items"))
    if as_json:
        print(json.dumps(result))
        return
    lat = result["latency_ms"]
    typer.echo(
        f"n={result['n']} ROC AUC {result['roc_auc']:.4f}  PR AUC {result['pr_auc']:.4f}  "
        f"balanced accuracy {result['balanced_accuracy']:.4f}  F1 {result['f1']:.4f}  "
        f"latency p50/p95/p99 {lat['p50']}/{lat['p95']}/{lat['p99']} ms"
    )


@app.command("retrieval")
def eval_retrieval(
    corpus: Annotated[Path, typer.Option(help="BEIR corpus.jsonl")],
    queries: Annotated[Path, typer.Option(help="BEIR queries.jsonl")],
    qrels: Annotated[Path, typer.Option(help="BEIR qrels TSV (query-id, corpus-id, score)")],
    mode: Annotated[str, typer.Option(help="bm25, dense, hybrid or all")] = "all",
    backend: Annotated[
        str | None,
        typer.Option(
            help="local, milvus or all (each in turn, side by side: the JSON is keyed by backend, "
            "then mode); default: ATTEST_INDEX_BACKEND, keyed by mode"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """nDCG@10, Recall@10/100, MRR@10 and query latency per retrieval mode."""
    from attest.core.settings import get_settings
    from attest.eval.beir import evaluate_backends, parse_backends, parse_modes
    from attest.eval.datasets import read_corpus, read_qrels, read_queries

    with guard():
        settings = get_settings()
        modes, backends = parse_modes(mode), parse_backends(backend, settings)
        by_backend = evaluate_backends(
            read_corpus(corpus), read_queries(queries), read_qrels(qrels), modes, settings, backends
        )
    results: dict[str, Any] = by_backend if backend is not None else by_backend[settings.index_backend.value]
    if as_json:
        print(json.dumps(results))
        return
    for label, per_mode in by_backend.items():
        if backend is not None:
            typer.echo(f"{label}:")
        _print_retrieval(per_mode)


def _print_retrieval(results: dict[str, Any]) -> None:
    for name, m in results.items():
        lat = m["latency_ms"]
        typer.echo(
            f"{name:7s} nDCG@10 {m['ndcg@10']:.4f}  R@10 {m['recall@10']:.4f}  R@100 {m['recall@100']:.4f}  "
            f"MRR@10 {m['mrr@10']:.4f}  latency p50/p95/p99 {lat['p50']}/{lat['p95']}/{lat['p99']} ms"
        )
