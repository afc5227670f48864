"""Ingest throughput of ``attest worker`` processes: one worker against two, on the same queue.

The 18F handbook's pages are dealt round-robin into ``--kbs`` knowledge bases (a job works
on one knowledge base at a time, so several are needed for two workers to share the work).
For each configuration, in a fresh data directory: the workers start and load their model,
then one ingest job per knowledge base is queued at once, and the clock runs until every
job has succeeded. Reported: documents, chunks, seconds, documents and chunks per second.

Configurations: ``1x1`` (one process, one thread), ``2x1`` (two processes), ``1x2`` (one
process, two threads sharing the model). With ``--backend milvus`` the workers share a
``milvus-lite server`` on a loopback port (embedded milvus-lite is one process at a time).

Usage:
    python bench/workers.py [--kbs 4] [--limit 120] [--configs 1x1 2x1 1x2] [--backend local|milvus] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from attest.core import db
from attest.core.models import Chunk, IngestJob, JobStatus
from attest.core.settings import Settings
from attest.eval.datasets import HANDBOOK_PAGES
from attest.ingest.pipeline import IngestPipeline


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deal(pages: list[Path], kbs: int, root: Path) -> list[Path]:
    """Copy ``pages`` round-robin into ``kbs`` folders; returns the folders."""
    folders = [root / f"kb{i}" for i in range(kbs)]
    for folder in folders:
        folder.mkdir(parents=True)
    for n, page in enumerate(pages):
        shutil.copy(page, folders[n % kbs] / f"{n:04d}-{page.name}")
    return folders


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError("milvus-lite server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("milvus-lite server did not listen") from None
            time.sleep(0.2)


def run(config: str, folders: list[Path], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    processes, threads = (int(x) for x in config.split("x"))
    data_dir = tmp / f"data-{config}"
    env = {
        **os.environ,
        "ATTEST_DATA_DIR": str(data_dir),
        "ATTEST_JOB_RUNNER": "worker",
        "ATTEST_INDEX_BACKEND": args.backend,
    }
    env.pop("DATABASE_URL", None)
    started: list[subprocess.Popen[bytes]] = []
    if args.backend == "milvus":
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp / f"milvus-{config}")]
            + ["--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(server)
        wait_listening(port, server)
        env["ATTEST_MILVUS_URI"] = f"http://127.0.0.1:{port}"
    settings = Settings(
        data_dir=data_dir, index_backend=args.backend, milvus_uri=env.get("ATTEST_MILVUS_URI", "")
    )
    data_dir.mkdir()
    db.upgrade(settings.sqlalchemy_url)
    engine = db.make_engine(settings.sqlalchemy_url)
    try:
        logs = [data_dir / f"worker{i}.log" for i in range(processes)]
        for log in logs:
            command = [
                sys.executable,
                "-m",
                "attest",
                "worker",
                "--concurrency",
                str(threads),
                "--poll",
                "0.2",
            ]
            started.append(
                subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
            )
        for log in logs:  # started and waiting for jobs
            while "looking for jobs" not in log.read_text():
                time.sleep(0.2)
        pipeline = IngestPipeline(settings, engine=engine)  # queues only: no model is loaded
        began = time.perf_counter()
        for n, folder in enumerate(folders):
            pipeline.start(f"kb{n}", [folder], queue=True)
        with Session(engine) as session:
            while True:
                statuses = list(session.scalars(select(IngestJob.status)))
                if all(s in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED) for s in statuses):
                    break
                time.sleep(0.2)
                session.expire_all()
            seconds = time.perf_counter() - began
            failed = [s for s in statuses if s is not JobStatus.SUCCEEDED]
            chunks = session.scalar(select(func.count(Chunk.id))) or 0
        if failed:
            raise RuntimeError(f"{config}: {len(failed)} job(s) did not succeed; see {data_dir}/worker*.log")
        documents = sum(len(list(f.iterdir())) for f in folders)
        return {
            "workers": processes,
            "threads_each": threads,
            "documents": documents,
            "chunks": chunks,
            "seconds": round(seconds, 1),
            "documents_per_s": round(documents / seconds, 2),
            "chunks_per_s": round(chunks / seconds, 1),
        }
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=120)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kbs", type=int, default=4)
    parser.add_argument("--limit", type=int, default=120, help="handbook pages ingested (of 250)")
    parser.add_argument("--configs", nargs="+", default=["1x1", "2x1", "1x2"])
    parser.add_argument("--backend", choices=["local", "milvus"], default="local")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pages = sorted(p for p in HANDBOOK_PAGES.rglob("*") if p.is_file() and p.suffix in (".md", ".html"))
    if not pages:
        print(f"skipped: no pages under {HANDBOOK_PAGES}", file=sys.stderr)
        return
    results: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "backend": args.backend,
        "cpus": os.cpu_count(),
        "configs": {},
    }
    with tempfile.TemporaryDirectory(prefix="attest-workers-") as tmp:
        folders = deal(pages[: args.limit], args.kbs, Path(tmp) / "pages")
        for config in args.configs:
            print(f"{config}: running", file=sys.stderr)
            results["configs"][config] = run(config, folders, args, Path(tmp))
            print(json.dumps(results["configs"][config]), file=sys.stderr)
    print(json.dumps(results, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
