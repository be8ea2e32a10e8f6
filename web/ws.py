"""WebSocket feeds: `/ws/bot/{bot_id}/status`, `/ws/market/{symbol}`,
`/ws/portfolio/{bot_id}` (`bot_id`: a bot's name or id, or `all`).

Authenticate with `?token=...` or by sending `{"token": "..."}` as the first message
within 10 s. Messages are JSON objects with a `type`: `snapshot` (on connect), `event`
(an engine alert: proposal, decision, fill, breaker...), `bar` (a closed candle),
`portfolio` (open trades with live PnL), `heartbeat` (every `ws_heartbeat_seconds`
when nothing else was sent). A client that falls `ws_queue_size` messages behind is
closed with code 1013 and may reconnect; close 4401 means the token was refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect

from engine.storage.models import Bot
from web.auth import Caller
from web.deps import WebContext, authenticate, client_of, ctx_of, plain
from web.hub import Message
from web.routes_data import symbol_of
from web.routes_trading import positions

router = APIRouter()
SEND_TIMEOUT_S = 5.0
STATUS_KINDS = {"proposal", "proposal_decided", "fill", "order_canceled", "order_failed",
                "breaker_tripped", "breaker_cleared", "error", "daily_summary"}


async def _auth(ws: WebSocket, ctx: WebContext) -> Caller | None:
    await ws.accept()
    token = ws.query_params.get("token")
    if token is None:
        try:
            first = await asyncio.wait_for(ws.receive_text(), timeout=10.0)
            token = str(json.loads(first).get("token", ""))
        except (TimeoutError, ValueError, AttributeError, WebSocketDisconnect):
            token = ""
    try:
        return authenticate(ctx, token, client_of(ws))
    except HTTPException as e:
        with contextlib.suppress(Exception):
            await ws.send_text(json.dumps({"type": "error", "detail": e.detail}))
            await ws.close(code=4429 if e.status_code == 429 else 4401)
        return None


def _bot(ctx: WebContext, bot_id: str) -> Bot | None:
    """None for `all`; else the bot named (or numbered) `bot_id`."""
    if bot_id == "all":
        return None
    for b in ctx.api.list_bots():
        if b.name == bot_id or str(b.id) == bot_id:
            return b
    raise KeyError(bot_id)


def _clean(msg: Message) -> str:
    return json.dumps({k: v for k, v in msg.items() if k != "_t"}, default=str)


async def _pump(ws: WebSocket, ctx: WebContext, accept: Callable[[Message], bool],
                snapshot: Callable[[], Awaitable[Message]],
                transform: Callable[[Message], Awaitable[Message | None]] | None = None) -> None:
    """Send the snapshot, then every accepted message until the client leaves or falls
    behind; a heartbeat fills each quiet `ws_heartbeat_seconds`."""
    hub, m = ctx.hub, ctx.metrics
    sub = hub.subscribe(accept)
    m.ws_clients.inc()
    beat = ctx.settings.api.ws_heartbeat_seconds
    reader = asyncio.create_task(_read_until_closed(ws))
    try:
        await ws.send_text(_clean(await snapshot()))
        while True:
            getter = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait({getter, reader}, timeout=beat,
                                         return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                getter.cancel()
                return
            if sub.dropped:
                getter.cancel()
                m.ws_dropped.inc()
                with contextlib.suppress(Exception):
                    await ws.close(code=1013, reason="too slow: reconnect")
                return
            if getter not in done:
                getter.cancel()
                msg: Message | None = {"type": "heartbeat", "ts": time.time()}
            else:
                msg = getter.result()
                t = msg.get("_t")
                if transform is not None:
                    msg = await transform(msg)
                if msg is None:
                    continue
            if msg is None:
                continue
            await asyncio.wait_for(ws.send_text(_clean(msg)), SEND_TIMEOUT_S)
            if msg.get("type") != "heartbeat" and isinstance(t, float):
                m.ws_latency.observe(time.monotonic() - t)
    except (WebSocketDisconnect, TimeoutError, RuntimeError):
        return  # gone, or too slow to take a message within SEND_TIMEOUT_S
    finally:
        reader.cancel()
        hub.unsubscribe(sub)
        m.ws_clients.dec()


async def _read_until_closed(ws: WebSocket) -> None:
    """Consume (and ignore) client messages; returns when the client disconnects."""
    with contextlib.suppress(Exception):
        while True:
            msg = await ws.receive()
            if msg.get("type") == "websocket.disconnect":
                return


async def _status_snapshot(ctx: WebContext, bot: Bot | None) -> Message:
    api = ctx.api
    rs = api.risk_status()
    pend = [p for p in api.pending_proposals() if bot is None or p.bot_id == bot.id]
    return {"type": "snapshot", "bots": plain([b for b in api.list_bots()
                                               if bot is None or b.id == bot.id]),
            "pending": plain(pend), "trading_state": rs.trading_state,
            "breakers": plain(rs.breakers)}


async def _open(ws: WebSocket, bot_id: str) -> tuple[WebContext, Bot | None] | None:
    """Authenticate and find the bot of a per-bot route; None when refused (closed)."""
    ctx = ctx_of(ws)
    if await _auth(ws, ctx) is None:
        return None
    try:
        return ctx, _bot(ctx, bot_id)
    except KeyError:
        await ws.close(code=4404, reason="no such bot")
        return None


@router.websocket("/ws/bot/{bot_id}/status")
async def ws_status(ws: WebSocket, bot_id: str) -> None:
    opened = await _open(ws, bot_id)
    if opened is None:
        return
    ctx, bot = opened

    def accept(msg: Message) -> bool:
        if msg.get("type") != "event" or msg.get("kind") not in STATUS_KINDS:
            return False
        owner = msg.get("data", {}).get("bot")
        return bot is None or owner is None or owner == bot.name

    await _pump(ws, ctx, accept, lambda: _status_snapshot(ctx, bot))


@router.websocket("/ws/market/{symbol}")
async def ws_market(ws: WebSocket, symbol: str) -> None:
    ctx = ctx_of(ws)
    if await _auth(ws, ctx) is None:
        return
    try:
        sym = symbol_of(symbol)
    except HTTPException:
        await ws.close(code=4404, reason="not a pair")
        return

    def accept(msg: Message) -> bool:
        if msg.get("type") == "bar":
            return msg.get("symbol") == sym
        return msg.get("kind") == "fill" and msg.get("data", {}).get("symbol") == sym

    async def snapshot() -> Message:
        px = await ctx.api.last_prices([sym])
        return {"type": "snapshot", "symbol": sym, "last": plain(px.get(sym))}

    await _pump(ws, ctx, accept, snapshot)


@router.websocket("/ws/portfolio/{bot_id}")
async def ws_portfolio(ws: WebSocket, bot_id: str) -> None:
    opened = await _open(ws, bot_id)
    if opened is None:
        return
    ctx, bot = opened

    async def snapshot() -> Message:
        rows = await positions(ctx.api)
        if bot is not None:
            rows = [r for r in rows if r.get("bot_id") == bot.id]
        bals = await ctx.api.balances()
        return {"type": "portfolio", "open_trades": rows, "balances": plain(bals),
                "ts": time.time()}

    def accept(msg: Message) -> bool:
        return msg.get("type") == "bar" or msg.get("kind") in ("fill", "order_canceled")

    async def transform(msg: Message) -> Message | None:
        if msg.get("type") == "bar":  # only the pairs held move the portfolio
            held = {t.symbol for t in ctx.api.open_trades()
                    if bot is None or t.bot_id == bot.id}
            if msg.get("symbol") not in held:
                return None
        out = await snapshot()
        out["_t"] = msg.get("_t")
        return out

    await _pump(ws, ctx, accept, snapshot, transform)

