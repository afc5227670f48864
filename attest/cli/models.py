"""``attest models``: the named local models, whether each is installed and verified, and
serving one over HTTP (the compose stack's ``llm`` service)."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from attest.cli.common import fail, guard

app = typer.Typer(help="The named local models (GGUF files from PyPI packages).", no_args_is_help=True)


@app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Each named model: installed, verified (its SHA-256 checked now), size and file path."""
    from attest.generation.models import MODELS, status

    with guard():
        rows = [status(model) for model in MODELS.values()]
    if as_json:
        print(json.dumps({"models": [row.to_dict() for row in rows]}))
        return
    for row, model in zip(rows, MODELS.values(), strict=True):
        state = "verified" if row.verified else "NOT VERIFIED" if row.installed else "not installed"
        typer.echo(f"{row.name:<30} {row.bytes / 1e6:>7.0f} MB  {state:<13} {model.title}")
        if not row.installed:
            typer.echo(f"{'':<30} install: {model.install}")
        else:
            typer.echo(f"{'':<30} {row.path}")


@app.command("serve")
def serve_model(
    model: Annotated[str, typer.Argument(help="A named model (see attest models list) or a GGUF path.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8080,
    alias: Annotated[str, typer.Option(help="The model name clients ask for.")] = "local",
    context_tokens: Annotated[int, typer.Option(help="Context window, in tokens.", min=256)] = 4096,
) -> None:
    """Serve a model over the OpenAI-compatible HTTP API of llama.cpp's server, after checking
    its file; chat requests use the model's own chat template."""
    from attest.generation.models import resolve

    with guard():
        path = resolve(model)
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--model_alias", alias,
        "--host", host, "--port", str(port), "--n_ctx", str(context_tokens),
    ]  # fmt: skip
    try:
        os.execv(sys.executable, command)  # the server replaces this process
    except OSError as exc:
        fail(f"cannot start llama.cpp's server: {exc}")
