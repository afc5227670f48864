"""``attest kb``: list, create and configure knowledge bases."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from attest.cli.common import fail, guard, ready

app = typer.Typer(help="Manage knowledge bases.", no_args_is_help=True)


@app.command("list")
def kb_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List knowledge bases with their document counts and active index version."""
    from attest.core.db import session_scope
    from attest.core.repository import kb_summaries

    ready()
    with session_scope() as session:
        items = [
            {"name": s.name, "documents": s.documents, "index_version": s.index_version}
            for s in kb_summaries(session)
        ]
    if as_json:
        print(json.dumps(items))
        return
    for item in items:
        typer.echo(f"{item['name']}\t{item['documents']} documents\tindex v{item['index_version']}")


@app.command("create")
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
    ready()
    with guard(ValueError, OSError), session_scope() as session:
        create_kb(
            session,
            name=name,
            description=description,
            entity_terms=entity_terms,
            verify_policy=verify_policy,
        )
    typer.echo(f"created knowledge base {name}", err=True)


@app.command("policy")
def kb_policy(
    name: str,
    policy: Annotated[str, typer.Argument(help="flag, strip, refuse, regenerate, or default.")],
) -> None:
    """Set how a knowledge base's answers treat unsupported claims ("default": the global setting)."""
    from attest.core.db import session_scope
    from attest.core.repository import set_verify_policy

    ready()
    with guard(), session_scope() as session:
        set_verify_policy(session, name=name, policy=None if policy == "default" else policy)
    typer.echo(f"knowledge base {name}: verification policy {policy}", err=True)


def _read_terms(path: Path) -> dict[str, list[str]]:
    with guard(OSError, json.JSONDecodeError, about=f"{path}: cannot read entity terms"):
        data = json.loads(path.read_text())
    valid = isinstance(data, dict) and all(
        isinstance(k, str)
        and re.fullmatch(r"[A-Za-z_]+", k)
        and isinstance(v, list)
        and all(isinstance(t, str) for t in v)
        for k, v in data.items()
    )
    if not valid:
        fail(f'{path}: expected an object of label -> list of terms, e.g. {{"PRODUCT": ["Harbor"]}}.')
    return data
