"""What the commands share: the error guard, the database, the caller's name, list options."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

from attest.core.errors import AttestError


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and end the command with exit code ``code``."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    # SystemExit rather than typer.Exit: the guard also wraps the whole app in ``main``,
    # outside Click, where only SystemExit ends the process with the code.
    raise SystemExit(code)


@contextmanager
def guard(*also: type[Exception], about: object = None) -> Iterator[None]:
    """Turn an :class:`AttestError` (and any of the exception types ``also``) raised inside the
    block into a one-line message and exit code 1 instead of a traceback; ``about`` (a file, say)
    prefixes the message."""
    caught: tuple[type[Exception], ...] = (AttestError, *also)
    try:
        yield
    except caught as exc:
        fail(str(exc) if about is None else f"{about}: {exc}")


def ready() -> Any:
    """Migrate the database to the current schema and return the engine."""
    from attest.core import db

    db.upgrade()
    return db.get_engine()


def caller() -> str:
    """How the audit log names whoever runs this command: ``cli:`` and the operating-system
    user, as the API names its callers ``user:`` or ``apikey:`` and their name."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name and no password entry (some containers)
        return f"cli:uid-{os.getuid()}"


def split(value: str | None) -> list[str] | None:
    """A comma-separated option as a list (``None`` when the option was not given)."""
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def progress(unit: str) -> Callable[[int, int], None]:
    """Prints ``done/total unit`` on stderr every 100 items and at the end."""

    def report(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            typer.echo(f"{done}/{total} {unit}", err=True)

    return report
