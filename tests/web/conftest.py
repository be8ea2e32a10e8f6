"""A real engine (paper broker) behind the web app, and a token per role."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.execution.paper import Quote
from engine.service.engine import Engine
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from web.app import build_context, create_app
from web.auth import create_token
from web.deps import WebContext
from web.webhook import Alert, propose

PAIR = "BTC/USDT"


def web_settings(tmp_path: Path, engine: dict[str, Any] | None = None, **api: Any) -> Settings:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    upgrade(url)
    return Settings(database={"url": url},  # type: ignore[arg-type]
                    exchange={"mode": "paper", "slippage_bps": 0},  # type: ignore[arg-type]
                    approvals={"mode": "manual"},  # type: ignore[arg-type]
                    security={"key_file": tmp_path / "master.key"},  # type: ignore[arg-type]
                    logging={"file": None},  # type: ignore[arg-type]
                    api={"port": 0, **api},  # type: ignore[arg-type]
                    engine=engine or {},  # type: ignore[arg-type]
                    bots=[{"name": "main", "symbols": [PAIR, "ETH/USDT"]}])  # type: ignore[list-item]


@dataclass
class Service:
    eng: Engine
    ctx: WebContext
    tokens: dict[str, str]
    client: Callable[[str | None], httpx.AsyncClient]

    async def propose(self, side: str = "buy", price: float = 60000.0) -> int:
        """A proposal through the engine's own signal -> risk -> proposal path."""
        out = await propose(self.ctx, "main", Alert(pair=PAIR, side=side, price=price))
        assert out["proposal"] is not None, out
        return int(out["proposal"]["id"])


async def build_service(tmp_path: Path, engine: dict[str, Any] | None = None,
                        **api: Any) -> tuple[Service, list[httpx.AsyncClient]]:
    settings = web_settings(tmp_path, engine, **api)
    eng = Engine(settings, SessionFactory(make_engine(settings.database.url)))
    await eng.start()
    eng.quotes[PAIR] = Quote(Decimal("60000"))
    await eng.start_bot("main", "test")
    ctx = build_context(eng, settings)
    app = create_app(ctx)
    tokens = {role: create_token(eng.sessions, f"{role}-user", role)
              for role in ("viewer", "trader", "admin")}
    clients: list[httpx.AsyncClient] = []

    def client(role: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                              base_url="http://test", headers=headers)
        clients.append(c)
        return c

    return Service(eng, ctx, tokens, client), clients


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Service]:
    s, clients = await build_service(tmp_path)
    s.ctx.hub.bind_loop()
    try:
        yield s
    finally:
        for c in clients:
            await c.aclose()
        await s.eng.close()
        s.eng.sessions.engine.dispose()


def signed(secret: str, body: bytes) -> dict[str, str]:
    return {"X-Sentitrade-Signature": "sha256=" + hmac.new(secret.encode(), body,
                                                           hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}
