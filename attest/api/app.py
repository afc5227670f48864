"""The FastAPI application: ``create_app()`` builds it; ``attest serve`` runs it with uvicorn.

The lifespan builds everything expensive once per process (settings, database engine,
migrations, the embedding model and generator, the job runner). Middleware adds, in order
of a request's travel: a body-size limit, security headers, CORS when configured, and the
Prometheus request metrics.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from attest.api import errors
from attest.api.deps import Access, RateLimiter, rule
from attest.api.errors import ApiError
from attest.api.metrics import Metrics
from attest.api.routes import admin, ask, audit, auth, conversations, documents, jobs, kbs
from attest.api.services import Services
from attest.core import audit as audit_chain
from attest.core import db
from attest.core.settings import Settings, get_settings

PREFIX = "/api/v1"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cache-control": "no-store",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.upgrade(settings.sqlalchemy_url)
        engine = db.make_engine(settings.sqlalchemy_url)
        services = Services.build(settings, engine)
        app.state.services = services
        app.state.metrics = Metrics(engine)
        services.ready = True
        yield
        services.jobs.shutdown()
        audit_chain.checkpoint(engine, settings)  # the head as it was when this worker stopped
        engine.dispose()

    app = FastAPI(
        title="Attest",
        version="1",
        description="Answers from your documents, with citations, access control and a factuality check.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)
    errors.install(app)
    api = APIRouter(prefix=PREFIX)
    for module in (auth, ask, conversations, kbs, documents, jobs, admin, audit):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(_system_router(settings))
    app.add_middleware(_MetricsMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
        )
    app.add_middleware(_SecurityHeaders)
    app.add_middleware(_BodyLimit, default=settings.max_request_bytes, upload=settings.max_file_bytes + 65536)
    return app


def _system_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["system"])

    @router.get("/healthz", **rule(Access.PUBLIC))
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @router.get("/readyz", **rule(Access.PUBLIC))
    def readyz(request: Request) -> JSONResponse:
        """The models are loaded and the database answers."""
        services = getattr(request.app.state, "services", None)
        if services is None or not services.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        try:
            with services.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means not ready
            return JSONResponse(
                {"status": "database unavailable", "detail": type(exc).__name__}, status_code=503
            )
        return JSONResponse({"status": "ready"})

    @router.get("/metrics", **rule(Access.PUBLIC))
    def metrics(request: Request) -> Response:
        """Prometheus metrics of this worker process: for a client sending the bearer token
        ``ATTEST_METRICS_TOKEN``, or, when that is empty, for loopback clients only (they name
        every knowledge base and its size)."""
        token = settings.metrics_token.get_secret_value()
        sent = request.headers.get("authorization", "")
        if token:
            allowed = hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
        else:
            allowed = _is_loopback(request.client.host if request.client else "")
        if not allowed:
            raise ApiError(
                403,
                "The metrics are for the operator: send the bearer token ATTEST_METRICS_TOKEN "
                "(or, when none is set, scrape from this machine).",
            )
        return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _MetricsMiddleware:
    """Counts requests and times them by route template (not by raw path, to bound the labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None)
            # Routes of included routers carry their path without the router's prefix.
            prefix = (
                PREFIX
                if scope["path"].startswith(PREFIX + "/") and route and not route.startswith(PREFIX)
                else ""
            )
            template = prefix + route if route else "unmatched"
            metrics = getattr(scope["app"].state, "metrics", None) if "app" in scope else None
            if metrics is not None:
                method = scope["method"]
                metrics.requests.labels(method=method, route=template, status=str(status[0])).inc()
                metrics.latency.labels(method=method, route=template).observe(time.perf_counter() - began)


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [
                    (k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in present
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


class _BodyLimit:
    """Refuses bodies over the limit (413) by Content-Length, and again while reading them."""

    def __init__(self, app: ASGIApp, *, default: int, upload: int) -> None:
        self.app, self.default, self.upload = app, default, upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_upload = scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/documents")
        limit = self.upload if is_upload else self.default
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(scope, receive, send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(scope, receive, send, limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = errors.problem(
        413, f"The request body is larger than the {limit} byte limit.", instance=scope["path"]
    )
    await response(scope, receive, send)


def app_factory() -> Any:
    """For ``uvicorn --factory attest.api.app:app_factory``."""
    return create_app()
