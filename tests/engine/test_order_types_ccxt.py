"""Order types through real ccxt (binance) against the fake exchange on loopback:
which types go native, the emulated ones firing (and surviving a lost request), the
unfilled timeout, partial fills kept."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from sqlmodel import select

from engine.execution.ccxt_broker import CcxtBroker
from engine.execution.paper import Quote
from engine.execution.stoploss import place_stoploss
from engine.execution.timeouts import Timeouts, cancel_unfilled
from engine.outbox import ConsoleNotifier
from engine.service.engine import Engine
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import Order, OrderState, Proposal
from tests.engine.conftest import make_settings
from tests.fakes.exchange_server import FakeBinance, Fault, point_exchange

S = OrderState
D = Decimal


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    f = FakeBinance(delay_s=1.0)
    await f.start()
    yield f
    await f.stop()


@pytest.fixture
async def make_live(fake: FakeBinance, db_url: str,
                    clock: Any) -> AsyncIterator[Callable[..., Any]]:
    made: list[Engine] = []

    async def build(**broker_kw: Any) -> Engine:
        ex = ccxt_async.binance({"apiKey": "k", "secret": "s", "timeout": 400,
                                 "enableRateLimit": False,
                                 "options": {"fetchCurrencies": False, "fetchMargins": False,
                                             "fetchMarkets": {"types": ["spot"]}}})
        point_exchange(ex, fake.url)
        broker = CcxtBroker(ex, clock=clock, backoff_s=0.01, **broker_kw)
        eng = Engine(make_settings(db_url), SessionFactory(make_engine(db_url)), clock=clock,
                     broker=broker, notifiers=[ConsoleNotifier()])
        await eng.start()
        eng.quotes["BTC/USDT"] = Quote(D(60000))
        made.append(eng)
        return eng

    yield build
    for e in made:
        await e.close()
        e.sessions.engine.dispose()


@pytest.fixture
async def live(make_live: Callable[..., Any]) -> Engine:
    eng: Engine = await make_live()
    return eng


def _order(eng: Engine, side: str = "buy", type_: str = "market", amount: str = "0.01",
           price: str | None = None, trade_id: int | None = None, **kw: Any) -> int:
    now = eng.clock.now()
    with eng.sessions.begin() as s:
        p = Proposal(bot_id=eng.bots.get("b1").id, symbol="BTC/USDT", side=side,
                     intent="enter" if side == "buy" else "exit", amount=D(amount),
                     ref_price=D(60000), state="approved", created_at=now, trade_id=trade_id,
                     expires_at=now + timedelta(minutes=5))
        s.add(p)
        s.flush()
        o = eng.execution.create_order_row(s, p, type_=type_,
                                           price=D(price) if price else None, **kw)
        assert o.id is not None
        return o.id


def _get(eng: Engine, oid: int) -> Order:
    with eng.sessions() as s:
        o = s.get(Order, oid)
        assert o is not None
        return o


async def _long(eng: Engine) -> int:
    o = await eng.execution.submit(_order(eng))
    assert o.state == S.FILLED and o.trade_id is not None
    return o.trade_id


def _sent(fake: FakeBinance, oid_row: Order) -> Any:
    return fake.orders[oid_row.client_order_id]


async def test_native_types_on_the_fake_binance(live: Engine) -> None:
    caps = live.execution.caps
    assert [t for t in caps.types if caps.native(t)] == [
        "market", "limit", "stop_market", "stop_limit", "take_profit", "take_profit_limit"]
    assert not caps.native("trailing_stop")


async def test_native_stop_loss_fires_at_the_exchange(live: Engine, fake: FakeBinance) -> None:
    tid = await _long(live)
    o = await place_stoploss(live.execution, tid, D(58000))
    assert o is not None and o.state == S.OPEN and not o.emulated
    fo = _sent(fake, o)
    assert (fo.type, fo.stop_price, fo.status) == ("STOP_LOSS", D(58000), "NEW")
    fake.set_price("BTCUSDT", D(57900))
    await live.tick()
    assert o.id is not None
    done = _get(live, o.id)
    assert done.state == S.FILLED and done.average_price == D(57900)
    assert not live.open_trades()


async def test_native_stop_limit_take_profit_limit_and_refusals(live: Engine,
                                                                fake: FakeBinance) -> None:
    tid = await _long(live)
    sl = await live.execution.submit(_order(live, "sell", "stop_limit", "0.005", "57900",
                                            tid, trigger_price=D(58000)))
    tp = await live.execution.submit(_order(live, "sell", "take_profit_limit", "0.005",
                                            "62100", tid, trigger_price=D(62000)))
    assert (_sent(fake, sl).type, _sent(fake, sl).tif) == ("STOP_LOSS_LIMIT", "GTC")
    assert (_sent(fake, tp).type, _sent(fake, tp).stop_price) == ("TAKE_PROFIT_LIMIT", D(62000))
    assert sl.state == tp.state == S.OPEN
    fake.set_price("BTCUSDT", D(62000))  # take-profit fires: a limit at 62100 rests
    await live.tick()
    assert tp.id is not None and _get(live, tp.id).state == S.OPEN
    fake.set_price("BTCUSDT", D(62150))
    await live.tick()
    assert _get(live, tp.id).state == S.FILLED and _get(live, tp.id).average_price == D(62100)
    now = await live.execution.submit(_order(live, "sell", "stop_market", "0.001", None, tid,
                                             trigger_price=D(63000)))
    assert now.state == S.FAILED and "would trigger immediately" in (now.error or "")


async def test_ioc_partial_fill_is_kept_and_fok_is_killed(live: Engine,
                                                          fake: FakeBinance) -> None:
    fake.liquidity["BTCUSDT"] = D("0.004")
    ioc = await live.execution.submit(_order(live, type_="limit", price="60100",
                                             time_in_force="IOC"))
    assert _sent(fake, ioc).tif == "IOC" and _sent(fake, ioc).status == "EXPIRED"
    assert ioc.state == S.CANCELED and ioc.filled == D("0.004")
    [t] = live.open_trades()
    assert t.amount == D("0.004")
    fok = await live.execution.submit(_order(live, type_="limit", price="60100",
                                             time_in_force="FOK"))
    assert fok.state == S.CANCELED and fok.filled == 0


async def test_post_only_goes_as_limit_maker(live: Engine, fake: FakeBinance) -> None:
    taker = await live.execution.submit(_order(live, type_="limit", price="60000",
                                               post_only=True))
    assert taker.state == S.FAILED and "immediately match and take" in (taker.error or "")
    maker = await live.execution.submit(_order(live, type_="limit", price="59000",
                                               post_only=True))
    assert maker.state == S.OPEN and _sent(fake, maker).type == "LIMIT_MAKER"


async def test_emulated_trailing_stop_fires_a_market_order(live: Engine,
                                                           fake: FakeBinance) -> None:
    tid = await _long(live)
    posts = fake.requests.count("POST /api/v3/order")
    o = await live.execution.submit(_order(live, "sell", "trailing_stop", trade_id=tid,
                                           trailing_pct=D(2)))
    assert o.emulated and o.state == S.OPEN and o.client_order_id not in fake.orders
    assert fake.requests.count("POST /api/v3/order") == posts  # held by the engine
    live.quotes["BTC/USDT"] = Quote(D(61900), high=D(62000), low=D(61500))
    assert await live.emulator.check() == 0
    assert o.id is not None and _get(live, o.id).trail_ref == D(62000)
    fake.set_price("BTCUSDT", D(60700))
    live.quotes["BTC/USDT"] = Quote(D(60700), high=D(61000), low=D(60700))
    assert await live.emulator.check() == 1
    fired = _get(live, o.id)
    fo = _sent(fake, fired)
    assert (fo.type, fo.side) == ("MARKET", "SELL")
    assert fired.state == S.FILLED and fired.triggered_at is not None
    assert not live.open_trades()


async def test_emulated_stop_survives_a_lost_send(make_live: Callable[..., Any],
                                                  fake: FakeBinance) -> None:
    live: Engine = await make_live(type_overrides={"stop_market": "emulated"})
    tid = await _long(live)
    o = await place_stoploss(live.execution, tid, D(59000))
    assert o is not None and o.emulated and o.id is not None
    fake.faults.append(Fault("POST /api/v3/order", "timeout"))
    fake.set_price("BTCUSDT", D(58900))
    live.quotes["BTC/USDT"] = Quote(D(58900), high=D(59200), low=D(58900))
    await live.emulator.check()
    lost = _get(live, o.id)
    assert lost.state == S.OPEN and lost.triggered_at is not None
    assert lost.client_order_id not in fake.orders
    # a restart reconciles: the fired order is unknown at the exchange, so it is sent
    again: Engine = await make_live(type_overrides={"stop_market": "emulated"})
    assert _get(again, o.id).state == S.FILLED and not again.open_trades()
    assert _sent(fake, lost).type == "MARKET"
    assert await again.reconcile() == []  # settled: nothing sent twice


async def test_unfilled_timeout_cancels_at_the_exchange_and_keeps_the_partial(
        live: Engine, fake: FakeBinance, clock: Any) -> None:
    fake.liquidity["BTCUSDT"] = D("0.004")
    o = await live.execution.submit(_order(live, type_="limit", price="60000"))
    assert o.state == S.PARTIALLY_FILLED and o.filled == D("0.004")
    clock.advance(minutes=11)
    [done] = await cancel_unfilled(live.execution, Timeouts(entry=timedelta(minutes=10)))
    assert done.state == S.CANCELED and done.filled == D("0.004")
    assert _sent(fake, done).status == "CANCELED"
    [t] = live.open_trades()
    assert t.amount == D("0.004")


async def test_native_trailing_when_trusted(make_live: Callable[..., Any],
                                            fake: FakeBinance) -> None:
    live: Engine = await make_live(type_overrides={"trailing_stop": "native"})
    tid = await _long(live)
    o = await live.execution.submit(_order(live, "sell", "trailing_stop", trade_id=tid,
                                           trailing_pct=D(2)))
    fo = _sent(fake, o)
    assert (fo.type, fo.trailing_delta, o.emulated) == ("STOP_LOSS", 200, False)
    fake.set_price("BTCUSDT", D(62000))
    fake.set_price("BTCUSDT", D(60800))
    await live.tick()
    assert o.id is not None and _get(live, o.id).state == S.OPEN
    fake.set_price("BTCUSDT", D(60700))
    await live.tick()
    assert _get(live, o.id).state == S.FILLED and not live.open_trades()
    with live.sessions() as s:
        assert s.exec(select(Order).where(Order.type == "trailing_stop")).one().filled == D("0.01")


async def test_canceling_an_unfired_emulated_order_sends_nothing(live: Engine,
                                                                 fake: FakeBinance) -> None:
    tid = await _long(live)
    o = await live.execution.submit(_order(live, "sell", "trailing_stop", trade_id=tid,
                                           trailing_pct=D(3)))
    assert o.id is not None and o.emulated
    calls = len(fake.requests)
    done = await live.execution.cancel(o.id, "user")
    assert done.state == S.CANCELED and len(fake.requests) == calls
    assert await live.reconcile() == []
