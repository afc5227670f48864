"""Load on a live API server: concurrent clients asking questions, optionally through a re-index.

Ingests the demo knowledge base into a temporary data directory, starts ``attest serve``
on loopback (extractive generator, so that the service is measured rather than an LLM;
no rate limit and no per-caller answer limit, since all clients sign in as one user), and
runs ``--clients`` concurrent clients asking the demo questions (``scripts/demo_kb_questions.json``) for
``--seconds``. Each client sends its next question when the last answer arrives.

``--distinct`` makes every question unique (a numbered suffix), so that no answer comes
from the answer cache; without it, most answers are repeats, as in a real help desk.
``--reindex`` uploads a new document a third of the way in and starts a re-index; the
report says when answers switched to the new index version and whether any request failed.

``--database-url`` runs the server on PostgreSQL instead of SQLite: the script creates a
fresh database on that server for the run and drops it afterwards.

Reports requests, errors, throughput, p50/p95/p99 latency, the share of cached answers,
the index versions seen and the slowest requests. Usage:
    python bench/load.py [--clients 50] [--seconds 120] [--workers 1] [--distinct] [--reindex]
                         [--database-url postgresql+psycopg://...] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from attest.core import db
from attest.eval.metrics import latency_percentiles

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [q["question"] for q in json.loads((ROOT / "scripts/demo_kb_questions.json").read_text())]
DEMO = ROOT / "attest/demo_kb"
PASSWORD = "load-bench-password"
NEW_DOCUMENT = (
    "Rooftop garden\n\nThe Kestrel Lane rooftop garden in Port Alder opens at 7:30 every weekday "
    "and closes at 19:00.\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--workers", type=int, default=1, help="API worker processes")
    parser.add_argument("--distinct", action="store_true", help="every question unique (no cache hits)")
    parser.add_argument("--reindex", action="store_true", help="re-index the knowledge base mid-run")
    parser.add_argument("--database-url", help="a PostgreSQL server to run on (a fresh database is made)")
    parser.add_argument("--server-log", default=f"{tempfile.gettempdir()}/attest-load-server.log")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="attest-load-") as tmp:
        env = {
            **os.environ,
            "ATTEST_DATA_DIR": tmp,
            "ATTEST_GENERATOR": "extractive",
            "ATTEST_RATE_LIMIT_PER_MINUTE": "0",
            "ATTEST_MAX_CONCURRENT_ANSWERS": "0",  # else all but 2 clients at a time get 429
        }
        env.pop("DATABASE_URL", None)
        if args.database_url:
            env["DATABASE_URL"] = database = db.create_database(args.database_url, "attest_load_")
        for command in (
            ["ingest", "--kb", "demo", str(DEMO)],
            ["users", "create", "--username", "bench", "--role", "admin", "--password", PASSWORD],
        ):
            attest = [sys.executable, "-m", "attest", *command]
            subprocess.run(attest, env=env, check=True, capture_output=True)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "attest", "serve", "--port", str(port), "--workers", str(args.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(args.server_log, "wb"),  # noqa: SIM115 - closed with the process
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, server)
            result = asyncio.run(run(url, args))
        finally:
            server.terminate()
            server.wait(timeout=60)
            if args.database_url:
                db.drop_database(args.database_url, database)
    result.update(
        date=datetime.now(UTC).date().isoformat(),
        clients=args.clients,
        seconds=args.seconds,
        workers=args.workers,
        database="postgresql" if args.database_url else "sqlite",
        distinct=args.distinct,
        cpus=os.cpu_count(),
    )
    print(json.dumps(result, indent=None if args.json else 2))


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=args.clients + 5)
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=60, limits=limits) as http:
        token = (await http.post("/auth/token", data={"username": "bench", "password": PASSWORD})).json()
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        for question in QUESTIONS:  # warm up: models, index, the cache's first answers
            (await http.post("/ask", json={"kb": "demo", "question": question})).raise_for_status()
        samples: list[dict[str, Any]] = []
        started = time.perf_counter()
        deadline = started + args.seconds
        counter = iter(range(10**9))
        tasks = [
            asyncio.create_task(client(http, i, deadline, args.distinct, counter, samples, started))
            for i in range(args.clients)
        ]
        reindex: dict[str, Any] = {}
        if args.reindex:
            await asyncio.sleep(args.seconds / 3)
            reindex = await reindex_now(http, started)
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    ok = [s for s in samples if s["ok"]]
    errors = [s for s in samples if not s["ok"]]
    versions: dict[int, float] = {}
    for s in sorted(ok, key=lambda s: s["at"]):
        versions.setdefault(s["version"], round(s["at"], 2))
    report: dict[str, Any] = {
        "requests": len(samples),
        "errors": len(errors),
        "error_rate": round(len(errors) / max(1, len(samples)), 5),
        "error_examples": sorted({s["error"] for s in errors})[:5],
        "throughput_rps": round(len(samples) / elapsed, 1),
        "latency_ms": latency_percentiles([s["ms"] for s in ok]),
        "cached_share": round(sum(s["cached"] for s in ok) / max(1, len(ok)), 3),
        "index_versions_first_seen_s": versions,
        "slowest": [  # when the slowest requests were sent, to tell a stall from a steady tail
            {"at_s": round(s["at"], 1), "ms": round(s["ms"])}
            for s in sorted(samples, key=lambda s: s["ms"], reverse=True)[:5]
        ],
    }
    if reindex:
        report["reindex"] = reindex
        late = [s for s in ok if s["at"] > reindex.get("finished_s", 1e9) + 1.0]
        new_version = reindex.get("index_version") or 0
        report["old_version_after_activation"] = sum(s["version"] < new_version for s in late)
    return report


async def client(
    http: httpx.AsyncClient,
    number: int,
    deadline: float,
    distinct: bool,
    counter: Any,
    samples: list[dict[str, Any]],
    started: float,
) -> None:
    rng = random.Random(number)
    while time.perf_counter() < deadline:
        question = rng.choice(QUESTIONS)
        if distinct:
            question = f"{question} (request {next(counter)})"
        began = time.perf_counter()
        sample: dict[str, Any] = {"at": began - started, "ok": False, "cached": False, "version": 0}
        try:
            reply = await http.post("/ask", json={"kb": "demo", "question": question})
            if reply.status_code == 200:
                body = reply.json()
                sample.update(ok=True, cached=bool(body.get("cached")), version=body["index_version"])
            else:
                sample["error"] = f"HTTP {reply.status_code}: {reply.text[:120]}"
        except httpx.HTTPError as exc:
            sample["error"] = f"{type(exc).__name__}: {exc}"
        sample["ms"] = (time.perf_counter() - began) * 1000
        samples.append(sample)


async def reindex_now(http: httpx.AsyncClient, started: float) -> dict[str, Any]:
    """Upload a new document and re-index while the clients keep asking."""
    files = {"file": ("rooftop_garden.txt", NEW_DOCUMENT.encode(), "text/plain")}
    (await http.post("/kbs/demo/documents", files=files)).raise_for_status()
    job = (await http.post("/kbs/demo/jobs", json={"sync": True})).json()
    begun = time.perf_counter() - started
    while job["status"] == "running":
        await asyncio.sleep(0.5)
        job = (await http.get(f"/kbs/demo/jobs/{job['id']}")).json()
    return {
        "started_s": round(begun, 2),
        "finished_s": round(time.perf_counter() - started, 2),
        "status": job["status"],
        "index_version": (job.get("summary") or {}).get("index_version"),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited at start")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become ready in 300 s")


if __name__ == "__main__":
    main()
