"""``attest audit``: check the audit log's hash chain."""

from __future__ import annotations

from typing import Annotated

import typer

from attest.cli.common import fail, ready

app = typer.Typer(help="The audit log.", no_args_is_help=True)


@app.command("verify")
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

    ready()
    settings = get_settings()
    with session_scope() as session:
        report = audit.verify(session, settings=settings)
    if not report.ok:
        for problem in report.problems:
            typer.secho(problem, fg=typer.colors.RED, err=True)
        fail(f"audit log tampered with: {len(report.problems)} problem(s) in {report.records} records")
    published = ""
    if checkpoint and report.records:
        try:
            audit_checkpoints.publish(
                settings, seq=report.records, hash=report.head, key=audit.audit_key(settings)
            )
        except OSError as exc:  # the log itself is intact: say so, and why it is not published
            fail(f"audit log intact, but the checkpoint could not be written: {exc}")
        published = f"; checkpoint of record {report.records} published"
    typer.echo(
        f"audit log intact: {report.records} records, {report.checkpoints} checkpoint(s) in "
        f"{audit_checkpoints.path(settings)} match{published}"
    )
