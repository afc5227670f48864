"""The ``attest`` command line."""

from __future__ import annotations

import getpass
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from attest.core.errors import AttestError

app = typer.Typer(help="Attest: answers from your documents, with citations.", no_args_is_help=True)
kb_app = typer.Typer(help="Manage knowledge bases.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
eval_app = typer.Typer(
    help="Measure retrieval, answer and factuality quality on public data.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(eval_app, name="eval")
users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys for integrations.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="apikeys")
app.add_typer(audit_app, name="audit")

DEMO_KB = "demo"
DEMO_QUESTION = "How many days of annual leave do full-time employees get?"


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _ready() -> Any:
    """Migrate the database to the current schema and return the engine."""
    from attest.core import db

    db.upgrade()
    return db.get_engine()


def _caller() -> str:
    """How the audit log names whoever runs this command: ``cli:`` and the operating-system
    user, as the API names its callers ``user:`` or ``apikey:`` and their name."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name and no password entry (some containers)
        return f"cli:uid-{os.getuid()}"


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base (created if missing).")],
    sync: Annotated[bool, typer.Option("--sync", help="Remove documents whose files are gone.")] = False,
    acl: Annotated[str | None, typer.Option("--acl", help="Groups that may read these documents.")] = None,
    tags: Annotated[str | None, typer.Option("--tags", help="Tags for these documents.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout.")] = False,
) -> None:
    """Ingest files or folders into a knowledge base and activate a new index version."""
    from attest.core.settings import get_settings
    from attest.ingest.pipeline import IngestPipeline
    from attest.ingest.progress import BarProgress

    try:
        pipeline = IngestPipeline(get_settings(), engine=_ready(), progress=BarProgress(f"ingest {kb}"))
        summary = pipeline.run(kb, paths, sync=sync, acl=_split(acl), tags=_split(tags))
    except (AttestError, ValueError, OSError) as exc:
        _fail(str(exc))
        return
    if as_json:
        print(json.dumps(summary.to_dict()))
        return
    typer.echo(
        f"{summary.knowledge_base}: {summary.documents_added} added, {summary.documents_updated} updated, "
        f"{summary.documents_unchanged} unchanged ({summary.documents_retagged} re-tagged), "
        f"{summary.documents_deleted} deleted, "
        f"{summary.documents_failed} failed; {summary.chunks} chunks, "
        f"{summary.embeddings_computed} embeddings "
        f"in {summary.seconds:.1f} s; index version {summary.index_version}",
        err=True,
    )
    for item in summary.errors:
        typer.secho(f"  failed: {item['error']}", fg=typer.colors.YELLOW, err=True)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base to ask.")],
    groups: Annotated[
        str | None, typer.Option("--groups", help="Answer only from what these groups may read.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Answer a question from a knowledge base, with citations and sources; the question is
    recorded in the audit log like one asked through the API."""
    from attest.answers import Answerer, audit_details
    from attest.core import audit
    from attest.core.settings import get_settings

    allowed = _split(groups)
    settings = get_settings()
    try:
        engine = _ready()
        answerer = Answerer(engine, settings)
        began = time.perf_counter()
        answer = answerer.ask(kb, question, groups=None if allowed is None else frozenset(allowed))
        latency_ms = round((time.perf_counter() - began) * 1000, 1)
        audit.write(
            engine,
            actor=_caller(),
            action="ask",
            kb=kb,
            status=200,
            details=audit_details(answer, latency_ms=latency_ms),
            mask=settings.audit_mask_pii,
        )
    except (AttestError, ValueError, OSError) as exc:
        _fail(str(exc))
        return
    if as_json:
        print(json.dumps(answer.to_dict()))
        return
    typer.echo(answer.text)
    if answer.reason:
        typer.echo(f"({answer.reason})", err=True)
    if answer.verdict is not None and answer.gate is not None:
        v = answer.verdict
        note = f"; {answer.gate['note']}" if answer.gate["note"] else ""
        label = "Verified"
        if v.get("answers_question") is False:  # faithful or not, it is no answer: "Verified" would mislead
            typer.echo(f"\nDoes not answer the question (reader score {v['relevance']:.2f}).")
            label = "Checked"
        else:
            typer.echo("")
        typer.echo(
            f"{label}: {v['supported']} of {v['supported'] + v['unsupported']} statements supported "
            f"(score {v['score']:.2f}, policy {answer.gate['policy']}{note})"
        )
    typer.echo("\nSources:" if answer.answered else "\nClosest documents:")
    for source in answer.sources:
        number = f"[{source['number']}] " if "number" in source else "- "
        page = f", page {source['page']}" if source.get("page") else ""
        typer.echo(f"  {number}{source['title']} ({Path(source['source_uri']).name}{page})")


@app.command()
def demo(
    serve_api: Annotated[
        bool, typer.Option("--serve", help="Then start the REST API and the web UI.")
    ] = False,
    port: Annotated[int, typer.Option(help="API port for --serve.")] = 8000,
) -> None:
    """Ingest the bundled demo knowledge base, create the first admin, answer a sample question."""
    demo_dir = Path(__file__).resolve().parent / "demo_kb"
    typer.echo(f"Ingesting the demo knowledge base from {demo_dir} ...", err=True)
    ingest([demo_dir], kb=DEMO_KB, sync=True)
    sign_in = _bootstrap_admin()
    typer.echo(f"\nQ: {DEMO_QUESTION}\n")
    ask(DEMO_QUESTION, kb=DEMO_KB)
    typer.echo(f'\nAsk your own: .venv/bin/attest ask --kb {DEMO_KB} "your question"', err=True)
    if serve_api:
        from attest.core.settings import get_settings

        ui_port = get_settings().ui_port
        api_url = f"http://127.0.0.1:{port}"
        ui_process = subprocess.Popen(_streamlit_command("127.0.0.1", ui_port, api_url), env=_ui_env(api_url))
        typer.secho(
            f"\nAttest is starting. Open http://127.0.0.1:{ui_port} and sign in as {sign_in}.\n",
            fg=typer.colors.GREEN,
            bold=True,
            err=True,
        )
        try:
            serve(host="127.0.0.1", port=port, workers=1)
        finally:
            ui_process.terminate()
            ui_process.wait(timeout=30)


def _bootstrap_admin() -> str:
    """Create the first admin when there is none: ATTEST_ADMIN_PASSWORD, or a password printed once.
    Returns how to sign in as that admin, in words."""
    from attest.core import audit
    from attest.core.accounts import admin_exists, create_user
    from attest.core.db import session_scope
    from attest.core.settings import get_settings

    given = get_settings().admin_password.get_secret_value() or None
    with session_scope() as session:
        if admin_exists(session):
            where = "ATTEST_ADMIN_PASSWORD" if given else "the password printed when it was created"
            return f"admin ({where})"
        user, generated = create_user(session, username="admin", role="admin", password=given)
        audit.append(
            session, actor=_caller(), action="user.create", details={"username": "admin", "role": "admin"}
        )
    shown = (
        f"password {generated} (shown once; change it)"
        if generated
        else "password from ATTEST_ADMIN_PASSWORD"
    )
    typer.secho(f"Created the first admin: username admin, {shown}", fg=typer.colors.GREEN, err=True)
    return f"admin with the password {generated}" if generated else "admin (password: ATTEST_ADMIN_PASSWORD)"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
) -> None:
    """Run the REST API (OpenAPI at /api/v1/openapi.json)."""
    import uvicorn

    from attest.core.settings import get_settings

    _ready()
    typer.echo(f"Attest API on http://{host}:{port}/api/v1 (health: /healthz)", err=True)
    uvicorn.run(
        "attest.api.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        **proxy_options(get_settings().trusted_proxies),
    )


def proxy_options(trusted_proxies: str) -> dict[str, Any]:
    """uvicorn's options for X-Forwarded-For/-Proto: honoured only from the configured proxies.

    uvicorn's own default trusts them from 127.0.0.1, which let any local client (or a
    process behind a local proxy that passes the header on) pick the address that rate
    limits and the audit log see.
    """
    proxies = [p.strip() for p in trusted_proxies.split(",") if p.strip()]
    if not proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(proxies)}


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: ATTEST_UI_PORT, 8501).")] = None,
    api_url: Annotated[
        str | None, typer.Option("--api-url", help="The REST API (default: ATTEST_API_URL).")
    ] = None,
) -> None:
    """Run the web UI (Streamlit), a client of the REST API."""
    from attest.core.settings import get_settings

    settings = get_settings()
    url = api_url or settings.api_url
    typer.echo(f"Attest UI on http://{host}:{port or settings.ui_port} (API: {url})", err=True)
    command = _streamlit_command(host, port or settings.ui_port, url)
    sys.stderr.flush()
    # Streamlit takes this process's place, so a stop signal reaches it: as a child it
    # outlived an `attest ui` that was terminated, still serving on the port.
    os.execve(command[0], command, _ui_env(url))


# Streamlit options `attest ui` pins on the command line, which wins over any config.toml and
# STREAMLIT_* variable (guides often tell people to turn the first two off behind a proxy).
# XSRF tokens guard uploads, CORS keeps other sites' pages from calling the server, the
# browser is shown no tracebacks (server paths, code), nothing is served but the app, no
# usage statistics are sent (no network at run time). Streamlit cannot add response headers
# (anti-framing, CSP) or time out clients that never finish their headers:
# docs/deployment.md puts a reverse proxy in front for those.
UI_OPTIONS: dict[str, str] = {
    "server.headless": "true",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "server.enableXsrfProtection": "true",
    "server.enableCORS": "true",
    "server.enableStaticServing": "false",
    "server.enableWebsocketCompression": "false",
    "browser.gatherUsageStats": "false",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "theme.base": "light",
    "theme.primaryColor": "#1d4ed8",
}
# Options of newer Streamlit releases than the oldest one Attest supports, set through the
# environment (where an unknown option is ignored, while an unknown flag is an error): the
# agent API would let a client drive the UI without a browser.
UI_ENV_OPTIONS: dict[str, str] = {"STREAMLIT_SERVER_ENABLE_AGENT_API": "false"}


def _ui_env(api_url: str) -> dict[str, str]:
    return {**os.environ, **UI_ENV_OPTIONS, "ATTEST_API_URL": api_url}


def _streamlit_command(host: str, port: int, api_url: str) -> list[str]:
    """Streamlit on the UI script with :data:`UI_OPTIONS`, on ``host:port``."""
    script = Path(__file__).resolve().parent / "ui" / "app.py"
    options = {"server.address": host, "server.port": str(port), **UI_OPTIONS}
    flags = [part for name, value in options.items() for part in (f"--{name}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(script), *flags]


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option("--username", help="Sign-in name.")],
    role: Annotated[str, typer.Option("--role", help="admin, editor or viewer.")],
    groups: Annotated[str | None, typer.Option("--groups", help="Comma-separated groups.")] = None,
    password: Annotated[
        str | None,
        typer.Option("--password", help="At least 8 characters; generated and printed when omitted."),
    ] = None,
) -> None:
    """Create a user account."""
    from attest.core import audit
    from attest.core.accounts import create_user
    from attest.core.db import session_scope

    _ready()
    try:
        with session_scope() as session:
            user, generated = create_user(
                session, username=username, role=role, groups=_split(groups) or [], password=password
            )
            audit.append(
                session, actor=_caller(), action="user.create", details={"username": username, "role": role}
            )
    except (AttestError, ValueError) as exc:
        _fail(str(exc))
        return
    typer.echo(f"created user {user.username} ({role})", err=True)
    if generated:
        typer.echo(f"password: {generated}  (shown once)")


@keys_app.command("create")
def apikeys_create(
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    role: Annotated[str, typer.Option("--role", help="admin, editor or viewer.")] = "viewer",
    kbs: Annotated[
        str | None, typer.Option("--kbs", help="Comma-separated knowledge bases it may use.")
    ] = None,
    groups: Annotated[str | None, typer.Option("--groups", help="Groups it reads documents as.")] = None,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from attest.core import audit
    from attest.core.accounts import create_api_key
    from attest.core.db import session_scope

    _ready()
    try:
        with session_scope() as session:
            key, secret = create_api_key(
                session,
                name=name,
                role=role,
                kb_names=_split(kbs) or [],
                groups=_split(groups) or [],
                created_by="cli",
            )
            audit.append(
                session, actor=_caller(), action="apikey.create", details={"name": name, "role": role}
            )
    except (AttestError, ValueError) as exc:
        _fail(str(exc))
        return
    typer.echo(f"created API key {key.name} (id {key.id}, {role})", err=True)
    typer.echo(secret)


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        bool,
        typer.Option(
            "--checkpoint/--no-checkpoint", help="Publish the verified head as a checkpoint (default: yes)."
        ),
    ] = True,
) -> None:
    """Check the audit log's keyed hash chain against its published checkpoints; exits 1 naming
    every changed, deleted or reordered record and every record cut from the end."""
    from attest.core import audit, audit_checkpoints
    from attest.core.db import session_scope
    from attest.core.settings import get_settings

    _ready()
    settings = get_settings()
    with session_scope() as session:
        report = audit.verify(session, settings=settings)
    if not report.ok:
        for problem in report.problems:
            typer.secho(problem, fg=typer.colors.RED, err=True)
        _fail(f"audit log tampered with: {len(report.problems)} problem(s) in {report.records} records")
        return
    published = ""
    if checkpoint and report.records:
        try:
            audit_checkpoints.publish(
                settings, seq=report.records, hash=report.head, key=audit.audit_key(settings)
            )
            published = f"; checkpoint of record {report.records} published"
        except OSError as exc:
            _fail(f"audit log intact, but the checkpoint could not be written: {exc}")
    typer.echo(
        f"audit log intact: {report.records} records, {report.checkpoints} checkpoint(s) in "
        f"{audit_checkpoints.path(settings)} match{published}"
    )


@eval_app.command("qa")
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
        _fail(f"--articles is {articles!r}; choose all, even or odd")
        return
    try:
        result = evaluate_squad(squad, get_settings(), limit=limit, oracle=oracle_context, articles=articles)
    except (AttestError, OSError, ValueError, KeyError) as exc:
        _fail(f"{squad}: {exc}")
        return
    if as_json:
        print(json.dumps(result))
        return
    a, u = result["answerable"], result["unanswerable"]
    typer.echo(
        f"{result['backend']}: answerable n={a['n']} EM {a['exact_match']:.3f} F1 {a['f1']:.3f} "
        f"contains gold {a['contains_gold']:.3f}; unanswerable n={u['n']} declined {u['declined']:.3f}; "
        f"citation precision {result['citation_precision']:.3f}"
    )


@eval_app.command("factuality")
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
    from attest.text.embedder import SentenceTransformerEmbedder
    from attest.verify.checker import FactChecker

    if half not in HALVES:
        _fail(f"--half is {half!r}; choose all, even or odd")
    try:
        items = [item for item in read_items(data) if half in ("all", half_of(item))]
        settings = get_settings()
        tagger = EntityTagger(settings.spacy_pipeline)
        checker = FactChecker(SentenceTransformerEmbedder(settings.embedding_model), entities=tagger.labelled)
        result = evaluate_factuality(items, checker, _progress("items"))
    except (AttestError, OSError, ValueError) as exc:
        _fail(f"{data}: {exc}")
        return
    if as_json:
        print(json.dumps(result))
        return
    lat = result["latency_ms"]
    typer.echo(
        f"n={result['n']} ROC AUC {result['roc_auc']:.4f}  PR AUC {result['pr_auc']:.4f}  "
        f"balanced accuracy {result['balanced_accuracy']:.4f}  F1 {result['f1']:.4f}  "
        f"latency p50/p95/p99 {lat['p50']}/{lat['p95']}/{lat['p99']} ms"
    )


def _progress(unit: str) -> Any:
    """Prints ``done/total unit`` on stderr every 100 items and at the end."""

    def report(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            typer.echo(f"{done}/{total} {unit}", err=True)

    return report


@eval_app.command("retrieval")
def eval_retrieval(
    corpus: Annotated[Path, typer.Option(help="BEIR corpus.jsonl")],
    queries: Annotated[Path, typer.Option(help="BEIR queries.jsonl")],
    qrels: Annotated[Path, typer.Option(help="BEIR qrels TSV (query-id, corpus-id, score)")],
    mode: Annotated[str, typer.Option(help="bm25, dense, hybrid or all")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """nDCG@10, Recall@10/100, MRR@10 and query latency per retrieval mode."""
    from attest.core.settings import get_settings
    from attest.eval.beir import evaluate_beir, parse_modes
    from attest.eval.datasets import read_corpus, read_qrels, read_queries

    try:
        modes = parse_modes(mode)
        results = evaluate_beir(
            read_corpus(corpus), read_queries(queries), read_qrels(qrels), modes, get_settings()
        )
    except AttestError as exc:
        _fail(str(exc))
        return
    if as_json:
        print(json.dumps(results))
        return
    for name, m in results.items():
        lat = m["latency_ms"]
        typer.echo(
            f"{name:7s} nDCG@10 {m['ndcg@10']:.4f}  R@10 {m['recall@10']:.4f}  R@100 {m['recall@100']:.4f}  "
            f"MRR@10 {m['mrr@10']:.4f}  latency p50/p95/p99 {lat['p50']}/{lat['p95']}/{lat['p99']} ms"
        )


@kb_app.command("list")
def kb_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List knowledge bases with their document counts and active index version."""
    from sqlalchemy import func, select

    from attest.core.db import session_scope
    from attest.core.models import Document, IndexVersion, KnowledgeBase

    _ready()
    with session_scope() as session:
        rows = session.execute(
            select(KnowledgeBase.name, func.count(Document.id), IndexVersion.version)
            .outerjoin(Document, Document.kb_id == KnowledgeBase.id)
            .outerjoin(IndexVersion, IndexVersion.id == KnowledgeBase.active_index_id)
            .group_by(KnowledgeBase.id, IndexVersion.version)
            .order_by(KnowledgeBase.name)
        ).all()
    items = [{"name": n, "documents": c, "index_version": v} for n, c, v in rows]
    if as_json:
        print(json.dumps(items))
        return
    for item in items:
        typer.echo(f"{item['name']}\t{item['documents']} documents\tindex v{item['index_version']}")


@kb_app.command("create")
def kb_create(
    name: str,
    description: Annotated[str, typer.Option(help="What the knowledge base holds.")] = "",
    terms: Annotated[
        Path | None, typer.Option(help='JSON file of entity terms: {"PRODUCT": ["Harbor"], "TEAM": [...]}.')
    ] = None,
    verify_policy: Annotated[
        str | None, typer.Option(help="flag, strip, refuse or regenerate (default: ATTEST_VERIFY_POLICY).")
    ] = None,
) -> None:
    """Create a knowledge base, optionally with its own entity terms (products, teams, systems)."""
    from attest.core.db import session_scope
    from attest.core.repository import create_kb

    entity_terms = _read_terms(terms) if terms else None
    _ready()
    try:
        with session_scope() as session:
            create_kb(
                session,
                name=name,
                description=description,
                entity_terms=entity_terms,
                verify_policy=verify_policy,
            )
    except (AttestError, ValueError, OSError) as exc:
        _fail(str(exc))
    typer.echo(f"created knowledge base {name}", err=True)


@kb_app.command("policy")
def kb_policy(
    name: str,
    policy: Annotated[str, typer.Argument(help="flag, strip, refuse, regenerate, or default.")],
) -> None:
    """Set how a knowledge base's answers treat unsupported claims ("default": the global setting)."""
    from attest.core.db import session_scope
    from attest.core.repository import set_verify_policy

    _ready()
    try:
        with session_scope() as session:
            set_verify_policy(session, name=name, policy=None if policy == "default" else policy)
    except AttestError as exc:
        _fail(str(exc))
    typer.echo(f"knowledge base {name}: verification policy {policy}", err=True)


def _read_terms(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        _fail(f"{path}: cannot read entity terms: {exc}")
    valid = isinstance(data, dict) and all(
        isinstance(k, str)
        and re.fullmatch(r"[A-Za-z_]+", k)
        and isinstance(v, list)
        and all(isinstance(t, str) for t in v)
        for k, v in data.items()
    )
    if not valid:
        _fail(f'{path}: expected an object of label -> list of terms, e.g. {{"PRODUCT": ["Harbor"]}}.')
    return data


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database forward."""
    from attest.core import db

    db.upgrade(revision=revision)


@db_app.command("downgrade")
def db_downgrade(revision: str = "base") -> None:
    """Migrate the database back (default: remove every table)."""
    from attest.core import db

    db.downgrade(revision=revision)


def main() -> None:
    # Every file Attest writes (database, index versions, uploads, secrets) holds restricted
    # text or keys: readable by the owner only (0600 files, 0700 folders), in this process
    # and in the server workers and job threads it starts.
    os.umask(0o077)
    try:
        app()
    except AttestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
