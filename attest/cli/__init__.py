"""The ``attest`` command line: the Typer app, its command groups, and :func:`main`.

One module per group of commands; :func:`attest.cli.common.guard` turns Attest's errors into
one-line messages and exit code 1 in every one of them.
"""

from __future__ import annotations

import os

import typer

from attest.cli import accounts, ask, audit, db, eval, kb, models, serve, worker
from attest.cli.common import guard

app = typer.Typer(help="Attest: answers from your documents, with citations.", no_args_is_help=True)
app.command()(ask.ingest)
app.command()(ask.ask)
app.command()(serve.demo)
app.command()(serve.serve)
app.command()(serve.ui)
app.command()(worker.worker)
app.add_typer(kb.app, name="kb")
app.add_typer(db.app, name="db")
app.add_typer(eval.app, name="eval")
app.add_typer(accounts.users_app, name="users")
app.add_typer(accounts.keys_app, name="apikeys")
app.add_typer(audit.app, name="audit")
app.add_typer(models.app, name="models")


def main() -> None:
    """The ``attest`` console script (and ``python -m attest``)."""
    # Every file Attest writes (database, index versions, uploads, secrets) holds restricted
    # text or keys: readable by the owner only (0600 files, 0700 folders), in this process
    # and in the server workers and job threads it starts.
    os.umask(0o077)
    with guard():  # what a command raises outside its own guard: migrating, settings
        app()
