"""REST routes over history: signals with reasons, news with scores, equity and
drawdown, candles with entries and exits, logs. Reads only."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlmodel import col, select

import commands.queries as queries
from commands.base import Ctx, Identity
from commands.catalog import COMMANDS
from engine.storage.dbtypes import utcnow
from engine.storage.models import EquitySnapshot, NewsItem, SentimentScore, Trade
from web.auth import Caller
from web.deps import ctx_of, needs, plain

router = APIRouter(prefix="/api/v1")
Viewer = Annotated[Caller, Depends(needs("viewer"))]
Admin = Annotated[Caller, Depends(needs("admin"))]


def symbol_of(raw: str) -> str:
    """'BTC-USDT', 'BTC_USDT' or 'BTC/USDT' -> 'BTC/USDT' (a slash is awkward in a path)."""
    s = raw.replace("-", "/").replace("_", "/").upper()
    if s.count("/") != 1 or not all(p.isalnum() and 1 <= len(p) <= 12 for p in s.split("/")):
        raise HTTPException(422, f"not a pair: {raw[:32]!r} (write BTC-USDT)")
    return s


@router.get("/signals", tags=["research"])
def signals(request: Request, caller: Viewer,
            limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
    """Latest signals, newest first; `inputs` holds the reasons (indicator values,
    sentiment, and `blocked`/`skipped` when risk or an open proposal stopped it)."""
    rows = queries.recent_signals(ctx_of(request).api.sessions, limit)
    return [plain(s) for s in rows]


@router.get("/news", tags=["research"])
def news(request: Request, caller: Viewer, symbol: str | None = None,
         limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    """Latest headlines with every scorer's verdict."""
    api = ctx_of(request).api
    with api.sessions() as s:
        q = select(NewsItem)
        rows = list(s.exec(q.order_by(col(NewsItem.published_at).desc())
                           .limit(limit * 4 if symbol else limit)).all())
        if symbol:
            base = symbol.upper().split("/")[0].split("-")[0]
            rows = [r for r in rows if base in r.symbols][:limit]
        ids = [r.id for r in rows]
        scores = s.exec(select(SentimentScore).where(
            col(SentimentScore.news_item_id).in_(ids))).all() if ids else []
    by_item: dict[int, list[dict[str, Any]]] = {}
    for sc in scores:
        by_item.setdefault(sc.news_item_id, []).append(
            {"scorer": sc.scorer, "label": sc.label, "score": sc.score,
             "confidence": sc.confidence, "event_type": sc.event_type, "impact": sc.impact})
    return [{"id": r.id, "title": r.title, "source": r.source, "url": r.url,
             "published_at": plain(r.published_at), "symbols": r.symbols,
             "scores": by_item.get(r.id or 0, [])} for r in rows]


@router.get("/equity", tags=["portfolio"])
def equity(request: Request, caller: Viewer,
           days: Annotated[int, Query(ge=1, le=3650)] = 30,
           points: Annotated[int, Query(ge=10, le=20_000)] = 2000) -> dict[str, Any]:
    """Equity snapshots and the drawdown from the running peak, at most `points`
    (evenly thinned; the last point and the deepest drawdown are always kept)."""
    since = utcnow() - timedelta(days=days)
    with ctx_of(request).api.sessions() as s:
        tbl = sa.inspect(EquitySnapshot).local_table  # plain rows: no ORM objects
        rows = s.execute(sa.select(tbl.c.ts, tbl.c.equity).where(tbl.c.ts >= since)
                         .order_by(tbl.c.ts)).all()
    peak = 0.0
    series = []
    for ts, eq in rows:
        v = float(eq)
        peak = max(peak, v)
        series.append((ts.timestamp(), v, (v / peak - 1.0) * 100 if peak > 0 else 0.0))
    if len(series) > points:
        step = len(series) / points
        keep = {int(i * step) for i in range(points)} | {len(series) - 1}
        keep.add(min(range(len(series)), key=lambda i: series[i][2]))
        series = [series[i] for i in sorted(keep)]
    return {"t": [p[0] for p in series], "equity": [p[1] for p in series],
            "drawdown_pct": [p[2] for p in series]}


@router.get("/candles/{symbol}", tags=["market"])
def candles(request: Request, symbol: str, caller: Viewer, bot: str | None = None,
            limit: Annotated[int, Query(ge=1, le=50_000)] = 10_000) -> dict[str, Any]:
    """The engine's candle history for a pair (what its strategies see: open times in
    epoch seconds) with the trades' entries and exits on it."""
    api = ctx_of(request).api
    sym = symbol_of(symbol)
    bars: dict[str, list[float]] = {"t": [], "o": [], "h": [], "l": [], "c": [], "v": []}
    timeframe = None
    runtimes = getattr(getattr(api, "strategies", None), "runtimes", {})
    for name, rt in runtimes.items():
        if (bot is None or name == bot) and sym in rt.buffers and rt.buffers[sym].n:
            f = rt.buffers[sym].frame(0)
            lo = max(0, f.n - limit)
            bars = {"t": (f["date"][lo:] / 1000).tolist(), "o": f["open"][lo:].tolist(),
                    "h": f["high"][lo:].tolist(), "l": f["low"][lo:].tolist(),
                    "c": f["close"][lo:].tolist(), "v": f["volume"][lo:].tolist()}
            timeframe = rt.timeframe
            break
    t0 = bars["t"][0] if bars["t"] else 0.0
    with api.sessions() as s:
        trades = s.exec(select(Trade).where(Trade.symbol == sym)
                        .order_by(col(Trade.open_at).desc()).limit(2000)).all()
    marks: list[dict[str, Any]] = []
    for t in trades:
        if t.open_at.timestamp() >= t0:
            marks.append({"t": t.open_at.timestamp(), "kind": "entry", "price": float(t.open_price),
                          "trade_id": t.id})
        if t.close_at is not None and t.close_price is not None and t.close_at.timestamp() >= t0:
            marks.append({"t": t.close_at.timestamp(), "kind": "exit",
                          "price": float(t.close_price), "trade_id": t.id,
                          "reason": t.exit_reason, "pnl": plain(t.realized_pnl)})
    marks.sort(key=lambda m: float(m["t"]))
    return {"symbol": sym, "timeframe": timeframe, **bars, "marks": marks}


@router.get("/pairs", tags=["market"])
def pairs(request: Request, caller: Viewer) -> list[str]:
    return sorted({s for b in ctx_of(request).api.list_bots() for s in b.symbols})


@router.get("/logs", tags=["status"])
async def logs(request: Request, caller: Admin,
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """The chat's /logs (admin): the log file's tail, else breakers and failed alerts;
    plus the latest alerts as recorded."""
    api = ctx_of(request).api
    user = Identity("api", caller.name, caller.name, caller.role)
    reply = await COMMANDS["logs"].handle(Ctx(api=api, user=user), [str(limit)])
    alerts = []
    from engine.storage.models import OutboxMessage

    with api.sessions() as s:
        for m in s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id).desc())
                        .limit(limit)).all():
            alerts.append({"id": m.id, "kind": m.kind, "text": m.payload.get("text"),
                           "ts": plain(m.ts_event)})
    return {"lines": reply.text.splitlines(), "alerts": alerts}
