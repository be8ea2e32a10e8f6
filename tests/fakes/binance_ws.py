"""A fake of Binance's spot websocket market streams on loopback, for real ccxt.pro.

Speaks the documented protocol: a client connects to ``/ws`` (raw payloads) or
``/stream`` (combined: ``{"stream": NAME, "data": PAYLOAD}``), sends
``{"method": "SUBSCRIBE", "params": ["btcusdt@trade", ...], "id": N}`` and gets
``{"result": null, "id": N}``; events then flow for the streams it subscribed to:
``<s>@trade``, ``<s>@kline_<i>``, ``<s>@depth@100ms`` (diffs, ``U``/``u`` update ids,
the snapshot over REST ``/api/v3/depth`` of the REST fake), ``<s>@ticker`` and ``<s>@miniTicker`` (what ccxt's watch_ticker asks for).

Tests drive it: `trade`, `kline`, `depth`, `ticker` publish an event; `send_raw`
publishes any payload (duplicates, out-of-order); `drop()` closes every connection;
`stall = True` keeps connections open but sends nothing (a stale stream).
`point_ws(exchange, fake.url)` rewrites a ccxt.pro exchange's websocket URLs.

The user-data stream, as Binance's WebSocket API serves it (``/ws-api/v3``, what
ccxt.pro's `watch_orders` / `watch_balance` use for spot): the client sends
``{"id", "method": "userDataStream.subscribe.signature", "params": {apiKey, timestamp,
signature}}`` and gets ``{"id", "status": 200, "result": {"subscriptionId": N}}``;
events then arrive as ``{"subscriptionId": N, "event": {...}}``: ``executionReport``
(x = NEW / TRADE / CANCELED, cumulative ``z`` / ``Z``, last ``l`` / ``L``, commission
``n`` / ``N``) and ``outboundAccountPosition`` (the balances an execution changed).
`serve_user_data(rest)` makes the REST fake's orders report there: every fill the REST
fake makes (a market order, or `fill_order` on a resting one) is pushed as it happens.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web


class FakeBinanceWS:
    def __init__(self) -> None:
        self.conns: dict[web.WebSocketResponse, set[str]] = {}
        self.combined: set[web.WebSocketResponse] = set()
        self.subscriptions: list[str] = []
        self.connects = 0
        self.stall = False
        self.sent = 0
        self.trade_id = 0
        self.book_id: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.user: dict[web.WebSocketResponse, int] = {}  # ws-api connection -> subscription
        self.user_events = 0
        self._user_ids = 0
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/ws-api/v3", self._ws_api)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/ws/{n}", self._ws)
        app.router.add_get("/stream", self._ws)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        await self.drop()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connects += 1
        self.conns[ws] = set()
        if request.path.startswith("/stream"):
            self.combined.add(ws)
            for name in request.query.get("streams", "").split("/"):
                if name:
                    self.conns[ws].add(name)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                req = json.loads(msg.data)
                if req.get("method") == "SUBSCRIBE":
                    for name in req.get("params", []):
                        self.conns[ws].add(name)
                        self.subscriptions.append(name)
                    await ws.send_str(json.dumps({"result": None, "id": req.get("id")}))
                elif req.get("method") == "UNSUBSCRIBE":
                    for name in req.get("params", []):
                        self.conns[ws].discard(name)
                    await ws.send_str(json.dumps({"result": None, "id": req.get("id")}))
        finally:
            self.conns.pop(ws, None)
            self.combined.discard(ws)
        return ws

    # ------------------------------------------------------------ publishing
    def subscribed(self, stream: str) -> bool:
        return any(stream in names for names in self.conns.values())

    async def send_raw(self, stream: str, payload: dict[str, Any]) -> int:
        """Send `payload` on `stream` to every subscriber; returns how many got it."""
        if self.stall:
            return 0
        n = 0
        raw = json.dumps(payload)
        wrapped = json.dumps({"stream": stream, "data": payload})
        for ws, names in list(self.conns.items()):
            if stream in names and not ws.closed:
                await ws.send_str(wrapped if ws in self.combined else raw)
                n += 1
        self.sent += n
        return n

    @staticmethod
    def trade_payload(symbol: str, trade_id: int, price: float, qty: float,
                      ts_ms: int) -> dict[str, Any]:
        return {"e": "trade", "E": ts_ms, "s": symbol, "t": trade_id, "p": f"{price:.8f}",
                "q": f"{qty:.8f}", "T": ts_ms, "m": False, "M": True}

    async def trade(self, symbol: str, price: float, qty: float,
                    ts_ms: int | None = None) -> int:
        self.trade_id += 1
        ts = int(time.time() * 1000) if ts_ms is None else ts_ms
        return await self.send_raw(f"{symbol.lower()}@trade",
                                   self.trade_payload(symbol, self.trade_id, price, qty, ts))

    async def kline(self, symbol: str, interval: str, open_ms: int, step_ms: int,
                    ohlcv: tuple[float, ...], closed: bool, ts_ms: int | None = None) -> int:
        o, h, lo, c, v = ohlcv
        ts = int(time.time() * 1000) if ts_ms is None else ts_ms
        k = {"t": open_ms, "T": open_ms + step_ms - 1, "s": symbol, "i": interval, "f": 1,
             "L": 2, "o": f"{o:.8f}", "c": f"{c:.8f}", "h": f"{h:.8f}", "l": f"{lo:.8f}",
             "v": f"{v:.8f}", "n": 2, "x": closed, "q": "0", "V": "0", "Q": "0", "B": "0"}
        return await self.send_raw(f"{symbol.lower()}@kline_{interval}",
                                   {"e": "kline", "E": ts, "s": symbol, "k": k})

    async def depth(self, symbol: str, bids: list[tuple[float, float]],
                    asks: list[tuple[float, float]], first_id: int | None = None,
                    last_id: int | None = None) -> int:
        """A diff event; update ids continue from the last one unless given."""
        prev = self.book_id.get(symbol, 0)
        first = prev + 1 if first_id is None else first_id
        last = first if last_id is None else last_id
        self.book_id[symbol] = max(prev, last)
        payload = {"e": "depthUpdate", "E": int(time.time() * 1000), "s": symbol,
                   "U": first, "u": last,
                   "b": [[f"{p:.8f}", f"{q:.8f}"] for p, q in bids],
                   "a": [[f"{p:.8f}", f"{q:.8f}"] for p, q in asks]}
        return await self.send_raw(f"{symbol.lower()}@depth@100ms", payload)

    async def ticker(self, symbol: str, last: float, bid: float, ask: float) -> int:
        now = int(time.time() * 1000)
        payload = {"e": "24hrTicker", "E": now, "s": symbol, "p": "0", "P": "0",
                   "w": f"{last:.8f}", "x": f"{last:.8f}", "c": f"{last:.8f}", "Q": "1",
                   "b": f"{bid:.8f}", "B": "1", "a": f"{ask:.8f}", "A": "1",
                   "o": f"{last:.8f}", "h": f"{last:.8f}", "l": f"{last:.8f}", "v": "1",
                   "q": f"{last:.8f}", "O": now - 86_400_000, "C": now, "F": 0, "L": 1,
                   "n": 1}
        mini = {"e": "24hrMiniTicker", "E": now, "s": symbol, "c": f"{last:.8f}",
                "o": f"{last:.8f}", "h": f"{last:.8f}", "l": f"{last:.8f}", "v": "1",
                "q": f"{last:.8f}"}
        return (await self.send_raw(f"{symbol.lower()}@ticker", payload)
                + await self.send_raw(f"{symbol.lower()}@miniTicker", mini))

    async def drop(self) -> None:
        """Close every connection, as an exchange's maintenance or a network cut does."""
        for ws in list(self.conns) + list(self.user):
            await ws.close()
        self.conns.clear()
        self.combined.clear()
        self.user.clear()

    # ------------------------------------------------------------ user data (ws-api)
    async def _ws_api(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connects += 1
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                req = json.loads(msg.data)
                rid, method = req.get("id"), req.get("method")
                params = req.get("params") or {}
                if method == "userDataStream.subscribe.signature":
                    if not (params.get("apiKey") and params.get("signature")):
                        await ws.send_str(json.dumps({"id": rid, "status": 401, "error": {
                            "code": -1022, "msg": "Signature for this request is not valid."}}))
                        continue
                    sub = self._user_ids
                    self._user_ids += 1
                    self.user[ws] = sub
                    await ws.send_str(json.dumps({"id": rid, "status": 200,
                                                  "result": {"subscriptionId": sub}}))
                else:
                    await ws.send_str(json.dumps({"id": rid, "status": 400, "error": {
                        "code": -1100, "msg": f"unknown method {method}"}}))
        finally:
            self.user.pop(ws, None)
        return ws

    async def send_user(self, event: dict[str, Any]) -> int:
        """Send a user-data event to every subscribed ws-api connection."""
        if self.stall:
            return 0
        n = 0
        for ws, sub in list(self.user.items()):
            if not ws.closed:
                await ws.send_str(json.dumps({"subscriptionId": sub, "event": event}))
                n += 1
        self.user_events += n
        return n

    @staticmethod
    def execution_report(o: Any, exec_type: str, last_qty: Decimal,
                         last_price: Decimal, fee: Decimal, trade_id: int) -> dict[str, Any]:
        """Binance's executionReport for a REST fake order (`FakeOrder`)."""
        now = int(time.time() * 1000)
        return {"e": "executionReport", "E": now, "s": o.symbol, "c": o.client_id,
                "S": o.side, "o": o.type, "f": "GTC", "q": str(o.qty),
                "p": str(o.price or "0.00000000"), "P": "0.00000000", "F": "0.00000000",
                "g": -1, "C": "", "x": exec_type, "X": o.status, "r": "NONE",
                "i": o.order_id, "l": str(last_qty), "z": str(o.executed),
                "L": str(last_price), "n": str(fee), "N": "USDT" if fee else None,
                "T": now, "t": trade_id, "I": 1, "w": o.status in ("NEW", "PARTIALLY_FILLED"),
                "m": o.type != "MARKET", "M": False, "O": o.ts, "Z": str(o.quote),
                "Y": str(last_qty * last_price), "Q": "0.00000000", "W": o.ts, "V": "NONE"}

    def serve_user_data(self, rest: Any, fee_rate: Decimal = Decimal("0.001")) -> None:
        """Push the REST fake's executions on the user-data stream as they happen: its
        `_fill` is wrapped (no change to the REST fake), one executionReport (TRADE)
        and one outboundAccountPosition per execution."""
        fill = rest._fill

        def reporting_fill(o: Any, qty: Decimal, price: Decimal | None = None) -> None:
            fill(o, qty, price)
            if price is None:
                price = rest.prices[o.symbol] if o.type == "MARKET" else (o.price or Decimal(0))
            self.trade_id += 1
            fee = (qty * price * fee_rate).quantize(Decimal("0.00000001"))
            report = self.execution_report(o, "TRADE", qty, price, fee, self.trade_id)
            position = {"e": "outboundAccountPosition", "E": report["E"], "u": report["E"],
                        "B": [{"a": a, "f": str(f), "l": str(lk)}
                              for a, (f, lk) in rest.balances.items()]}
            task = asyncio.get_running_loop().create_task(self._send_all(report, position))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

        rest._fill = reporting_fill

    async def _send_all(self, *events: dict[str, Any]) -> None:
        for e in events:
            await self.send_user(e)

    @staticmethod
    def fill_order(rest: Any, client_id: str, qty: Decimal) -> None:
        """The exchange executes `qty` of a resting order (a limit crossed): done on
        the REST fake, reported on the stream when `serve_user_data` is on."""
        o = rest.orders[client_id]
        rest._fill(o, qty)


def point_ws(exchange: Any, url: str) -> None:
    """Send every websocket connection of a ccxt.pro exchange to the fake."""
    from engine.data.exchange import rewrite_ws_urls

    rewrite_ws_urls(exchange, url)
