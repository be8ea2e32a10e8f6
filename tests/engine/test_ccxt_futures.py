"""The live futures broker: real ccxt (binance, defaultType swap) against the fake
USDⓈ-M API on loopback: margin mode and leverage set on the account, a sell opens a
short booked with the exchange's liquidation price, a buy closes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import ccxt.async_support as ccxt_async
import pytest
from sqlmodel import select

from engine.clock import ManualClock
from engine.execution.ccxt_futures import CcxtFuturesBroker
from engine.execution.engine import ExecutionEngine
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from engine.storage.models import Order, OrderState, Trade
from tests.fakes.exchange_server import point_exchange
from tests.fakes.futures_server import FakeBinanceFutures

SYM = "BTC/USDT:USDT"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinanceFutures]:
    f = FakeBinanceFutures()
    await f.start()
    yield f
    await f.stop()


@pytest.fixture
async def broker(fake: FakeBinanceFutures) -> AsyncIterator[CcxtFuturesBroker]:
    ex = ccxt_async.binance({"apiKey": "k", "secret": "s", "timeout": 2000,
                             "enableRateLimit": False,
                             "options": {"defaultType": "swap", "fetchCurrencies": False,
                                         "fetchMargins": False,
                                         "fetchMarkets": {"types": ["linear"]}}})
    point_exchange(ex, fake.url)
    b = CcxtFuturesBroker(ex, clock=ManualClock(datetime(2025, 10, 1, tzinfo=UTC)))
    yield b
    await b.close()


async def test_sets_isolated_margin_and_leverage(fake: FakeBinanceFutures,
                                                broker: CcxtFuturesBroker) -> None:
    markets = await broker.load_markets()
    assert SYM in markets and markets[SYM].amount_step == D("0.001")
    await broker.setup_symbol(SYM, D(3), "isolated")
    assert fake.leverage == {"BTCUSDT": 3} and fake.margin_type == {"BTCUSDT": "ISOLATED"}
    await broker.setup_symbol(SYM, D(2), "isolated")  # already isolated: -4046 is fine
    assert fake.leverage == {"BTCUSDT": 2}
    assert "POST /fapi/v1/marginType" in fake.requests
    tiers = await broker.leverage_tiers(SYM)
    assert [t.cum for t in tiers] == [D(0), D(50), D(1300)]
    mark, rate = await broker.mark(SYM)
    assert (mark, rate) == (D(40000), D("0.0001"))


async def test_short_opens_and_closes_on_the_exchange(fake: FakeBinanceFutures,
                                                     broker: CcxtFuturesBroker,
                                                     tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    upgrade(url)
    sessions = SessionFactory(make_engine(url))
    clock = ManualClock(datetime(2025, 10, 1, tzinfo=UTC))
    ex = ExecutionEngine(sessions, broker, clock)
    await broker.setup_symbol(SYM, D(3), "isolated")
    await broker.leverage_tiers(SYM)

    async def order(cid: str, side: str, trade_id: int | None = None) -> Order:
        with sessions.begin() as s:
            o = Order(client_order_id=cid, symbol=SYM, side=side, type="market",
                      amount=D("0.5"), trade_id=trade_id, state=OrderState.PENDING_CREATE,
                      created_at=clock.now(), updated_at=clock.now())
            s.add(o)
            s.flush()
            oid = o.id
        assert oid is not None
        return await ex.submit(oid)

    o = await order("st-1", "sell")
    assert o.state == OrderState.FILLED and o.average_price == D(40000)
    with sessions() as s:
        t = s.exec(select(Trade)).one()
    assert (t.side, t.leverage, t.margin_mode, t.amount) == ("short", D(3), "isolated",
                                                              D("0.5"))
    pos = await broker.position(SYM)
    assert pos is not None and pos["side"] == "short"
    assert t.liquidation_price is not None
    assert float(t.liquidation_price) == pytest.approx(float(pos["liquidationPrice"]),
                                                       rel=1e-9)
    fake.marks["BTCUSDT"] = D(38000)
    o = await order("st-2", "buy", trade_id=t.id)
    assert o.state == OrderState.FILLED
    with sessions() as s:
        t = s.exec(select(Trade)).one()
    assert not t.is_open and t.close_price == D(38000)
    assert t.realized_pnl == D("980.5")  # 0.5 * 2,000 less the 0.05 % taker fee twice
    assert await broker.position(SYM) is None
    sessions.engine.dispose()


async def test_market_data_of_a_futures_config_reads_the_perpetuals(
        fake: FakeBinanceFutures, tmp_path: Path) -> None:
    """`exchange.trading_mode = "futures"`: the market-data client lists the linear
    perpetuals and fetches BTC/USDT:USDT's own candles (a spot client would not know the
    symbol, and the bot's candles would never come)."""
    from engine.data.exchange import public_exchange
    from tests.engine.conftest import make_settings

    settings = make_settings(f"sqlite:///{tmp_path / 'f.db'}", exchange={
        "mode": "paper", "trading_mode": "futures", "api_url": fake.url})
    client = public_exchange(settings)
    try:
        markets = await client.load_markets()
        assert SYM in markets and markets[SYM]["swap"]
        rows = await client.fetch_ohlcv(SYM, "1m", limit=3)
        assert len(rows) == 3 and rows[-1][4] == 40000.0
        assert "GET /fapi/v1/klines" in fake.requests
    finally:
        await client.close()
