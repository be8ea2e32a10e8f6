"""`POST /webhook/{bot}`: TradingView-style alerts turned into proposals.

The body is JSON: `{"pair": "BTC/USDT", "side": "buy"|"sell", "price": 64000.5}` (price
optional: the engine's last price is used). It must carry
`X-Sentitrade-Signature: sha256=<hex HMAC-SHA256 of the raw body>` made with the bot's
webhook secret (`sentitrade webhook secret BOT` stores it encrypted in the vault and
prints it once). A signature seen in the last 10 minutes is refused: a captured alert
cannot be replayed.

An alert is a signal like any other: recorded with its reason, risk-checked, and made a
proposal that is auto-approved or sent to the chat by the bot's approval mode, through
the engine's own per-candle path (`engine.service.trading.StrategyLoop`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import select

from engine.data.candles import Bar
from engine.errors import SecretsError
from engine.storage.models import BotState, Proposal
from web.deps import WebContext, client_of, ctx_of, plain

log = logging.getLogger("sentitrade.web")
router = APIRouter(tags=["webhook"])
HEADER = "x-sentitrade-signature"
REPLAY_WINDOW_S = 600.0
MAX_BODY = 4096


def secret_name(bot: str) -> str:
    return f"webhook.{bot}"[:64]


def sign(secret: str, body: bytes) -> str:
    """The header value a sender must put on `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Alert(BaseModel):
    pair: str = Field(max_length=32)
    side: str = Field(pattern=r"^(?i:buy|sell|long|exit|close)$")
    price: float | None = Field(default=None, gt=0)


def _secret(ctx: WebContext, bot: str) -> str | None:
    from engine.storage.secrets_sync import vault_for

    vault = ctx.extras.get("vault")
    if vault is None:
        vault = ctx.extras["vault"] = vault_for(ctx.settings)
    with ctx.api.sessions() as s:
        value: str | None = vault.get(s, secret_name(bot))
    return value


def _replayed(ctx: WebContext, signature: str) -> bool:
    seen: dict[str, float] = ctx.extras.setdefault("webhook_seen", {})
    now = time.monotonic()
    for k in [k for k, t in seen.items() if now - t > REPLAY_WINDOW_S]:
        del seen[k]
    if signature in seen:
        return True
    seen[signature] = now
    return False


@router.post("/webhook/{bot}", status_code=201)
async def webhook(request: Request, bot: str) -> dict[str, Any]:
    """Turn a signed alert into a risk-checked proposal for `bot`."""
    ctx = ctx_of(request)
    client = client_of(request)
    if ctx.limiter.blocked(client):
        raise HTTPException(429, "too many failed authentications: wait a minute")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"alert larger than {MAX_BODY} bytes")
    try:
        secret = _secret(ctx, bot)
    except SecretsError as e:
        raise HTTPException(503, str(e)) from None
    given = request.headers.get(HEADER, "")
    if secret is None or not hmac.compare_digest(given, sign(secret, body)):
        ctx.limiter.failed(client)
        ctx.metrics.auth_failures.inc()
        log.warning("webhook for %r from %s refused: bad or missing signature", bot[:64], client)
        raise HTTPException(401, "bad signature")
    if ctx.read_only:
        raise HTTPException(409, "this process only shows the dashboard: send alerts to the "
                                 "one that runs the engine")
    if _replayed(ctx, given):
        raise HTTPException(409, "this alert was already received (replay refused)")
    try:
        alert = Alert.model_validate(json.loads(body))
    except (ValueError, ValidationError) as e:
        raise HTTPException(422, f"alert JSON needs pair, side (buy|sell), optional price: "
                                 f"{str(e).splitlines()[0][:200]}") from None
    return await propose(ctx, bot, alert)


async def propose(ctx: WebContext, bot_name: str, alert: Alert) -> dict[str, Any]:
    """The alert through the engine's signal -> risk -> proposal path."""
    from engine.service.trading import Decision

    eng: Any = ctx.api
    loop = getattr(eng, "strategies", None)
    if loop is None or not hasattr(eng, "holding"):
        raise HTTPException(409, "webhooks need the engine in this process")
    bot = next((b for b in eng.list_bots() if b.name == bot_name), None)
    if bot is None:
        raise HTTPException(404, f"no bot {bot_name!r}")
    pair = alert.pair.replace("-", "/").upper()
    if pair not in bot.symbols:
        raise HTTPException(422, f"bot {bot.name} trades {', '.join(bot.symbols)}, not {pair}")
    side = alert.side.lower()
    entry = side in ("buy", "long")
    if bot.state == BotState.STOPPED or (entry and bot.state != BotState.RUNNING):
        raise HTTPException(409, f"bot {bot.name} is {bot.state}: alert ignored")
    if alert.price is not None:
        try:
            price = float(Decimal(repr(alert.price)))
        except InvalidOperation:
            raise HTTPException(422, "price is not a number") from None
    else:
        last = (await eng.last_prices([pair])).get(pair)
        if last is None:
            raise HTTPException(409, f"no price known for {pair} yet: send one in the alert")
        price = float(last)
    trade = eng.holding(bot.id, pair)
    if entry and trade is not None:
        raise HTTPException(409, f"bot {bot.name} already holds {pair} (trade #{trade.id})")
    if not entry and trade is None:
        raise HTTPException(409, f"bot {bot.name} holds no {pair} to sell (spot only)")
    why = f"webhook alert: {side} {pair} @ {price:.10g}"
    d = Decision("long" if entry else "exit", ("webhook", why), {"webhook": 1.0})
    bar = Bar(pair, bot.timeframe, eng.clock.now(), price, price, price, price, 0.0)
    log.info("webhook: %s for bot %s", why, bot.name)
    sig = await loop.propose(bot, bar, trade, d, at_price=price)
    if sig is None:
        raise HTTPException(409, "alert not recorded (a duplicate at the same instant)")
    with eng.sessions() as s:
        p = s.exec(select(Proposal).where(Proposal.signal_id == sig.id)).first()
    return {"signal": plain(sig), "proposal": plain(p),
            "blocked": sig.inputs.get("blocked"), "skipped": sig.inputs.get("skipped")}
