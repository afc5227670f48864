"""``attest serve`` (the REST API), ``attest ui`` (Streamlit) and ``attest demo``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from attest.cli.accounts import bootstrap_admin
from attest.cli.ask import ask, ingest
from attest.cli.common import ready

PACKAGE = Path(__file__).resolve().parents[1]
DEMO_KB = "demo"
DEMO_QUESTION = "How many days of annual leave do full-time employees get?"


def demo(
    serve_api: Annotated[
        bool, typer.Option("--serve", help="Then start the REST API and the web UI.")
    ] = False,
    port: Annotated[int, typer.Option(help="API port for --serve.")] = 8000,
) -> None:
    """Ingest the bundled demo knowledge base, create the first admin, answer a sample question."""
    demo_dir = PACKAGE / "demo_kb"
    typer.echo(f"Ingesting the demo knowledge base from {demo_dir} ...", err=True)
    ingest([demo_dir], kb=DEMO_KB, sync=True)
    sign_in = bootstrap_admin()
    typer.echo(f"\nQ: {DEMO_QUESTION}\n")
    ask(DEMO_QUESTION, kb=DEMO_KB)
    typer.echo(f'\nAsk your own: .venv/bin/attest ask --kb {DEMO_KB} "your question"', err=True)
    if serve_api:
        from attest.core.settings import get_settings

        ui_port = get_settings().ui_port
        api_url = f"http://127.0.0.1:{port}"
        ui_process = subprocess.Popen(_streamlit_command("127.0.0.1", ui_port, api_url), env=_ui_env(api_url))
        typer.secho(
            f"\nAttest is starting. Open http://127.0.0.1:{ui_port} and sign in as {sign_in}.\n",
            fg=typer.colors.GREEN,
            bold=True,
            err=True,
        )
        try:
            serve(host="127.0.0.1", port=port, workers=1)
        finally:
            ui_process.terminate()
            ui_process.wait(timeout=30)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
) -> None:
    """Run the REST API (OpenAPI at /api/v1/openapi.json)."""
    import uvicorn

    from attest.core.settings import get_settings

    ready()
    typer.echo(f"Attest API on http://{host}:{port}/api/v1 (health: /healthz)", err=True)
    uvicorn.run(
        "attest.api.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        **proxy_options(get_settings().trusted_proxies),
    )


def proxy_options(trusted_proxies: str) -> dict[str, Any]:
    """uvicorn's options for X-Forwarded-For/-Proto: honoured only from the configured proxies.

    uvicorn's own default trusts them from 127.0.0.1, which let any local client (or a
    process behind a local proxy that passes the header on) pick the address that rate
    limits and the audit log see.
    """
    proxies = [p.strip() for p in trusted_proxies.split(",") if p.strip()]
    if not proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(proxies)}


def ui(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: ATTEST_UI_PORT, 8501).")] = None,
    api_url: Annotated[
        str | None, typer.Option("--api-url", help="The REST API (default: ATTEST_API_URL).")
    ] = None,
) -> None:
    """Run the web UI (Streamlit), a client of the REST API."""
    from attest.core.settings import get_settings

    settings = get_settings()
    url = api_url or settings.api_url
    typer.echo(f"Attest UI on http://{host}:{port or settings.ui_port} (API: {url})", err=True)
    command = _streamlit_command(host, port or settings.ui_port, url)
    sys.stderr.flush()
    # Streamlit takes this process's place, so a stop signal reaches it: as a child it
    # outlived an `attest ui` that was terminated, still serving on the port.
    os.execve(command[0], command, _ui_env(url))


# Streamlit options `attest ui` pins on the command line, which wins over any config.toml and
# STREAMLIT_* variable (guides often tell people to turn the first two off behind a proxy).
# XSRF tokens guard uploads, CORS keeps other sites' pages from calling the server, the
# browser is shown no tracebacks (server paths, code), nothing is served but the app, no
# usage statistics are sent (no network at run time). Streamlit cannot add response headers
# (anti-framing, CSP) or time out clients that never finish their headers:
# docs/deployment.md puts a reverse proxy in front for those.
UI_OPTIONS: dict[str, str] = {
    "server.headless": "true",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "server.enableXsrfProtection": "true",
    "server.enableCORS": "true",
    "server.enableStaticServing": "false",
    "server.enableWebsocketCompression": "false",
    "browser.gatherUsageStats": "false",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "theme.base": "light",
    "theme.primaryColor": "#1d4ed8",
}
# Options of newer Streamlit releases than the oldest one Attest supports, set through the
# environment (where an unknown option is ignored, while an unknown flag is an error): the
# agent API would let a client drive the UI without a browser.
UI_ENV_OPTIONS: dict[str, str] = {"STREAMLIT_SERVER_ENABLE_AGENT_API": "false"}


def _ui_env(api_url: str) -> dict[str, str]:
    return {**os.environ, **UI_ENV_OPTIONS, "ATTEST_API_URL": api_url}


def _streamlit_command(host: str, port: int, api_url: str) -> list[str]:
    """Streamlit on the UI script with :data:`UI_OPTIONS`, on ``host:port``."""
    script = PACKAGE / "ui" / "app.py"
    options = {"server.address": host, "server.port": str(port), **UI_OPTIONS}
    flags = [part for name, value in options.items() for part in (f"--{name}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(script), *flags]
