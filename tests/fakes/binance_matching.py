"""Order matching of the fake Binance (`tests.fakes.exchange_server`): Binance spot's
order types and their REST rules, kept apart from the HTTP endpoints.

MARKET, LIMIT (timeInForce GTC / IOC / FOK), LIMIT_MAKER (refused with -2010 when it
would take), STOP_LOSS(_LIMIT) and TAKE_PROFIT(_LIMIT) with `stopPrice` (refused when
it would trigger at once) or `trailingDelta` (basis points from the best price since
placement, or since `stopPrice` was reached). `set_price` moves the market and matches
the resting orders; `liquidity[symbol]` caps what one match can trade.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT",
               "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]


@dataclass
class FakeOrder:
    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal
    price: Decimal | None
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    status: str = "NEW"
    pending_rest: bool = False
    ts: int = field(default_factory=lambda: int(time.time() * 1000))
    tif: str = "GTC"
    stop_price: Decimal | None = None
    trailing_delta: int | None = None  # basis points
    best: Decimal | None = None  # trailing: best price since placement
    triggered: bool = False

    @property
    def working(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def conditional(self) -> bool:
        return self.type.startswith(("STOP_LOSS", "TAKE_PROFIT"))


class BinanceMatching:
    """Mixed into `FakeBinance`: the matching engine over its orders and balances."""

    prices: dict[str, Decimal]
    orders: dict[str, FakeOrder]
    liquidity: dict[str, Decimal]

    @staticmethod
    def _err(code: int, msg: str, status: int = 400) -> web.Response:
        return web.json_response({"code": code, "msg": msg}, status=status)

    def _fill(self, o: FakeOrder, qty: Decimal, price: Decimal | None = None) -> None:
        raise NotImplementedError

    def _admit(self, o: FakeOrder, q: Any) -> web.Response | None:
        """Binance's parameter rules for the order type (None: accepted)."""
        if o.type not in ORDER_TYPES:
            return self._err(-1116, "Invalid orderType.")
        tif = q.get("timeInForce")
        needs_tif = o.type in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
        if needs_tif and tif not in ("GTC", "IOC", "FOK"):
            return self._err(-1102, "Mandatory parameter 'timeInForce' was not sent, was "
                                    "empty/null, or malformed.")
        if not needs_tif and tif is not None:
            return self._err(-1106, "Parameter 'timeInForce' sent when not required.")
        o.tif = str(tif or "GTC")
        if (o.type.endswith("LIMIT") or o.type == "LIMIT_MAKER") and o.price is None:
            return self._err(-1102, "Mandatory parameter 'price' was not sent, was "
                                    "empty/null, or malformed.")
        o.stop_price = Decimal(str(q["stopPrice"])) if q.get("stopPrice") else None
        o.trailing_delta = int(q["trailingDelta"]) if q.get("trailingDelta") else None
        if o.conditional and o.stop_price is None and o.trailing_delta is None:
            return self._err(-1102, "Mandatory parameter 'stopPrice' was not sent, was "
                                    "empty/null, or malformed.")
        last = self.prices[o.symbol]
        if o.type == "LIMIT_MAKER" and self._crosses(o, o.price or last, last):
            return self._err(-2010, "Order would immediately match and take.")
        if o.conditional and o.stop_price is not None and o.trailing_delta is None \
                and self._fires(o, last):
            return self._err(-2010, "Stop price would trigger immediately.")
        if o.trailing_delta is not None and o.stop_price is None:
            o.best = last  # tracking starts at placement
        return None

    @staticmethod
    def _crosses(o: FakeOrder, limit: Decimal, last: Decimal) -> bool:
        return last <= limit if o.side == "BUY" else last >= limit

    def _fires(self, o: FakeOrder, last: Decimal) -> bool:
        """STOP_LOSS: a sell fires when the price falls to the stop, a buy when it rises
        to it; TAKE_PROFIT the reverse. With trailingDelta the stop trails the best
        price since placement (or since stopPrice was reached) by delta bips."""
        falling = (o.side == "SELL") == o.type.startswith("STOP_LOSS")
        if o.trailing_delta is not None:
            if o.best is None:
                assert o.stop_price is not None
                reached = last <= o.stop_price if falling else last >= o.stop_price
                if not reached:
                    return False
                o.best = last
            o.best = max(o.best, last) if falling else min(o.best, last)
            k = Decimal(o.trailing_delta) / Decimal(10_000)
            level = o.best * (1 - k) if falling else o.best * (1 + k)
        else:
            assert o.stop_price is not None
            level = o.stop_price
        return last <= level if falling else last >= level

    def _available(self, o: FakeOrder) -> Decimal:
        left = o.qty - o.executed
        cap = self.liquidity.get(o.symbol)
        return left if cap is None else min(left, cap)

    def _take(self, o: FakeOrder) -> None:
        """A market order (or a fired STOP_LOSS/TAKE_PROFIT): what the book has now, the
        rest expires."""
        qty = self._available(o)
        if qty > 0:
            self._fill(o, qty, self.prices[o.symbol])
        if o.executed < o.qty:
            o.status = "EXPIRED"

    def _match_limit(self, o: FakeOrder, *, taker: bool) -> None:
        """A limit order meets the market: a taker fills at the market price, a resting
        order at its own; IOC expires the rest, FOK all or nothing."""
        last = self.prices[o.symbol]
        assert o.price is not None
        if not self._crosses(o, o.price, last):
            if o.tif in ("IOC", "FOK"):
                o.status = "EXPIRED"
            return
        qty = self._available(o)
        if o.tif == "FOK" and qty < o.qty - o.executed:
            o.status = "EXPIRED"
            return
        if qty > 0:
            self._fill(o, qty, last if taker else o.price)
        if o.tif == "IOC" and o.executed < o.qty:
            o.status = "EXPIRED"

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move the market: fire stops, fill resting limits (each up to the liquidity)."""
        self.prices[symbol] = price
        for o in list(self.orders.values()):
            if o.symbol != symbol or not o.working:
                continue
            if o.conditional and not o.triggered:
                if not self._fires(o, price):
                    continue
                o.triggered = True
                if not o.type.endswith("LIMIT"):
                    self._take(o)
                    continue
                self._match_limit(o, taker=True)
            elif o.type in ("LIMIT", "LIMIT_MAKER") or o.triggered:
                self._match_limit(o, taker=False)
