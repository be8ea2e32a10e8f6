"""REST routes over the trading contract: status, bots, proposals, trades, orders,
balances, risk and breakers. Each one authenticates, calls `TradingAPI`, serialises;
mutating ones pass the caller (`api:<token name>`) as `by`, which the engine records."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlmodel import col, select

from engine.errors import SentitradeError
from engine.service.api import TradingAPI, open_positions
from engine.storage.models import Order, Proposal, Trade
from web.auth import Caller
from web.deps import WebContext, ctx_of, needs, plain

log = logging.getLogger("sentitrade.web")
router = APIRouter(prefix="/api/v1")
Viewer = Annotated[Caller, Depends(needs("viewer"))]
Trader = Annotated[Caller, Depends(needs("trader"))]
Admin = Annotated[Caller, Depends(needs("admin"))]
Limit = Annotated[int, Query(ge=1, le=5000)]


def refused(e: SentitradeError) -> HTTPException:
    """An engine refusal as 409 with the engine's one-line message."""
    return HTTPException(409, str(e).splitlines()[0] if str(e) else type(e).__name__)


def audit(caller: Caller, what: str) -> None:
    log.info("api: %s by %s (%s)", what, caller.by, caller.role)


@router.get("/me", tags=["auth"])
def me(caller: Viewer) -> dict[str, Any]:
    """Who this token belongs to and what it may do."""
    return {"name": caller.name, "role": caller.role}


async def positions(api: TradingAPI) -> list[dict[str, Any]]:
    """Open trades with their last price and unrealised PnL (after fees paid)."""
    return [{**plain(t), "last_price": plain(px), "unrealized_pnl": plain(pnl)}
            for t, px, pnl in await open_positions(api)]


STATUS_TTL_S = 1.0


def forget_status(ctx: WebContext) -> None:
    ctx.extras.pop("status", None)


@router.get("/status", tags=["status"])
async def status(request: Request, caller: Viewer) -> dict[str, Any]:
    """Bots, open positions with live PnL, pending proposals, breakers and equity.

    Every client polls this, so one snapshot serves all of them until the engine
    publishes anything (an alert, a candle), an API call changes state, or a second
    passes (prices move between candles)."""
    ctx = ctx_of(request)
    key = (ctx.hub.published, ctx.hub.last_outbox_id)
    hit = ctx.extras.get("status")
    if hit is not None and hit[0] == key and time.monotonic() - hit[1] < STATUS_TTL_S:
        return hit[2]
    out = await _status(ctx)
    ctx.extras["status"] = (key, time.monotonic(), out)
    return out


async def _status(ctx: WebContext) -> dict[str, Any]:
    api = ctx.api
    rs = api.risk_status()
    return {"bots": plain(api.list_bots()), "open_trades": await positions(api),
            "pending": plain(api.pending_proposals()),
            "trading_state": rs.trading_state, "breakers": plain(rs.breakers),
            "equity": plain(rs.usage.get("equity")), "mode": api.settings.exchange.mode,
            "read_only": ctx.read_only, "time": time.time()}


@router.get("/bots", tags=["bots"])
def bots(request: Request, caller: Viewer) -> list[dict[str, Any]]:
    return [plain(b) for b in ctx_of(request).api.list_bots()]


@router.post("/bots/{name}/{action}", tags=["bots"])
async def bot_action(request: Request, name: str, action: str,
                     caller: Trader) -> dict[str, Any]:
    """Start, stop or pause a bot (trader)."""
    api = ctx_of(request).api
    calls = {"start": api.start_bot, "stop": api.stop_bot, "pause": api.pause_bot}
    fn = calls.get(action)
    if fn is None:
        raise HTTPException(404, "action is one of start, stop, pause")
    audit(caller, f"{action} bot {name}")
    forget_status(ctx_of(request))
    try:
        return plain(await fn(name, caller.by))
    except SentitradeError as e:
        raise refused(e) from None


@router.get("/trades", tags=["portfolio"])
async def trades(request: Request, caller: Viewer, state: str = "all",
                 limit: Limit = 1000) -> list[dict[str, Any]]:
    """Trades, newest first; open ones carry their last price and unrealised PnL."""
    if state not in ("open", "closed", "all"):
        raise HTTPException(422, "state is open, closed or all")
    out = await positions(ctx_of(request).api) if state != "closed" else []
    if state != "open":
        with ctx_of(request).api.sessions() as s:
            rows = s.exec(select(Trade).where(col(Trade.is_open).is_(False))
                          .order_by(col(Trade.close_at).desc(), col(Trade.id).desc())
                          .limit(limit)).all()
        out += [plain(t) for t in rows]
    return out[:limit]


@router.get("/orders", tags=["portfolio"])
def orders(request: Request, caller: Viewer, state: str | None = None,
           limit: Limit = 200) -> list[dict[str, Any]]:
    with ctx_of(request).api.sessions() as s:
        q = select(Order)
        if state is not None:
            q = q.where(Order.state == state)
        rows = s.exec(q.order_by(col(Order.id).desc()).limit(limit)).all()
    return [plain(o) for o in rows]


@router.get("/balances", tags=["portfolio"])
async def balances(request: Request, caller: Viewer) -> list[dict[str, Any]]:
    try:
        return [plain(b) for b in await ctx_of(request).api.balances()]
    except SentitradeError as e:
        raise refused(e) from None


@router.get("/proposals", tags=["proposals"])
def proposals(request: Request, caller: Viewer, state: str = "pending",
              limit: Limit = 100) -> list[dict[str, Any]]:
    """Pending proposals (default), or the latest in any state (`state=all`)."""
    api = ctx_of(request).api
    if state == "pending":
        return [plain(p) for p in api.pending_proposals()]
    with api.sessions() as s:
        q = select(Proposal)
        if state != "all":
            q = q.where(Proposal.state == state)
        rows = s.exec(q.order_by(col(Proposal.id).desc()).limit(limit)).all()
    return [plain(p) for p in rows]


@router.get("/proposals/{pid}", tags=["proposals"])
def proposal(request: Request, pid: int, caller: Viewer) -> dict[str, Any]:
    p = ctx_of(request).api.get_proposal(pid)
    if p is None:
        raise HTTPException(404, f"no proposal #{pid}")
    return plain(p)


@router.post("/proposals/{pid}/{decision}", tags=["proposals"])
async def decide(request: Request, pid: int, decision: str, caller: Trader) -> dict[str, Any]:
    """Approve or reject (trader): the chat buttons' engine calls, equally idempotent:
    a repeat answers `changed: false` with who decided first."""
    api = ctx_of(request).api
    if decision not in ("approve", "reject"):
        raise HTTPException(404, "decision is approve or reject")
    if api.get_proposal(pid) is None:
        raise HTTPException(404, f"no proposal #{pid}")
    audit(caller, f"{decision} proposal #{pid}")
    forget_status(ctx_of(request))
    metrics = ctx_of(request).metrics
    t0 = time.perf_counter()
    try:
        d = await (api.approve(pid, caller.by) if decision == "approve"
                   else api.reject(pid, caller.by))
    except SentitradeError as e:
        raise refused(e) from None
    finally:
        metrics.execution.labels(decision).observe(time.perf_counter() - t0)
    return {"changed": d.changed, "proposal": plain(d.proposal), "order": plain(d.order),
            "message": d.message}


@router.get("/risk", tags=["risk"])
def risk(request: Request, caller: Viewer) -> dict[str, Any]:
    """Limits, their usage, active breakers and the trading state."""
    return plain(ctx_of(request).api.risk_status())


@router.get("/breakers", tags=["risk"])
def breakers(request: Request, caller: Viewer) -> list[dict[str, Any]]:
    return plain(ctx_of(request).api.risk_status().breakers)


@router.post("/breakers/resume", tags=["risk"])
async def resume(request: Request, caller: Admin) -> dict[str, Any]:
    """Clear every active breaker (admin). Stopped bots stay stopped."""
    audit(caller, "resume after breakers")
    forget_status(ctx_of(request))
    try:
        cleared = await ctx_of(request).api.resume(caller.by)
    except SentitradeError as e:
        raise refused(e) from None
    return {"cleared": plain(cleared)}
