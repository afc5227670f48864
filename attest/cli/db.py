"""``attest db``: schema migrations."""

from __future__ import annotations

import typer

app = typer.Typer(help="Database migrations.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database forward."""
    from attest.core import db

    db.upgrade(revision=revision)


@app.command("downgrade")
def db_downgrade(revision: str = "base") -> None:
    """Migrate the database back (default: remove every table)."""
    from attest.core import db

    db.downgrade(revision=revision)
