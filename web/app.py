"""The FastAPI application: routes, WebSockets, webhook, `/metrics`, the dashboard."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.service.api import TradingAPI
from engine.storage.config import Settings
from web import research, routes_data, routes_trading, webhook, ws
from web.auth import FailureLimiter, TokenBook
from web.deps import WebContext
from web.hub import Hub
from web.metrics import Metrics

STATIC = Path(__file__).parent / "static"


_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


class _Count:
    """Counts requests by route and status and adds two safety headers (a plain ASGI
    middleware: Starlette's BaseHTTPMiddleware costs a task per request)."""

    def __init__(self, app: ASGIApp, ctx: WebContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "other")
            self.ctx.metrics.api_requests.labels(route, str(status[0])).inc()


def build_context(api: TradingAPI, settings: Settings | None = None, *,
                  read_only: bool = False) -> WebContext:
    """The web layer's view of `api`: token book, failure limiter, event hub, metrics.
    The hub subscribes to the engine database's commits at once."""
    settings = settings or api.settings
    metrics = Metrics()
    metrics.attach_engine(api)
    return WebContext(api=api, settings=settings,
                      hub=Hub(api.sessions.engine, settings.api.ws_queue_size),
                      metrics=metrics, tokens=TokenBook(api.sessions),
                      limiter=FailureLimiter(settings.api.auth_failures_per_minute),
                      read_only=read_only)


def create_app(ctx: WebContext) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ctx.hub.bind_loop()  # publishes from worker threads are handed to this loop
        yield

    app = FastAPI(lifespan=lifespan, title="sentitrade API", version="1",
                  description="REST and WebSocket API of a sentitrade service. Send "
                              "`Authorization: Bearer <token>` (create one with "
                              "`sentitrade user token NAME --role ROLE`).")
    app.state.web = ctx
    origins = ctx.settings.api.cors_origins
    if origins:  # closed by default: no CORS headers at all
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    app.add_middleware(_Count, ctx=ctx)

    for r in (routes_trading.router, routes_data.router, research.router, ws.router,
              webhook.router):
        app.include_router(r)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus text format. Like `/docs`, open: bind the API to a private
        address or put the scrape behind the proxy's auth."""
        t0 = time.perf_counter()
        body = generate_latest(ctx.metrics.registry)
        ctx.metrics.execution.labels("scrape").observe(time.perf_counter() - t0)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
