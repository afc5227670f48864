"""``attest ingest`` and ``attest ask``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from attest.cli.common import caller, guard, ready, split


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

    with guard(ValueError, OSError):
        pipeline = IngestPipeline(get_settings(), engine=ready(), progress=BarProgress(f"ingest {kb}"))
        summary = pipeline.run(kb, paths, sync=sync, acl=split(acl), tags=split(tags))
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
    from sqlalchemy.orm import Session

    from attest.answers import Answerer, record_ask
    from attest.core.db import write_gate
    from attest.core.settings import get_settings

    allowed = split(groups)
    settings = get_settings()
    with guard(OSError):
        engine = ready()
        answerer = Answerer(engine, settings)
        began = time.perf_counter()
        answer = answerer.ask(kb, question, groups=None if allowed is None else frozenset(allowed))
        latency_ms = round((time.perf_counter() - began) * 1000, 1)
        with write_gate(engine), Session(engine) as session:
            record_ask(
                session, answer, actor=caller(), kb=kb, latency_ms=latency_ms, mask=settings.audit_mask_pii
            )
            session.commit()
    if as_json:
        print(json.dumps(answer.to_public()))
        return
    typer.echo(answer.text)
    if answer.reason:
        typer.echo(f"({answer.reason})", err=True)
    verdict, gate = answer.verdict, answer.gate
    if verdict is not None and gate is not None:
        note = f"; {gate.note}" if gate.note else ""
        label = "Verified"
        if verdict.answers_question is False:  # faithful or not, it is no answer: "Verified" would mislead
            typer.echo(f"\nDoes not answer the question (reader score {verdict.relevance or 0.0:.2f}).")
            label = "Checked"
        else:
            typer.echo("")
        typer.echo(
            f"{label}: {verdict.supported} of {len(verdict.claims)} statements supported "
            f"(score {verdict.score:.2f}, policy {gate.policy.value}{note})"
        )
    typer.echo("\nSources:" if answer.answered else "\nClosest documents:")
    for source in answer.sources:
        number = f"[{source.passage.number}] " if source.passage else "- "
        page = f", page {source.passage.page}" if source.passage and source.passage.page else ""
        typer.echo(f"  {number}{source.title} ({Path(source.source_uri).name}{page})")
