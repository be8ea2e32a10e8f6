"""Stop-loss on the exchange (Freqtrade's `order_types["stoploss_on_exchange"]`).

After an entry fills, `place_stoploss` puts a stop order for the whole position at the
trade's stop price: native where the exchange holds stops (the capability table),
otherwise emulated by the engine (`engine.execution.emulation`), so the protection
survives the bot being slow, and, when native, the bot being down. It replaces the
previous stop when the price or the position changed and is idempotent otherwise, so
calling `protect_open_trades` after every candle is safe. An exit order cancels the
trade's stop first (`ExecutionEngine.submit` -> `cancel_protective`), releasing the
coins it holds; a stop that fills closes the trade with reason `stoploss_on_exchange`.

Wiring (for `engine.service`): after each candle, for the bots whose strategy says
`wants_stoploss_on_exchange(strategy.order_types)`, call
`await protect_open_trades(engine.execution, bot_ids, limit_ratio=...)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from engine.errors import ExchangeError
from engine.execution.engine import ExecutionEngine
from engine.execution.ordertypes import STOP_LIMIT, STOP_MARKET
from engine.storage.models import Order, OrderState, Trade

_ACTIVE = [OrderState.PENDING_CREATE, OrderState.OPEN, OrderState.PARTIALLY_FILLED]


def wants_stoploss_on_exchange(order_types: Mapping[str, Any]) -> bool:
    return bool(order_types.get("stoploss_on_exchange", False))


def _stops(execution: ExecutionEngine, trade_id: int) -> tuple[list[Order], int]:
    with execution.sessions() as s:
        rows = list(s.exec(select(Order).where(
            Order.trade_id == trade_id, col(Order.type).in_([STOP_MARKET, STOP_LIMIT]),
            Order.side == "sell").order_by(col(Order.id))).all())
    return [o for o in rows if o.state in _ACTIVE], len(rows)


async def place_stoploss(execution: ExecutionEngine, trade_id: int,
                         stop_price: Decimal | None = None, *,
                         limit_ratio: Decimal | None = None) -> Order | None:
    """Protect an open trade with a stop order at `stop_price` (default: the trade's
    stop). `limit_ratio` makes it a stop-limit at stop x ratio (Freqtrade's
    `stoploss_on_exchange_limit_ratio`, e.g. 0.99). Returns the working stop order,
    or None when the trade is closed or has no stop price."""
    with execution.sessions() as s:
        t = s.get(Trade, trade_id)
        if t is None or not t.is_open or t.amount <= 0:
            return None
        stop = stop_price if stop_price is not None else t.stop_price
        amount, symbol, bot_id = t.amount, t.symbol, t.bot_id
    if stop is None or stop <= 0:
        return None
    type_ = STOP_LIMIT if limit_ratio is not None else STOP_MARKET
    limit = (stop * limit_ratio) if limit_ratio is not None else None
    active, n = _stops(execution, trade_id)
    try:  # the working stop went out on the market's tick and step (`apply_rules`)
        m = (await execution.broker.load_markets()).get(symbol)
    except ExchangeError:
        m = None
    sent = (m.round_price(stop), m.round_amount(amount)) if m is not None else (stop, amount)
    for o in active:
        if (o.trigger_price, o.amount) in ((stop, amount), sent) and o.type == type_:
            return o  # already in place
    for o in active:
        assert o.id is not None
        await execution.cancel(o.id, "stop-loss replaced")
    with execution.sessions.begin() as s:
        o = execution.add_order(s, f"st-t{trade_id}-sl{n + 1}", symbol=symbol, side="sell",
                                amount=amount, type_=type_, price=limit, bot_id=bot_id,
                                trade_id=trade_id, trigger_price=stop, reduce_only=True)
        oid = o.id
    assert oid is not None
    return await execution.submit(oid)


async def cancel_stoploss(execution: ExecutionEngine, trade_id: int,
                          reason: str = "stop-loss canceled") -> int:
    """Cancel the trade's working stop orders (its coins become free again)."""
    return await execution.cancel_protective(trade_id, reason)


def stoploss_limit_ratio(order_types: Mapping[str, Any]) -> Decimal | None:
    """Freqtrade: `order_types["stoploss"] == "limit"` places a stop-limit at stop x
    `stoploss_on_exchange_limit_ratio` (default 0.99); otherwise a stop-market."""
    if order_types.get("stoploss", "market") != "limit":
        return None
    return Decimal(str(order_types.get("stoploss_on_exchange_limit_ratio", "0.99")))


async def protect_bots(execution: ExecutionEngine,
                       bots: Mapping[int, Mapping[str, Any]]) -> list[Order]:
    """`bots`: bot id -> its strategy's `order_types`; protects the open trades of the
    bots that ask for `stoploss_on_exchange` (the service calls this after a candle)."""
    out: list[Order] = []
    for bot_id, ot in bots.items():
        if wants_stoploss_on_exchange(ot):
            out += await protect_open_trades(execution, [bot_id],
                                             limit_ratio=stoploss_limit_ratio(ot))
    return out


async def protect_open_trades(execution: ExecutionEngine, bot_ids: Iterable[int], *,
                              limit_ratio: Decimal | None = None) -> list[Order]:
    """Ensure every open trade of these bots has its stop on the exchange (placed after
    the entry fill, replaced when the stop or the position moved)."""
    ids = list(bot_ids)
    if not ids:
        return []
    with execution.sessions() as s:
        trades = [t.id for t in s.exec(select(Trade).where(
            col(Trade.is_open).is_(True), col(Trade.bot_id).in_(ids))).all()]
        # an exit order at work holds the coins (it canceled the stop when it was sent):
        # no new stop until it is done, or each candle would log a failed stop order
        exiting = set(s.exec(select(Order.trade_id).where(
            col(Order.trade_id).in_(trades), Order.side == "sell",
            col(Order.type).not_in([STOP_LIMIT, STOP_MARKET]),
            col(Order.state).in_(_ACTIVE))).all())
    out: list[Order] = []
    for tid in trades:
        assert tid is not None
        if tid in exiting:
            continue
        o = await place_stoploss(execution, tid, limit_ratio=limit_ratio)
        if o is not None:
            out.append(o)
    return out
