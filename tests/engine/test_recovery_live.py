"""Restart recovery with the live (ccxt) broker: an order committed as PENDING_CREATE
before a kill is asked for at the exchange by its client id before anything is sent
again; found -> booked from the exchange's own fill, not found -> sent once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import ccxt.async_support as ccxt_async
import pytest
from sqlmodel import select

from engine.execution.approvals import ProposalTrigger, transition
from engine.execution.broker import OrderRequest
from engine.execution.ccxt_broker import CcxtBroker
from engine.execution.paper import Quote
from engine.outbox import ConsoleNotifier
from engine.service.engine import Engine
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import Fill, Order, OrderState, Proposal
from tests.engine.conftest import make_settings
from tests.engine.test_ccxt_broker import _proposal, fake, live  # noqa: F401 (fixtures)
from tests.fakes.exchange_server import FakeBinance, point_exchange


@pytest.fixture
async def restart(fake: FakeBinance, db_url: str, clock) -> AsyncIterator[object]:  # noqa: F811
    """Builds a second engine on the same database and exchange: the restarted process."""
    made: list[Engine] = []

    async def build() -> Engine:
        ex = ccxt_async.binance({"apiKey": "k", "secret": "s", "timeout": 400,
                                 "enableRateLimit": False,
                                 "options": {"fetchCurrencies": False, "fetchMargins": False,
                                             "fetchMarkets": {"types": ["spot"]}}})
        point_exchange(ex, fake.url)
        eng = Engine(make_settings(db_url), SessionFactory(make_engine(db_url)), clock=clock,
                     broker=CcxtBroker(ex, clock=clock, backoff_s=0.01),
                     notifiers=[ConsoleNotifier()])
        eng.quotes["BTC/USDT"] = Quote(Decimal(60000))
        await eng.start()  # reconciles
        made.append(eng)
        return eng

    yield build
    for e in made:
        await e.close()
        e.sessions.engine.dispose()


def _order_row(eng: Engine, amount: str) -> Order:
    """Approve a proposal and commit its order row, as `approve` does before sending."""
    pid = _proposal(eng, amount)
    with eng.sessions.begin() as s:
        p = s.get(Proposal, pid)
        assert p is not None
        transition(s, p, ProposalTrigger.APPROVE, by="auto", at=eng.clock.now())
        return eng.execution.create_order_row(s, p)


async def test_sent_then_killed_before_booking(live: Engine, fake: FakeBinance,  # noqa: F811
                                               restart) -> None:
    o = _order_row(live, "0.01")
    # the process sent it and died before booking the answer
    await live.broker.create_order(OrderRequest(o.client_order_id, o.symbol, o.side, o.type,
                                                o.amount))
    assert fake.requests.count("POST /api/v3/order") == 1
    again: Engine = await restart()
    with again.sessions() as s:
        row = s.exec(select(Order)).one()
        fills = s.exec(select(Fill)).all()
    assert row.state == OrderState.FILLED and len(fills) == 1
    assert fills[0].ts >= row.created_at
    assert fake.requests.count("POST /api/v3/order") == 1  # asked for, never sent again
    assert len(fake.orders) == 1


async def test_committed_never_sent_is_sent_once(live: Engine, fake: FakeBinance,  # noqa: F811
                                                 restart) -> None:
    _order_row(live, "0.01")
    again: Engine = await restart()
    await again.reconcile()  # a second pass finds nothing to do
    with again.sessions() as s:
        row = s.exec(select(Order)).one()
        assert row.state == OrderState.FILLED
        assert len(s.exec(select(Fill)).all()) == 1
    assert fake.requests.count("POST /api/v3/order") == 1 and len(fake.orders) == 1
