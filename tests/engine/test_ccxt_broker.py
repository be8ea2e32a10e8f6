"""The live broker: real ccxt (binance) against the fake exchange on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import ccxt.async_support as ccxt_async
import pytest
from sqlmodel import select

from engine.execution.ccxt_broker import CcxtBroker
from engine.execution.paper import Quote
from engine.outbox import ConsoleNotifier
from engine.service.engine import Engine
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import Fill, Order, OrderState, OutboxMessage, Proposal
from tests.engine.conftest import make_settings
from tests.fakes.exchange_server import FakeBinance, Fault, point_exchange


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    f = FakeBinance(delay_s=1.0)
    await f.start()
    yield f
    await f.stop()


@pytest.fixture
async def live(fake: FakeBinance, db_url: str, clock) -> AsyncIterator[Engine]:
    ex = ccxt_async.binance({"apiKey": "k", "secret": "s", "timeout": 400,
                             "enableRateLimit": False,
                             "options": {"fetchCurrencies": False, "fetchMargins": False,
                                         "fetchMarkets": {"types": ["spot"]}}})
    point_exchange(ex, fake.url)
    broker = CcxtBroker(ex, clock=clock, backoff_s=0.01)
    eng = Engine(make_settings(db_url), SessionFactory(make_engine(db_url)), clock=clock,
                 broker=broker, notifiers=[ConsoleNotifier()])
    await eng.start()
    eng.quotes["BTC/USDT"] = Quote(Decimal(60000))
    yield eng
    await eng.close()
    eng.sessions.engine.dispose()


def _proposal(eng: Engine, amount: str) -> int:
    now = eng.clock.now()
    with eng.sessions.begin() as s:
        p = Proposal(bot_id=eng.bots.get("b1").id, symbol="BTC/USDT", side="buy",
                     intent="enter", amount=Decimal(amount), ref_price=Decimal(60000),
                     created_at=now, expires_at=now + timedelta(minutes=5))
        s.add(p)
        s.flush()
        assert p.id is not None
        return p.id


def _fills(eng: Engine) -> list[Fill]:
    with eng.sessions() as s:
        return list(s.exec(select(Fill)).all())


async def test_markets_precision_and_fill(live: Engine, fake: FakeBinance) -> None:
    m = live.markets["BTC/USDT"]
    assert (m.min_amount, m.min_cost, m.amount_step) == (
        Decimal("0.0001"), Decimal("10"), Decimal("0.0001"))
    d = await live.approve(_proposal(live, "0.012345"), "telegram:1")
    assert d.order is not None and d.order.state == OrderState.FILLED
    [fo] = fake.orders.values()
    assert fo.qty == Decimal("0.0123") and fo.client_id == d.order.client_order_id
    [f] = _fills(live)
    assert f.price == Decimal(60000)
    bal = {b.asset: b.free for b in await live.balances()}
    assert bal["BTC"] == Decimal("0.0123")


async def test_timeout_after_accept_is_settled_by_client_id(live: Engine,
                                                           fake: FakeBinance) -> None:
    fake.faults.append(Fault("POST /api/v3/order", "timeout_after_accept"))
    d = await live.approve(_proposal(live, "0.01"), "telegram:1")
    assert d.order is not None and d.order.state == OrderState.PENDING_CREATE
    assert "ExchangeUnavailable" in (d.order.error or "")
    notes = await live.reconcile()
    assert any("synced" in n for n in notes)
    with live.sessions() as s:
        o = s.exec(select(Order)).one()
    assert o.state == OrderState.FILLED and len(_fills(live)) == 1
    assert fake.requests.count("POST /api/v3/order") == 1 and len(fake.orders) == 1


async def test_rate_limited_create_is_resubmitted_once(live: Engine, fake: FakeBinance) -> None:
    fake.faults.append(Fault("POST /api/v3/order", "429"))
    d = await live.approve(_proposal(live, "0.01"), "x")
    assert d.order is not None and d.order.state == OrderState.PENDING_CREATE
    fake.faults.append(Fault("GET /api/v3/order", "500"))  # retried: reads are safe
    await live.reconcile()
    with live.sessions() as s:
        o = s.exec(select(Order)).one()
    assert o.state == OrderState.FILLED
    assert fake.requests.count("POST /api/v3/order") == 2 and len(fake.orders) == 1
    assert fake.requests.count("GET /api/v3/order") == 2


async def test_partial_fill_then_rest(live: Engine, fake: FakeBinance) -> None:
    fake.faults.append(Fault("POST /api/v3/order", "partial"))
    d = await live.approve(_proposal(live, "0.01"), "x")
    assert d.order is not None and d.order.state == OrderState.PARTIALLY_FILLED
    assert d.order.filled == Decimal("0.005")
    await live.tick()
    fills = _fills(live)
    assert len(fills) == 2 and sum(f.amount for f in fills) == Decimal("0.01")
    await live.reconcile()  # same exchange state reported again: nothing new
    assert len(_fills(live)) == 2
    [t] = live.open_trades()
    assert t.amount == Decimal("0.01")


async def test_orphan_is_alerted(live: Engine, fake: FakeBinance) -> None:
    from tests.fakes.exchange_server import FakeOrder

    fake.orders["manual-1"] = FakeOrder(1, "manual-1", "BTCUSDT", "BUY", "LIMIT",
                                        Decimal("0.01"), Decimal(50000))
    notes = await live.reconcile()
    assert "manual-1: orphan" in notes
    with live.sessions() as s:
        msg = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "error")).one()
    assert "manual-1" in msg.payload["text"]


async def test_insufficient_funds_maps_and_fails(live: Engine, fake: FakeBinance) -> None:
    fake.balances["USDT"][0] = Decimal(100)
    with live.sessions.begin() as s:
        p = s.get(Proposal, _proposal(live, "0.01"))
        assert p is not None
        p.state = "approved"
        oid = live.execution.create_order_row(s, p).id
    assert oid is not None
    o = await live.execution.submit(oid)
    assert o.state == OrderState.FAILED and "insufficient balance" in (o.error or "")
