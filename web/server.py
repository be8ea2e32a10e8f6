"""Running the API: beside the engine in `sentitrade run`, or alone (`sentitrade api`).

`ApiServer` is an `engine.service.api.Attachment`: started after the engine, stopped
before it closes. Inside `run` uvicorn leaves the signals to the service (Ctrl-C stops
the engine, which stops the API); alone it handles them itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import uvicorn

from engine.service.api import Attachment, TradingAPI
from engine.storage.config import Settings
from web.app import build_context, create_app
from web.deps import WebContext
from web.instrument import instrument

log = logging.getLogger("sentitrade.web")


class _Embedded(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the service owns SIGINT/SIGTERM


def make_server(ctx: WebContext, host: str, port: int, embedded: bool = True) -> uvicorn.Server:
    config = uvicorn.Config(create_app(ctx), host=host, port=port, log_level="warning",
                            access_log=False, lifespan="on", ws="websockets-sansio",
                            ws_ping_interval=None)  # our own heartbeat; no ping frames
    return _Embedded(config) if embedded else uvicorn.Server(config)


class ApiServer:
    """The API as a task on the service's loop."""

    def __init__(self, api: TradingAPI, settings: Settings | None = None,
                 read_only: bool = False, ctx: WebContext | None = None) -> None:
        self.settings = settings or api.settings
        self.ctx = ctx or build_context(api, self.settings, read_only=read_only)
        instrument(api, self.ctx.hub, self.ctx.metrics)
        self.server = make_server(self.ctx, self.settings.api.host, self.settings.api.port)
        self.task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0 in tests)."""
        for srv in getattr(self.server, "servers", []):
            for sock in srv.sockets:
                return int(sock.getsockname()[1])
        return self.settings.api.port

    async def start(self) -> None:
        self.ctx.hub.bind_loop()
        self.task = asyncio.create_task(self.server.serve(), name="sentitrade-api")
        for _ in range(500):
            if self.server.started or self.task.done():
                break
            await asyncio.sleep(0.01)
        if self.task.done():
            exc = self.task.exception()
            raise OSError(f"API could not listen on {self.settings.api.host}:"
                          f"{self.settings.api.port}: {exc or 'see the log'}")
        log.info("API and dashboard on http://%s:%d/", self.settings.api.host, self.port)

    async def stop(self) -> None:
        if self.task is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, 10)
        self.task = None


class Together:
    """Several attachments started in order and stopped in reverse."""

    def __init__(self, *parts: Attachment) -> None:
        self.parts = parts
        self._started: list[Attachment] = []

    async def start(self) -> None:
        for p in self.parts:
            await p.start()
            self._started.append(p)

    async def stop(self) -> None:
        for p in reversed(self._started):
            try:
                await p.stop()
            except Exception:
                log.exception("stopping %s failed", type(p).__name__)
        self._started.clear()


def with_api(chat: Attachment, api: TradingAPI, settings: Settings) -> Attachment:
    """`chat` plus the API when `[api] enabled` (what `sentitrade run` attaches)."""
    if not settings.api.enabled:
        return chat
    return Together(chat, ApiServer(api, settings))


def run_dashboard(settings: Settings) -> None:
    """`sentitrade api`: the API and dashboard over the database, without the engine
    loop. Reads only: deciding and trading belong to the process that runs the engine."""
    asyncio.run(_dashboard(settings))


async def _dashboard(settings: Settings) -> None:
    from engine.service.engine import Engine

    if settings.exchange.mode == "live":  # the paper broker stands in: never trade here
        settings = settings.model_copy(update={"exchange": settings.exchange.model_copy(
            update={"mode": "paper"})})
    eng: Any = Engine(settings)
    ctx = build_context(eng, settings, read_only=True)
    server = make_server(ctx, settings.api.host, settings.api.port, embedded=False)
    from web.tail import tail_outbox

    tailer = asyncio.create_task(tail_outbox(ctx))
    try:
        await server.serve()
    finally:
        tailer.cancel()
        await eng.close()
