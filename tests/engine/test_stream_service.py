"""The paper service's loop on the websocket streams: `EngineScheduler` (the service's
job runner) driven by a `StreamFeed` built from ``[exchange] stream = true`` settings,
against the loopback Binance fakes. Candles close from the stream (no REST call), a
dropped connection loses nothing (the tick fills from REST), no candle is handed to the
engine twice, and a spike in the streamed trades trips the breaker."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from sqlmodel import select

from engine.data.candles import Bar
from engine.data.live import ServiceFeed
from engine.data.stream import StreamFeed
from engine.risk.live import LiveGuard
from engine.service.engine import Engine
from engine.service.scheduler import EngineScheduler
from engine.storage.models import RiskEvent
from tests.engine.conftest import make_settings
from tests.engine.test_stream import until
from tests.fakes.binance_ws import FakeBinanceWS
from tests.fakes.exchange_server import FakeBinance, walk_kline

STEP = 300_000


async def test_the_service_loop_runs_on_streams_through_drops(
        engine_factory: Any, db_url: str) -> None:
    rest = FakeBinance(prices={"BTCUSDT": Decimal(100), "ETHUSDT": Decimal(100)})
    rest.walk = True
    ws = FakeBinanceWS()
    await rest.start()
    await ws.start()
    base = int(time.time() * 1000) // STEP * STEP - 50 * STEP
    clock = [base + 1_000]
    rest.now_ms = clock[0]
    settings = make_settings(db_url, exchange={"stream": True, "api_url": rest.url,
                                               "ws_url": ws.url, "stale_seconds": 30})
    service_feed = ServiceFeed(settings)
    ex, feed = service_feed.client, service_feed.feed
    ex.milliseconds = lambda: clock[0]
    assert isinstance(feed, StreamFeed)
    feed.now_ms = lambda: clock[0]
    eng: Engine = await engine_factory()
    got: list[tuple[str, int]] = []
    on_bar = eng.on_bar

    async def record(bar: Bar) -> Any:
        got.append((bar.symbol, bar.close_ms))
        return await on_bar(bar)

    eng.on_bar = record  # type: ignore[method-assign]
    runner = EngineScheduler(eng, feed)
    try:
        await ex.load_markets()
        assert await runner.warm() > 0
        assert runner.last_close_ms[("BTC/USDT", "5m")] == base
        service_feed.attach(eng)  # the breakers listen, the bots' streams subscribe
        guard = next(x for x in feed.listeners if isinstance(x, LiveGuard))
        await until(lambda: ws.subscribed("btcusdt@kline_5m")
                    and ws.subscribed("ethusdt@kline_5m"), "the kline subscriptions")

        async def kline(sym: str, open_ms: int, closed: bool) -> None:
            await ws.kline(sym, "5m", open_ms, STEP, walk_kline(sym, open_ms, STEP), closed)
            await asyncio.sleep(0.03)  # ccxt hands a watcher one message per wake-up

        def klines() -> int:
            return rest.requests.count("GET /api/v3/klines")

        for k in range(6):
            o = base + k * STEP
            await until(lambda: ws.subscribed("btcusdt@kline_5m")
                        and ws.subscribed("ethusdt@kline_5m"), "(re)subscribed")
            for sym in ("BTCUSDT", "ETHUSDT"):
                await kline(sym, o, False)
            clock[0] = rest.now_ms = o + STEP + 1_000  # the candle closed a second ago
            if k == 3:  # the line drops before the close reaches us
                await ws.drop()
            else:
                for sym in ("BTCUSDT", "ETHUSDT"):
                    await kline(sym, o, True)
                    await kline(sym, o + STEP, False)  # the next candle opens
                close = o + STEP

                def delivered(close: int = close) -> bool:
                    return all(feed.ledgers[(s, "5m")].last_ms == close
                               for s in ("BTC/USDT", "ETH/USDT"))

                await until(delivered, f"candle {k} from the stream")
            before = klines()
            await runner.tick("5m")
            if k != 3:
                assert klines() == before  # the stream delivered: no REST call
        want = [base + k * STEP for k in range(1, 7)]
        for sym in ("BTC/USDT", "ETH/USDT"):
            assert [ms for s, ms in got if s == sym] == want  # each once, none missed
        # the streamed trades: +12 % within the minute trips the spike breaker
        await until(lambda: ws.subscribed("btcusdt@trade"), "the trade subscription")
        now = int(time.time() * 1000)
        await ws.trade("BTCUSDT", 100.0, 1.0, now)
        await ws.trade("BTCUSDT", 112.0, 1.0, now + 20_000)
        await until(lambda: guard.trips == 1, "the trip")
        await eng.feed_settled()
        with eng.sessions() as s:
            rules = [e.rule for e in s.exec(select(RiskEvent)).all()]
        assert "price_spike" in rules
    finally:
        await service_feed.close()
        await ws.stop()
        await rest.stop()
