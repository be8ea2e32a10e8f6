"""Live broker on ccxt async (Binance-style spot REST).

- precision and limits come from `load_markets()` (loaded once, cached);
- order types map onto ccxt's unified params (`unified`); the ones this exchange cannot
  hold are never sent here: the engine emulates them (`engine.execution.ordertypes`
  says which, `engine.execution.emulation` holds them);
- every order carries our client order id (`newClientOrderId`), so after a timeout we
  ask for it by that id instead of sending it again blindly;
- retries only where they are safe: reads and cancels are retried on timeouts, 429 and
  5xx with backoff; `create_order` is never retried here (a timeout means "maybe
  placed": the execution engine leaves it PENDING_CREATE and reconciliation settles it
  by client id);
- fills are derived from the order's cumulative filled amount and quote cost, as the
  delta from what the DB has booked (`trade_key` = `<exchange id>:<booked>-><now>`), so
  the same exchange state is booked once whichever call reported it, and an exchange
  that reports no trade list (Binance GET /order) still yields exact amounts and
  prices. The fee is the exchange's when it reports one, else the configured taker
  fee.
- ccxt errors map to our tree: InsufficientFunds, InvalidOrder -> OrderRejected,
  RateLimitExceeded/DDoSProtection -> RateLimited, timeouts/5xx/network ->
  ExchangeUnavailable, OrderNotFound -> `fetch_order` returns None.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import ccxt
import ccxt.async_support as ccxt_async
from sqlmodel import Session

from engine.clock import Clock, SystemClock, ms_to_dt
from engine.errors import (
    ExchangeError,
    ExchangeUnavailable,
    InsufficientFunds,
    OrderRejected,
    RateLimited,
)
from engine.execution.broker import BrokerFill, BrokerOrder, MarketInfo, OrderRequest
from engine.execution.ordertypes import (
    LIMIT_PRICED,
    STOP_LIMIT,
    STOP_MARKET,
    TAKE_PROFIT,
    TAKE_PROFIT_LIMIT,
    TRAILING_STOP,
)
from engine.storage.config import Settings
from engine.storage.models import Order

log = logging.getLogger("sentitrade.ccxt")
R = TypeVar("R")
_STATUS = {"open": "open", "closed": "closed", "canceled": "canceled", "cancelled": "canceled",
           "expired": "canceled", "rejected": "rejected"}


def map_error(e: Exception) -> ExchangeError:
    """The most specific error of ours for a ccxt error (message kept, keys never in it)."""
    msg = f"{type(e).__name__}: {str(e)[:300]}"
    if isinstance(e, ccxt.InsufficientFunds):
        return InsufficientFunds(msg)
    if isinstance(e, ccxt.InvalidOrder | ccxt.BadSymbol | ccxt.BadRequest):
        return OrderRejected(msg)
    if isinstance(e, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return RateLimited(msg, retry_after=1.0)
    if isinstance(e, ccxt.NetworkError | ccxt.ExchangeNotAvailable | ccxt.RequestTimeout):
        return ExchangeUnavailable(msg)
    return ExchangeError(msg)


def _dec(v: Any) -> Decimal:
    return Decimal(str(v)) if v is not None else Decimal(0)


class CcxtBroker:
    def __init__(self, exchange: Any, *, account: str = "live", clock: Clock | None = None,
                 taker_fee: Decimal = Decimal("0.001"), retries: int = 3,
                 backoff_s: float = 0.2, type_overrides: dict[str, str] | None = None) -> None:
        self.exchange = exchange
        self.type_overrides = type_overrides  # order type -> native | emulated
        self.name = str(exchange.id)
        self.account = account
        self.clock = clock or SystemClock()
        self.taker_fee = taker_fee
        self.retries = retries
        self.backoff_s = backoff_s
        self._markets: dict[str, MarketInfo] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> CcxtBroker:
        ex = settings.exchange
        klass = getattr(ccxt_async, ex.id)
        from engine.data.exchange import ccxt_client

        exchange = ccxt_client(settings, klass, keys=True, futures=False)
        return cls(exchange, taker_fee=ex.taker_fee, **kw)

    async def _call(self, fn: Callable[[], Awaitable[R]], *, safe: bool) -> R:
        """Call ccxt; retry transient errors only when `safe` (idempotent requests)."""
        attempt = 0
        while True:
            try:
                return await fn()
            except ccxt.BaseError as e:
                mapped = map_error(e)
                transient = isinstance(mapped, RateLimited | ExchangeUnavailable)
                if not (safe and transient) or attempt >= self.retries:
                    raise mapped from None
                attempt += 1
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))

    async def load_markets(self) -> dict[str, MarketInfo]:
        if self._markets is None:
            raw = await self._call(lambda: self.exchange.load_markets(), safe=True)
            out: dict[str, MarketInfo] = {}
            for sym, m in raw.items():
                if not m.get("spot", True):
                    continue
                lim, prec = m.get("limits", {}), m.get("precision", {})
                out[sym] = MarketInfo(
                    sym, m["base"], m["quote"],
                    min_amount=_dec((lim.get("amount") or {}).get("min")),
                    min_cost=_dec((lim.get("cost") or {}).get("min")),
                    amount_step=_dec(prec.get("amount") or "0.00000001"),
                    price_step=_dec(prec.get("price") or "0.00000001"))
            self._markets = out
        return dict(self._markets)

    async def create_order(self, req: OrderRequest) -> BrokerOrder:
        await self.load_markets()
        ex = self.exchange
        amount = ex.amount_to_precision(req.symbol, float(req.amount))
        kind, params = self.unified(req)
        price = (ex.price_to_precision(req.symbol, float(req.price))
                 if req.price and kind == "limit" else None)
        raw = await self._call(lambda: ex.create_order(req.symbol, kind, req.side,
                                                       amount, price, params), safe=False)
        return self._parse(raw, req.client_order_id, Decimal(0), None)

    def unified(self, req: OrderRequest) -> tuple[str, dict[str, Any]]:
        """Our order type as ccxt's unified call: `market`/`limit` plus the params its
        `createOrder` maps (Binance spot: `stopPrice` -> STOP_LOSS(_LIMIT),
        `takeProfitPrice` -> TAKE_PROFIT(_LIMIT), `postOnly` -> LIMIT_MAKER,
        `trailingPercent` -> `trailingDelta` in basis points, `timeInForce`)."""
        ex = self.exchange
        kind = "limit" if req.type in LIMIT_PRICED else "market"
        params: dict[str, Any] = {"newClientOrderId": req.client_order_id}
        if req.post_only:
            params["postOnly"] = True
        elif kind == "limit":  # a market order (or stop-market) takes what there is
            params["timeInForce"] = req.time_in_force
        trigger = (ex.price_to_precision(req.symbol, float(req.trigger_price))
                   if req.trigger_price else None)
        if req.type in (STOP_MARKET, STOP_LIMIT):
            params["stopPrice"] = trigger
        elif req.type in (TAKE_PROFIT, TAKE_PROFIT_LIMIT):
            params["takeProfitPrice"] = trigger
        elif req.type == TRAILING_STOP:
            params["trailingPercent"] = str(req.trailing_pct)
            params["stopLossOrTakeProfit"] = "stopLoss"
            if trigger is not None:
                params["trailingTriggerPrice"] = trigger
        return kind, params

    async def fetch_order(self, order: Order) -> BrokerOrder | None:
        try:
            raw = await self._call(lambda: self.exchange.fetch_order(
                None, order.symbol, {"origClientOrderId": order.client_order_id}), safe=True)
        except OrderRejected as e:
            if "OrderNotFound" in str(e):
                return None
            raise
        except ExchangeError as e:
            if "OrderNotFound" in str(e):
                return None
            raise
        return self._parse(raw, order.client_order_id, order.filled, order.average_price)

    async def cancel_order(self, order: Order) -> BrokerOrder:
        try:
            raw = await self._call(lambda: self.exchange.cancel_order(
                order.exchange_order_id, order.symbol,
                {"origClientOrderId": order.client_order_id}), safe=True)
        except ExchangeError as e:
            if "OrderNotFound" not in str(e):
                raise
            res = await self.fetch_order(order)  # already filled or canceled: its state
            if res is None:
                raise
            return res
        return self._parse(raw, order.client_order_id, order.filled, order.average_price)

    async def fetch_balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        raw = await self._call(lambda: self.exchange.fetch_balance(), safe=True)
        out: dict[str, tuple[Decimal, Decimal]] = {}
        for asset, free in (raw.get("free") or {}).items():
            locked = (raw.get("used") or {}).get(asset)
            if free or locked:
                out[asset] = (_dec(free), _dec(locked))
        return out

    async def fetch_open_client_ids(self, symbols: list[str]) -> dict[str, str]:
        """Open orders at the exchange: client id -> symbol (for the orphan check)."""
        out: dict[str, str] = {}
        for sym in symbols:
            rows: list[dict[str, Any]] = await self._call(self._open_orders(sym), safe=True)
            for r in rows:
                if r.get("clientOrderId"):
                    out[str(r["clientOrderId"])] = sym
        return out

    def _open_orders(self, symbol: str) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
        async def run() -> list[dict[str, Any]]:
            return list(await self.exchange.fetch_open_orders(symbol))

        return run

    def _parse(self, raw: dict[str, Any], client_id: str, booked: Decimal,
               booked_avg: Decimal | None) -> BrokerOrder:
        filled = _dec(raw.get("filled"))
        cost = raw.get("cost")
        total_cost = _dec(cost) if cost is not None else filled * _dec(raw.get("average"))
        status = _STATUS.get(str(raw.get("status")), "open")
        eid = str(raw.get("id")) if raw.get("id") is not None else None
        fills: tuple[BrokerFill, ...] = ()
        delta = filled - booked
        if delta > 0:
            delta_cost = total_cost - (booked_avg or Decimal(0)) * booked
            price = (delta_cost / delta).quantize(Decimal("0.00000001"))
            fee_info = raw.get("fee") or {}
            fee = (delta_cost * self.taker_fee).quantize(Decimal("0.00000001"))
            if fee_info.get("cost") is not None and booked == 0 and status == "closed":
                fee = _dec(fee_info["cost"])
            ts = raw.get("lastTradeTimestamp") or raw.get("timestamp")
            fills = (BrokerFill(f"{eid}:{booked.normalize()}->{filled.normalize()}", delta,
                                price, fee, str(fee_info.get("currency") or ""),
                                ms_to_dt(int(ts)) if ts else self.clock.now(), booked),)
        return BrokerOrder(str(raw.get("clientOrderId") or client_id), eid, status, filled,
                           _dec(raw.get("average")) if raw.get("average") else None, fills)

    def on_open(self, session: Session, order: Order) -> None:
        return None

    def on_fill(self, session: Session, order: Order, fill: BrokerFill) -> None:
        return None

    def on_release(self, session: Session, order: Order) -> None:
        return None

    async def close(self) -> None:
        await self.exchange.close()
