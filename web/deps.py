"""What every route shares: the service context and the bearer-token check."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from fastapi import HTTPException, Request, WebSocket
from pydantic import BaseModel

from engine.service.api import TradingAPI
from engine.storage.config import Settings
from web.auth import Caller, FailureLimiter, TokenBook
from web.hub import Hub
from web.metrics import Metrics

log = logging.getLogger("sentitrade.web")


@dataclass
class WebContext:
    """The running service as the web layer sees it. `read_only`: a dashboard-only
    process (`sentitrade api`) that must not trade beside the real engine."""

    api: TradingAPI
    settings: Settings
    hub: Hub
    metrics: Metrics
    tokens: TokenBook
    limiter: FailureLimiter
    read_only: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


def ctx_of(request: Request | WebSocket) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def client_of(request: Request | WebSocket) -> str:
    return request.client.host if request.client else "unknown"


def authenticate(ctx: WebContext, token: str | None, client: str) -> Caller:
    """The caller behind `token`, or an HTTP error: 429 while the client is over its
    failure budget, 401 for a missing or unknown token."""
    if ctx.limiter.blocked(client):
        raise HTTPException(429, "too many failed authentications: wait a minute",
                            headers={"Retry-After": "60"})
    caller = ctx.tokens.check(token or "")
    if caller is None:
        ctx.limiter.failed(client)
        ctx.metrics.auth_failures.inc()
        raise HTTPException(401, "missing or invalid token: send Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    return caller


def bearer(request: Request) -> str | None:
    h = request.headers.get("authorization", "")
    scheme, _, value = h.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def needs(role: str, trades: bool = True) -> Any:
    """A dependency: the authenticated caller, who must hold at least `role`.
    `trades`: the call changes trading state (refused in a dashboard-only process)."""

    async def dep(request: Request) -> Caller:  # async: no thread hop per request
        ctx = ctx_of(request)
        caller = authenticate(ctx, bearer(request), client_of(request))
        if not caller.can(role):
            raise HTTPException(403, f"this needs the {role} role (yours: {caller.role})")
        if trades and role != "viewer" and ctx.read_only:
            raise HTTPException(409, "this process only shows the dashboard: act through "
                                     "the one that runs the engine (sentitrade run with "
                                     "[api] enabled = true)")
        return caller

    return dep


def plain(v: Any) -> Any:
    """JSON-ready: money as exact strings, times as ISO 8601 UTC, rows as dicts."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, BaseModel):
        return {k: plain(x) for k, x in v.model_dump().items()}
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set | frozenset):
        return [plain(x) for x in v]
    if isinstance(v, float) and v != v:
        return None
    if hasattr(v, "__dataclass_fields__"):
        return {k: plain(getattr(v, k)) for k in v.__dataclass_fields__}
    return v
