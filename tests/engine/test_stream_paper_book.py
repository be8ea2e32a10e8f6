"""The streamed order book reaches the paper broker and the strategies: a paper service
on the loopback Binance fakes (``stream = true``) fills a market buy larger than the
best ask by walking the levels of the LIVE book (snapshot plus a diff), at the book's
VWAP; the bots' strategies read top of book and depth through `self.dp`, and a
backtest's strategy gets None."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import select

from engine.data.live import ServiceFeed
from engine.data.stream import StreamFeed
from engine.service.engine import Engine
from engine.storage.models import Fill, Order
from engine.strategy import Strategy
from tests.engine.conftest import T0
from tests.engine.test_stream import until
from tests.fakes.binance_ws import FakeBinanceWS
from tests.fakes.exchange_server import FakeBinance


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeBinance, FakeBinanceWS]]:
    rest = FakeBinance(prices={"BTCUSDT": Decimal(100), "ETHUSDT": Decimal(100)})
    ws = FakeBinanceWS()
    await rest.start()
    await ws.start()
    yield rest, ws
    await ws.stop()
    await rest.stop()


async def test_a_paper_market_buy_walks_the_streamed_book(
        engine_factory: Any, db_url: str,
        fakes: tuple[FakeBinance, FakeBinanceWS]) -> None:
    rest, ws = fakes
    exchange = {"mode": "paper", "stream": True, "api_url": rest.url, "ws_url": ws.url,
                "book_depth": 10, "slippage_bps": 50}
    eng: Engine = await engine_factory(exchange=exchange)
    sf = ServiceFeed(eng.settings)
    try:
        await sf.client.load_markets()
        rest.books["BTCUSDT"] = (10, [(99.0, 1.0), (98.0, 2.0)],
                                 [(101.0, 0.5), (102.0, 1.0), (104.0, 3.0)])
        ws.book_id["BTCUSDT"] = 10
        sf.attach(eng)
        feed = sf.feed
        assert isinstance(feed, StreamFeed)
        await until(lambda: "BTC/USDT" in feed.books, "the book snapshot")
        # a diff: the 102 level grows, a new level at 103 (the live book, not the snapshot)
        await ws.depth("BTCUSDT", [], [(102.0, 1.5), (103.0, 0.25)])
        await until(lambda: feed.books["BTC/USDT"].nonce == 11, "the diff")
        # a strategy's view of it
        strat: Strategy = eng.strategies.loaded["b1"].strategy
        book = strat.dp.orderbook("BTC/USDT", 2)
        assert book is not None and book["asks"] == [[101.0, 0.5], [102.0, 1.5]]
        assert book["bids"] == [[99.0, 1.0], [98.0, 2.0]]
        tk = strat.dp.ticker("BTC/USDT")
        assert tk is not None and (tk["bid"], tk["ask"]) == (99.0, 101.0)
        assert strat.dp.orderbook("ETH/USDT", 5) is None  # no snapshot yet: unknown
        # a market buy of 2.5 BTC: 0.5 @ 101, 1.5 @ 102, 0.25 @ 103, 0.25 @ 104
        amount = Decimal("2.5")
        with eng.sessions.begin() as s:
            o = Order(client_order_id="st-book-1", symbol="BTC/USDT", side="buy",
                      amount=amount, created_at=T0, updated_at=T0)
            s.add(o)
            s.flush()
            oid = o.id or 0
        booked = await eng.execution.submit(oid)
        assert booked.state == "filled"
        vwap = (Decimal("0.5") * 101 + Decimal("1.5") * 102 + Decimal("0.25") * 103
                + Decimal("0.25") * 104) / amount
        with eng.sessions() as s:
            [fill] = s.exec(select(Fill).where(Fill.order_id == oid)).all()
        assert fill.amount == amount
        assert fill.price == vwap  # 102.1, not 101 (top) nor the last price + slippage
        assert booked.average_price == vwap
    finally:
        await sf.close()


async def test_a_stale_book_is_not_walked(engine_factory: Any, db_url: str,
                                          fakes: tuple[FakeBinance, FakeBinanceWS]) -> None:
    """A book older than `stale_seconds` falls back to the last price and slippage."""
    from engine.data.live import book_quotes
    from engine.data.stream import BookTop
    from engine.execution.paper import Quote

    now = int(time.time() * 1000)
    book = BookTop("BTC/USDT", now - 60_000, [(99.0, 1.0)], [(101.0, 1.0)])
    candle = Quote(Decimal(100))
    quotes = book_quotes(lambda s: candle, lambda s: book, lambda: now, 30.0)
    assert quotes("BTC/USDT") == candle
    fresh = BookTop("BTC/USDT", now - 1_000, [(99.0, 1.0)], [(101.0, 1.0)])
    quotes = book_quotes(lambda s: None, lambda s: fresh, lambda: now, 30.0)
    q = quotes("BTC/USDT")
    assert q is not None and q.last == Decimal(100) and q.asks == ((Decimal(101), Decimal(1)),)


def test_backtests_have_no_book() -> None:
    s = Strategy()
    assert s.dp.orderbook("BTC/USDT", 5) is None and s.dp.ticker("BTC/USDT") is None
    assert not s.dp.available and s.dp.runmode == "backtest"
