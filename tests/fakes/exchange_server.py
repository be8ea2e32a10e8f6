"""A fake Binance spot REST API on loopback, for running real ccxt against it.

Speaks the endpoints the engine uses (exchangeInfo, order create/fetch/cancel,
openOrders, account) with Binance's JSON shapes and error codes, keeps orders and
balances in memory, and injects faults on demand:

    fake.faults.append(Fault("POST /api/v3/order", "timeout_after_accept"))

Kinds: `timeout` (sleep past the client's timeout before doing anything),
`timeout_after_accept` (book the order, then sleep: the client sees a timeout for an
order that exists), `429`, `500`, `partial` (a market order fills half; the rest fills
on the next GET). `point_exchange(ex, fake.url)` rewrites a ccxt exchange's URLs.

Order types follow Binance's spot REST semantics: MARKET, LIMIT (timeInForce GTC / IOC
/ FOK), LIMIT_MAKER (refused with -2010 when it would take), STOP_LOSS(_LIMIT) and
TAKE_PROFIT(_LIMIT) with `stopPrice` (refused when it would trigger at once) or
`trailingDelta` (basis points from the best price since placement). Resting orders
are matched when a test moves the price with `fake.set_price(symbol, price)`; a
triggered STOP_LOSS/TAKE_PROFIT becomes a market order, a *_LIMIT one a limit order.
`fake.liquidity[symbol]` caps the quantity one match can trade (partial fills: an IOC
or market order then EXPIRES with what it got, a FOK expires with nothing, a GTC
limit stays PARTIALLY_FILLED).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.fakes.binance_matching import ORDER_TYPES, BinanceMatching, FakeOrder


@dataclass
class Fault:
    route: str  # "POST /api/v3/order"
    kind: str
    times: int = 1


class FakeBinance(BinanceMatching):
    def __init__(self, prices: dict[str, Decimal] | None = None, delay_s: float = 2.0) -> None:
        self.prices = prices or {"BTCUSDT": Decimal("60000"), "ETHUSDT": Decimal("3000")}
        self.balances: dict[str, list[Decimal]] = {"USDT": [Decimal(10000), Decimal(0)],
                                                    "BTC": [Decimal(0), Decimal(0)]}
        self.orders: dict[str, FakeOrder] = {}
        self.faults: list[Fault] = []
        self.candles: dict[str, dict[int, tuple[float, ...]]] = {}
        self.requests: list[str] = []
        self.liquidity: dict[str, Decimal] = {}  # symbol -> max quantity per match
        self.delay_s = delay_s
        self.walk = False  # unscripted candles: a deterministic random walk, not flat
        self.now_ms: int | None = None
        # the REST order book snapshot: (lastUpdateId, bids, asks) per symbol
        self.books: dict[str, tuple[int, list[tuple[float, float]],
                                    list[tuple[float, float]]]] = {}  # the fake's clock for klines (None: real time)
        self._ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/api/v3/exchangeInfo", self.exchange_info)
        app.router.add_post("/api/v3/order", self.create)
        app.router.add_get("/api/v3/order", self.get)
        app.router.add_delete("/api/v3/order", self.cancel)
        app.router.add_get("/api/v3/openOrders", self.open_orders)
        app.router.add_get("/api/v3/account", self.account)
        app.router.add_get("/api/v3/time", self.time)
        app.router.add_get("/api/v3/klines", self.klines)
        app.router.add_get("/api/v3/depth", self.depth)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------ helpers
    async def _fault(self, route: str) -> tuple[str | None, web.Response | None]:
        self.requests.append(route)
        for f in self.faults:
            if f.route == route and f.times > 0:
                f.times -= 1
                if f.kind == "timeout":
                    await asyncio.sleep(self.delay_s)
                    return f.kind, web.json_response({}, status=200)
                if f.kind == "429":
                    return f.kind, web.json_response(
                        {"code": -1003, "msg": "Too many requests."}, status=429)
                if f.kind == "500":
                    return f.kind, web.Response(status=500, text="Internal error")
                return f.kind, None
        return None, None

    @staticmethod
    def _err(code: int, msg: str, status: int = 400) -> web.Response:
        return web.json_response({"code": code, "msg": msg}, status=status)

    def _json(self, o: FakeOrder) -> dict[str, Any]:
        return {"symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
                "clientOrderId": o.client_id, "price": str(o.price or "0.00000000"),
                "origQty": str(o.qty), "executedQty": str(o.executed),
                "cummulativeQuoteQty": str(o.quote), "status": o.status,
                "timeInForce": o.tif, "type": o.type, "side": o.side, "time": o.ts,
                "updateTime": int(time.time() * 1000), "transactTime": o.ts,
                "workingTime": o.ts if not o.conditional or o.triggered else -1,
                "isWorking": not o.conditional or o.triggered,
                **({"stopPrice": str(o.stop_price)} if o.stop_price is not None else {}),
                **({"trailingDelta": o.trailing_delta} if o.trailing_delta else {})}

    def _fill(self, o: FakeOrder, qty: Decimal, price: Decimal | None = None) -> None:
        if price is None:
            price = self.prices[o.symbol] if o.type == "MARKET" else (o.price or Decimal(0))
        cost = qty * price
        base = o.symbol.removesuffix("USDT")
        self.balances.setdefault(base, [Decimal(0), Decimal(0)])
        if o.side == "BUY":
            self.balances["USDT"][0] -= cost
            self.balances[base][0] += qty
        else:
            self.balances[base][0] -= qty
            self.balances["USDT"][0] += cost
        o.executed += qty
        o.quote += cost
        o.status = "FILLED" if o.executed >= o.qty else "PARTIALLY_FILLED"

    def kline(self, symbol: str, open_ms: int, step_ms: int) -> tuple[float, ...]:
        """OHLCV of the candle opening at `open_ms`: `candles[symbol][open_ms]` when the
        test set one, else flat at the symbol's price. Tests script moves with it."""
        got = self.candles.get(symbol, {}).get(open_ms)
        if got is not None:
            return got
        if self.walk:
            return walk_kline(symbol, open_ms, step_ms)
        p = float(self.prices.get(symbol, Decimal(1)))
        return (p, p, p, p, 1.0)

    # ------------------------------------------------------------ endpoints
    async def klines(self, request: web.Request) -> web.Response:
        """Binance's /api/v3/klines: candles up to now, the forming one included (as the
        real API does: clients drop it)."""
        _, resp = await self._fault("GET /api/v3/klines")
        if resp is not None:
            return resp
        q = request.query
        from engine.data.candles import TIMEFRAME_MS

        step = TIMEFRAME_MS.get(q.get("interval", ""), 0)
        if not step or q.get("symbol") not in self.prices:
            return self._err(-1121, "Invalid symbol or interval.")
        limit = min(int(q.get("limit", 500)), 1000)
        now = int(time.time() * 1000) if self.now_ms is None else self.now_ms
        end = min(now, int(q["endTime"])) if "endTime" in q else now
        start = int(q["startTime"]) if "startTime" in q else end - limit * step
        t = -(-start // step) * step
        rows: list[list[Any]] = []
        while t <= end and len(rows) < limit:
            o, h, lo, c, v = self.kline(q["symbol"], t, step)
            rows.append([t, f"{o:.8f}", f"{h:.8f}", f"{lo:.8f}", f"{c:.8f}", f"{v:.8f}",
                         t + step - 1, "0", 1, "0", "0", "0"])
            t += step
        return web.json_response(rows)

    async def depth(self, request: web.Request) -> web.Response:
        _, resp = await self._fault("GET /api/v3/depth")
        if resp is not None:
            return resp
        sym = request.query.get("symbol", "")
        if sym not in self.prices:
            return self._err(-1121, "Invalid symbol.")
        p = float(self.prices[sym])
        last, bids, asks = self.books.get(sym, (1, [(p - 1, 1.0)], [(p + 1, 1.0)]))
        return web.json_response({
            "lastUpdateId": last,
            "bids": [[f"{a:.8f}", f"{b:.8f}"] for a, b in bids],
            "asks": [[f"{a:.8f}", f"{b:.8f}"] for a, b in asks]})

    async def time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": int(time.time() * 1000)})

    async def exchange_info(self, request: web.Request) -> web.Response:
        _, resp = await self._fault("GET /api/v3/exchangeInfo")
        if resp is not None:
            return resp
        symbols = []
        for sym in self.prices:
            base = sym.removesuffix("USDT")
            symbols.append({
                "symbol": sym, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
                "quoteAsset": "USDT", "quotePrecision": 8, "quoteAssetPrecision": 8,
                "orderTypes": ORDER_TYPES, "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False, "permissions": ["SPOT"],
                "permissionSets": [["SPOT"]],
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000",
                     "tickSize": "0.01"},
                    {"filterType": "LOT_SIZE", "minQty": "0.00010", "maxQty": "9000",
                     "stepSize": "0.00010"},
                    {"filterType": "NOTIONAL", "minNotional": "10.00",
                     "maxNotional": "9000000"},
                ]})
        return web.json_response({"timezone": "UTC", "serverTime": int(time.time() * 1000),
                                  "rateLimits": [], "symbols": symbols})

    async def create(self, request: web.Request) -> web.Response:
        kind, resp = await self._fault("POST /api/v3/order")
        if resp is not None:
            return resp
        q = {**request.query, **(await request.post())}
        cid = str(q.get("newClientOrderId") or f"x-{next(self._ids)}")
        if cid in self.orders and self.orders[cid].status in ("NEW", "PARTIALLY_FILLED"):
            return self._err(-2010, "Duplicate order sent.")
        sym = str(q["symbol"])
        qty = Decimal(str(q["quantity"]))
        price = Decimal(str(q["price"])) if q.get("price") else None
        o = FakeOrder(next(self._ids), cid, sym, str(q["side"]), str(q["type"]), qty, price)
        refused = self._admit(o, q)
        if refused is not None:
            return refused
        cost = qty * (price or o.stop_price or self.prices[sym])
        if o.side == "BUY" and self.balances["USDT"][0] < cost:
            return self._err(-2010, "Account has insufficient balance for requested action.")
        base = sym.removesuffix("USDT")
        if o.side == "SELL" and self.balances.get(base, [Decimal(0)])[0] < qty:
            return self._err(-2010, "Account has insufficient balance for requested action.")
        self.orders[cid] = o
        if o.type == "MARKET":
            if kind == "partial":
                step = Decimal("0.0001")
                self._fill(o, ((qty / 2) / step).to_integral_value() * step)
                o.pending_rest = True
            else:
                self._take(o)
        elif o.type in ("LIMIT", "LIMIT_MAKER"):
            self._match_limit(o, taker=True)
        if kind == "timeout_after_accept":
            await asyncio.sleep(self.delay_s)
        return web.json_response(self._json(o))

    async def get(self, request: web.Request) -> web.Response:
        _, resp = await self._fault("GET /api/v3/order")
        if resp is not None:
            return resp
        cid = request.query.get("origClientOrderId", "")
        o = self.orders.get(cid)
        if o is None:
            return self._err(-2013, "Order does not exist.")
        if o.pending_rest:
            o.pending_rest = False
            self._fill(o, o.qty - o.executed)
        return web.json_response(self._json(o))

    async def cancel(self, request: web.Request) -> web.Response:
        _, resp = await self._fault("DELETE /api/v3/order")
        if resp is not None:
            return resp
        o = self.orders.get(request.query.get("origClientOrderId", ""))
        if o is None or not o.working:
            return self._err(-2011, "Unknown order sent.")
        o.status = "CANCELED"
        return web.json_response(self._json(o))

    async def open_orders(self, request: web.Request) -> web.Response:
        _, resp = await self._fault("GET /api/v3/openOrders")
        if resp is not None:
            return resp
        sym = request.query.get("symbol")
        return web.json_response([self._json(o) for o in self.orders.values()
                                  if o.status in ("NEW", "PARTIALLY_FILLED")
                                  and (sym is None or o.symbol == sym)])

    async def account(self, request: web.Request) -> web.Response:
        _, resp = await self._fault("GET /api/v3/account")
        if resp is not None:
            return resp
        return web.json_response({
            "makerCommission": 10, "takerCommission": 10, "canTrade": True,
            "accountType": "SPOT", "permissions": ["SPOT"],
            "balances": [{"asset": a, "free": str(f), "locked": str(lk)}
                         for a, (f, lk) in self.balances.items()]})


def walk_kline(symbol: str, open_ms: int, step_ms: int) -> tuple[float, ...]:
    """A candle that depends only on (symbol, open time, step): the same question gets
    the same answer on every request, so downloads can be compared byte for byte."""
    import hashlib

    h = hashlib.blake2b(f"{symbol}:{open_ms}:{step_ms}".encode(), digest_size=16).digest()
    u = [b / 255.0 for b in h]
    base = 100.0 + (open_ms // step_ms) % 1000 * 0.01
    o = base * (1 + (u[0] - 0.5) * 0.01)
    c = base * (1 + (u[1] - 0.5) * 0.01)
    hi = max(o, c) * (1 + u[2] * 0.005)
    lo = min(o, c) * (1 - u[3] * 0.005)
    return (round(o, 6), round(hi, 6), round(lo, 6), round(c, 6), round(1 + u[4] * 10, 4))


def point_exchange(exchange: Any, url: str) -> None:
    """Rewrite every REST URL of a ccxt exchange to the fake server (the engine's own
    `exchange.api_url` rewrite)."""
    from engine.data.exchange import rewrite_urls

    rewrite_urls(exchange, url)
