"""Live fills over the user-data stream: real ccxt (REST orders) and real ccxt.pro
(`watch_orders` / `watch_balance` over Binance's WebSocket API) against the loopback
fakes. A resting order placed over REST fills on the exchange; the executions arrive on
the stream and are booked once each, and REST reconciliation then finds nothing new; a
market order booked from its REST answer is not booked again from the stream; a dropped
stream reconnects and REST polling books the fill it missed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxtpro
import pytest
from sqlmodel import select

from engine.data.stream import Backoff
from engine.execution.ccxt_broker import CcxtBroker
from engine.execution.paper import Quote
from engine.execution.userstream import UserStream, order_update
from engine.outbox import ConsoleNotifier
from engine.service.engine import Engine
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import Balance, Fill, Order, OrderState
from tests.engine.conftest import T0, make_settings
from tests.engine.test_ccxt_broker import _proposal
from tests.engine.test_stream import until
from tests.fakes.binance_ws import FakeBinanceWS, point_ws
from tests.fakes.exchange_server import FakeBinance, point_exchange

OPTIONS = {"fetchCurrencies": False, "fetchMargins": False, "fetchMarkets": {"types": ["spot"]}}


class Env:
    def __init__(self, eng: Engine, rest: FakeBinance, ws: FakeBinanceWS,
                 stream: UserStream, errors: list[str]) -> None:
        self.eng, self.rest, self.ws, self.stream, self.errors = eng, rest, ws, stream, errors


@pytest.fixture
async def env(db_url: str, clock: Any) -> AsyncIterator[Env]:
    rest = FakeBinance(delay_s=1.0)
    ws = FakeBinanceWS()
    await rest.start()
    await ws.start()
    ws.serve_user_data(rest)
    ex = ccxt_async.binance({"apiKey": "k", "secret": "s", "timeout": 2000,
                             "enableRateLimit": False, "options": dict(OPTIONS)})
    point_exchange(ex, rest.url)
    eng = Engine(make_settings(db_url), SessionFactory(make_engine(db_url)), clock=clock,
                 broker=CcxtBroker(ex, clock=clock, backoff_s=0.01),
                 notifiers=[ConsoleNotifier()])
    await eng.start()
    eng.quotes["BTC/USDT"] = Quote(Decimal(60000))
    pro = ccxtpro.binance({"apiKey": "k", "secret": "s", "timeout": 2000,
                           "enableRateLimit": False, "options": dict(OPTIONS)})
    point_exchange(pro, rest.url)
    point_ws(pro, ws.url)
    errors: list[str] = []
    stream = UserStream(pro, eng.execution, backoff=Backoff(base_s=0.05, cap_s=0.2),
                        on_error=lambda e: errors.append(type(e).__name__))
    stream.start()
    await until(lambda: ws.user, "the user-data subscription")
    yield Env(eng, rest, ws, stream, errors)
    await stream.close()
    await pro.close()
    await eng.close()
    eng.sessions.engine.dispose()
    await ws.stop()
    await rest.stop()


def _limit(eng: Engine, cid: str, amount: str, price: str) -> int:
    with eng.sessions.begin() as s:
        o = Order(client_order_id=cid, exchange="binance", symbol="BTC/USDT", side="buy",
                  type="limit", amount=Decimal(amount), price=Decimal(price), created_at=T0,
                  updated_at=T0)
        s.add(o)
        s.flush()
        return o.id or 0


def _fills(eng: Engine, oid: int | None = None) -> list[Fill]:
    with eng.sessions() as s:
        q = select(Fill) if oid is None else select(Fill).where(Fill.order_id == oid)
        return list(s.exec(q).all())


def _order(eng: Engine, oid: int) -> Order:
    with eng.sessions() as s:
        o = s.get(Order, oid)
        assert o is not None
        return o


async def test_a_resting_order_fills_over_the_stream_once(env: Env) -> None:
    eng, rest, ws = env.eng, env.rest, env.ws
    oid = _limit(eng, "st-limit-1", "0.01", "59000")
    placed = await eng.execution.submit(oid)
    assert placed.state == OrderState.OPEN
    # the exchange executes it in two trades; each arrives over the stream
    ws.fill_order(rest, "st-limit-1", Decimal("0.004"))
    await until(lambda: len(_fills(eng, oid)) == 1, "the first execution")
    assert _order(eng, oid).state == OrderState.PARTIALLY_FILLED
    ws.fill_order(rest, "st-limit-1", Decimal("0.006"))
    await until(lambda: _order(eng, oid).state == OrderState.FILLED, "the second execution")
    fills = _fills(eng, oid)
    eid = _order(eng, oid).exchange_order_id
    assert [(f.trade_key, f.amount, f.price) for f in fills] == [
        (f"{eid}:0->0.004", Decimal("0.004"), Decimal(59000)),
        (f"{eid}:0.004->0.01", Decimal("0.006"), Decimal(59000))]
    assert fills[1].fee == Decimal("0.354")  # the exchange's commission, not an estimate
    assert env.stream.booked == 2
    # REST reconciliation now: the same exchange state, nothing new to book
    get_before = rest.requests.count("GET /api/v3/order")
    assert await eng.execution.poll_open() == 0
    await eng.execution.reconcile()
    assert len(_fills(eng)) == 2 and _order(eng, oid).filled == Decimal("0.01")
    assert rest.requests.count("GET /api/v3/order") == get_before  # nothing was working
    # the balances came over the stream too (outboundAccountPosition)

    def btc() -> Decimal | None:
        with eng.sessions() as s:
            row = s.exec(select(Balance).where(Balance.account == "live",
                                               Balance.asset == "BTC")).first()
        return row.free if row is not None else None

    await until(lambda: btc() == Decimal("0.01"), "the streamed balance")


async def test_a_market_order_booked_from_rest_is_not_booked_again(env: Env) -> None:
    eng, ws = env.eng, env.ws
    d = await eng.approve(_proposal(eng, "0.01"), "telegram:1")
    assert d.order is not None and d.order.state == OrderState.FILLED
    await until(lambda: ws.user_events >= 2 and env.stream.updates >= 1,
                "the execution on the stream")
    assert len(_fills(eng)) == 1 and _fills(eng)[0].amount == Decimal("0.01")


async def test_a_dropped_stream_reconnects_and_rest_covers_the_gap(env: Env) -> None:
    eng, rest, ws = env.eng, env.rest, env.ws
    oid = _limit(eng, "st-limit-2", "0.01", "59000")
    await eng.execution.submit(oid)
    await ws.drop()
    # filled while the line is down: the report goes nowhere
    ws.fill_order(rest, "st-limit-2", Decimal("0.01"))
    await until(lambda: env.stream.reconnects >= 1, "the reconnect")
    await until(lambda: _order(eng, oid).state == OrderState.FILLED, "the REST poll")
    assert env.errors  # the drop counted toward the API-error breaker
    [fill] = _fills(eng, oid)
    assert fill.amount == Decimal("0.01")
    # and the stream speaks again: a new execution arrives over it
    assert ws.user
    oid3 = _limit(eng, "st-limit-3", "0.01", "59000")
    await eng.execution.submit(oid3)
    booked = env.stream.booked
    ws.fill_order(rest, "st-limit-3", Decimal("0.01"))
    await until(lambda: _order(eng, oid3).state == OrderState.FILLED, "the streamed fill")
    assert env.stream.booked == booked + 1


def test_an_update_is_the_delta_from_what_is_booked() -> None:
    raw = {"id": "7", "clientOrderId": "c", "status": "open", "filled": "0.3", "cost": "30.6",
           "info": {"l": "0.1", "n": "0.01", "N": "USDT"}, "lastTradeTimestamp": 1_000}
    res = order_update(raw, Decimal("0.1"), Decimal(100), taker_fee=Decimal("0.001"),
                       quote="USDT")
    [f] = res.fills
    assert f.trade_key == "7:0.1->0.3" and f.amount == Decimal("0.2")
    assert f.price == Decimal("103")  # (30.6 - 10) / 0.2
    assert f.fee == Decimal("0.0206")  # two trades in one delta: the taker-fee estimate
    assert order_update(raw, Decimal("0.3"), Decimal(102), taker_fee=Decimal("0.001"),
                        quote="USDT").fills == ()


async def test_a_live_streaming_service_books_from_the_user_stream(env: Env,
                                                                    db_url: str) -> None:
    """`ServiceFeed.attach` (what `sentitrade run` calls) starts the user stream in live
    mode with ``stream = true``, on a client built from the settings' keys and URLs."""
    from engine.data.live import ServiceFeed

    settings = make_settings(db_url, exchange={
        "mode": "live", "stream": True, "api_url": env.rest.url, "ws_url": env.ws.url,
        "api_key": "k", "secret": "s", "book_depth": 0})
    sf = ServiceFeed(settings)
    before = len(env.ws.user)
    try:
        sf.attach(env.eng)
        assert sf.user is not None
        await until(lambda: len(env.ws.user) == before + 1, "its subscription")
        oid = _limit(env.eng, "st-limit-4", "0.01", "59000")
        await env.eng.execution.submit(oid)
        env.ws.fill_order(env.rest, "st-limit-4", Decimal("0.01"))
        await until(lambda: _order(env.eng, oid).state == OrderState.FILLED, "the fill")
        assert len(_fills(env.eng, oid)) == 1  # two streams heard it, booked once
    finally:
        await sf.close()
