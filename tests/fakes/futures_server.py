"""A fake Binance USDⓈ-M futures REST API on loopback, for real ccxt against it.

Speaks what the futures broker uses, with Binance's JSON shapes and error codes:
``/fapi/v1/exchangeInfo``, ``/fapi/v1/leverage``, ``/fapi/v1/marginType`` (-4046 when
nothing changes), ``/fapi/v1/order`` (market orders fill at once at the mark price),
``/fapi/v2|v3/positionRisk``, ``/fapi/v1/premiumIndex``, ``/fapi/v1/leverageBracket``.
One-way mode: one position per symbol (``positionAmt`` < 0 is a short). The liquidation
price it reports is the exchange's isolated formula written out here independently of
`engine.margin`, so a test can hold the engine's number against the "exchange's".
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

# BTCUSDT brackets: (notional floor, cap, maintenance margin rate, cum, max leverage)
BRACKETS = [(0, 50_000, 0.004, 0.0, 125), (50_000, 250_000, 0.005, 50.0, 100),
            (250_000, 1_000_000, 0.01, 1_300.0, 50)]


@dataclass
class FakePosition:
    amt: Decimal = Decimal(0)  # signed
    entry: Decimal = Decimal(0)
    margin: Decimal = Decimal(0)  # isolated wallet


@dataclass
class FakeFuturesOrder:
    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal
    avg: Decimal
    status: str = "FILLED"
    ts: int = field(default_factory=lambda: int(time.time() * 1000))


class FakeBinanceFutures:
    def __init__(self, marks: dict[str, Decimal] | None = None) -> None:
        self.marks = marks or {"BTCUSDT": Decimal("40000")}
        self.funding = Decimal("0.0001")
        self.leverage: dict[str, int] = {}
        self.margin_type: dict[str, str] = {}
        self.positions: dict[str, FakePosition] = {}
        self.orders: dict[str, FakeFuturesOrder] = {}
        self.requests: list[str] = []
        self._ids = itertools.count(5000)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        r = app.router
        r.add_get("/fapi/v1/exchangeInfo", self.exchange_info)
        r.add_get("/fapi/v1/time", self.time)
        r.add_post("/fapi/v1/leverage", self.set_leverage)
        r.add_post("/fapi/v1/marginType", self.set_margin_type)
        r.add_post("/fapi/v1/order", self.create)
        r.add_get("/fapi/v1/order", self.get)
        r.add_get("/fapi/v2/positionRisk", self.position_risk)
        r.add_get("/fapi/v3/positionRisk", self.position_risk)
        r.add_get("/fapi/v1/premiumIndex", self.premium_index)
        r.add_get("/fapi/v1/leverageBracket", self.leverage_bracket)
        r.add_get("/fapi/v1/klines", self.klines)
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

    async def klines(self, request: web.Request) -> web.Response:
        """Flat 1m candles at the mark up to now (Binance's kline rows), enough for a
        market-data client to show it reads the perpetual's own candles."""
        self.requests.append(f"{request.method} {request.path}")
        mark = str(self.marks[request.query["symbol"]])
        limit = min(int(request.query.get("limit", 5)), 1500)
        now = int(time.time() // 60) * 60_000
        rows = [[t, mark, mark, mark, mark, "1.0", t + 59_999, mark, 1, "0.5", mark, "0"]
                for t in range(now - limit * 60_000, now, 60_000)]
        return web.json_response(rows)

    # ------------------------------------------------------------ helpers
    @staticmethod
    def _err(code: int, msg: str, status: int = 400) -> web.Response:
        return web.json_response({"code": code, "msg": msg}, status=status)

    async def _params(self, request: web.Request) -> dict[str, str]:
        self.requests.append(f"{request.method} {request.path}")
        return {**request.query, **{k: str(v) for k, v in (await request.post()).items()}}

    def liquidation_price(self, symbol: str) -> float:
        """Binance's isolated formula, bracket by the notional at the result."""
        p = self.positions.get(symbol)
        if p is None or p.amt == 0:
            return 0.0
        side = 1.0 if p.amt > 0 else -1.0
        size, ep, wb = abs(float(p.amt)), float(p.entry), float(p.margin)
        lp = 0.0
        for floor, cap, mmr, cum, _ in BRACKETS:
            lp = (wb + cum - side * size * ep) / (size * mmr - side * size)
            if floor <= size * lp < cap:
                break
        return max(lp, 0.0)

    # ------------------------------------------------------------ endpoints
    async def time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": int(time.time() * 1000)})

    async def exchange_info(self, request: web.Request) -> web.Response:
        await self._params(request)
        symbols = []
        for sym in self.marks:
            base = sym.removesuffix("USDT")
            symbols.append({
                "symbol": sym, "pair": sym, "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000, "onboardDate": 1569398400000,
                "status": "TRADING", "maintMarginPercent": "2.5000",
                "requiredMarginPercent": "5.0000", "baseAsset": base, "quoteAsset": "USDT",
                "marginAsset": "USDT", "pricePrecision": 2, "quantityPrecision": 3,
                "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
                "underlyingSubType": [], "triggerProtect": "0.0500",
                "liquidationFee": "0.012500", "marketTakeBound": "0.05",
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": "556.80",
                     "maxPrice": "4529764", "tickSize": "0.10"},
                    {"filterType": "LOT_SIZE", "stepSize": "0.001", "maxQty": "1000",
                     "minQty": "0.001"},
                    {"filterType": "MARKET_LOT_SIZE", "stepSize": "0.001", "maxQty": "120",
                     "minQty": "0.001"},
                    {"filterType": "MIN_NOTIONAL", "notional": "100"},
                ],
                "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET"],
                "timeInForce": ["GTC", "IOC", "FOK", "GTX"]})
        return web.json_response({"timezone": "UTC", "serverTime": int(time.time() * 1000),
                                  "futuresType": "U_MARGINED", "rateLimits": [],
                                  "exchangeFilters": [], "assets": [], "symbols": symbols})

    async def set_leverage(self, request: web.Request) -> web.Response:
        q = await self._params(request)
        sym, lev = q["symbol"], int(q["leverage"])
        top = BRACKETS[0][4]
        if not 1 <= lev <= top:
            return self._err(-4028, f"Leverage {lev} is not valid")
        self.leverage[sym] = lev
        return web.json_response({"leverage": lev, "maxNotionalValue": "50000",
                                  "symbol": sym})

    async def set_margin_type(self, request: web.Request) -> web.Response:
        q = await self._params(request)
        sym, mode = q["symbol"], q["marginType"]
        if self.margin_type.get(sym, "CROSSED") == mode:
            return self._err(-4046, "No need to change margin type.")
        p = self.positions.get(sym)
        if p is not None and p.amt != 0:
            return self._err(-4048, "Margin type cannot be changed if there exists position.")
        self.margin_type[sym] = mode
        return web.json_response({"code": 200, "msg": "success"})

    def _json(self, o: FakeFuturesOrder) -> dict[str, Any]:
        return {"clientOrderId": o.client_id, "cumQty": str(o.qty),
                "cumQuote": str(o.qty * o.avg), "executedQty": str(o.qty),
                "orderId": o.order_id, "avgPrice": str(o.avg), "origQty": str(o.qty),
                "price": "0", "reduceOnly": False, "side": o.side, "positionSide": "BOTH",
                "status": o.status, "stopPrice": "0", "closePosition": False,
                "symbol": o.symbol, "timeInForce": "GTC", "type": o.type,
                "origType": o.type, "updateTime": o.ts, "workingType": "CONTRACT_PRICE",
                "priceProtect": False}

    async def create(self, request: web.Request) -> web.Response:
        q = await self._params(request)
        sym, side, typ = q["symbol"], q["side"], q["type"]
        if typ != "MARKET":
            return self._err(-1116, "Invalid orderType.")
        qty = Decimal(q["quantity"])
        mark = self.marks[sym]
        cid = q.get("newClientOrderId") or f"x-{next(self._ids)}"
        o = FakeFuturesOrder(next(self._ids), cid, sym, side, typ, qty, mark)
        p = self.positions.setdefault(sym, FakePosition())
        signed = qty if side == "BUY" else -qty
        lev = Decimal(self.leverage.get(sym, 20))
        if p.amt == 0 or (p.amt > 0) == (signed > 0):
            total = p.amt + signed
            p.entry = (p.entry * abs(p.amt) + mark * qty) / abs(total)
            p.amt = total
            p.margin += qty * mark / lev
        else:
            part = min(qty, abs(p.amt)) / abs(p.amt)
            p.margin -= p.margin * part
            p.amt += signed
            if p.amt == 0:
                p.entry = Decimal(0)
        self.orders[cid] = o
        return web.json_response(self._json(o))

    async def get(self, request: web.Request) -> web.Response:
        q = await self._params(request)
        o = self.orders.get(q.get("origClientOrderId", ""))
        if o is None:
            return self._err(-2013, "Order does not exist.")
        return web.json_response(self._json(o))

    async def position_risk(self, request: web.Request) -> web.Response:
        q = await self._params(request)
        out = []
        for sym, p in self.positions.items():
            if q.get("symbol") not in (None, sym):
                continue
            mark = self.marks[sym]
            out.append({
                "symbol": sym, "positionSide": "BOTH", "positionAmt": str(p.amt),
                "entryPrice": str(p.entry), "breakEvenPrice": str(p.entry),
                "markPrice": str(mark), "unRealizedProfit": str(p.amt * (mark - p.entry)),
                "liquidationPrice": f"{self.liquidation_price(sym):.8f}",
                "isolatedMargin": str(p.margin), "notional": str(p.amt * mark),
                "marginAsset": "USDT", "isolatedWallet": str(p.margin),
                "initialMargin": str(p.margin), "maintMargin": "0",
                "positionInitialMargin": str(p.margin), "openOrderInitialMargin": "0",
                "adl": 1, "bidNotional": "0", "askNotional": "0",
                "leverage": str(self.leverage.get(sym, 20)),
                "marginType": self.margin_type.get(sym, "cross").lower(),
                "updateTime": int(time.time() * 1000)})
        return web.json_response(out)

    async def premium_index(self, request: web.Request) -> web.Response:
        q = await self._params(request)
        rows = [{"symbol": s, "markPrice": str(m), "indexPrice": str(m),
                 "estimatedSettlePrice": str(m), "lastFundingRate": str(self.funding),
                 "interestRate": "0.00010000", "nextFundingTime": 1597392000000,
                 "time": int(time.time() * 1000)}
                for s, m in self.marks.items() if q.get("symbol") in (None, s)]
        return web.json_response(rows[0] if "symbol" in q else rows)

    async def leverage_bracket(self, request: web.Request) -> web.Response:
        q = await self._params(request)
        rows = [{"symbol": s, "notionalCoef": 1.0, "brackets": [
            {"bracket": i + 1, "initialLeverage": lev, "notionalCap": cap,
             "notionalFloor": floor, "maintMarginRatio": mmr, "cum": cum}
            for i, (floor, cap, mmr, cum, lev) in enumerate(BRACKETS)]}
            for s in self.marks if q.get("symbol") in (None, s)]
        return web.json_response(rows)
