"""``attest worker``: run the ingest and re-index jobs the API queues."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from typing import Annotated

import typer

from attest.cli.common import guard, ready


def worker(
    concurrency: Annotated[
        int, typer.Option(min=1, help="Jobs run at once (threads sharing one embedding model).")
    ] = 1,
    poll: Annotated[float, typer.Option(min=0.1, help="Seconds between looks at an empty queue.")] = 2.0,
    once: Annotated[
        bool, typer.Option("--once", help="Run what is queued, then exit (cron, tests).")
    ] = False,
    grace: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds the running jobs get to finish after SIGTERM or Ctrl-C (a second one "
            "stops at once); a job left unfinished is queued again for the next worker.",
        ),
    ] = 60.0,
) -> None:
    """Run the ingest and re-index jobs queued by the API (ATTEST_JOB_RUNNER=worker)."""
    from attest.core.enums import JobRunnerName
    from attest.core.settings import get_settings
    from attest.ingest.worker import Worker

    _log_to_stderr()
    settings = get_settings()
    with guard(ValueError):
        engine = ready()
        runner = Worker(settings, engine, concurrency=concurrency, poll_s=poll, once=once)
    log = logging.getLogger("attest.ingest.worker")
    if settings.job_runner is not JobRunnerName.WORKER:
        log.warning(
            "ATTEST_JOB_RUNNER is %s: the API runs its jobs itself and queues none", settings.job_runner
        )

    def on_signal(signum: int, _frame: object) -> None:
        if runner.stopping:
            runner.abandon()
        else:
            runner.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "worker %s:%s: %d thread(s), %s", socket.gethostname(), os.getpid(), concurrency,
        "until the queue is empty" if once else f"looking for jobs every {poll:g} s",
    )  # fmt: skip
    if not runner.run(grace_s=grace):
        typer.secho("error: stopped with jobs unfinished; the next worker queues them again", err=True)
        sys.stderr.flush()
        # Their threads are still inside torch or the database, and finalizing the interpreter
        # under them aborts the process (SIGABRT): leave at once instead.
        os._exit(1)


def _log_to_stderr() -> None:
    """What the worker claims and how each job ends, on stderr (Attest's own loggers only)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("attest")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
