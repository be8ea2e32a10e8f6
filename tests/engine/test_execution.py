"""Order state machine and the paper broker (book walk, limits, locks, fees)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import func, select

from engine.errors import InvalidStateTrigger
from engine.execution.broker import BrokerFill, BrokerOrder
from engine.execution.orders import NEXT, ORDER_FSM, OrderTrigger
from engine.execution.paper import Quote
from engine.service.engine import Engine
from engine.storage.models import Balance, Fill, Order, OrderState, Proposal

S, T = OrderState, OrderTrigger


def test_order_table() -> None:
    assert ORDER_FSM.next(S.PENDING_CREATE, T.ACCEPT) == S.OPEN
    assert ORDER_FSM.next(S.OPEN, T.PARTIAL) == S.PARTIALLY_FILLED
    assert ORDER_FSM.next(S.PENDING_CANCEL, T.FILL) == S.FILLED
    for terminal in (S.FILLED, S.CANCELED, S.FAILED):
        assert not any(k[0] == terminal for k in NEXT)
        with pytest.raises(InvalidStateTrigger):
            ORDER_FSM.next(terminal, T.FILL)


def _order(eng: Engine, side: str = "buy", type_: str = "market", amount: str = "0.01",
           price: str | None = None) -> int:
    now = eng.clock.now()
    with eng.sessions.begin() as s:
        p = Proposal(bot_id=eng.bots.get("b1").id, symbol="BTC/USDT", side=side,
                     intent="enter", amount=Decimal(amount), ref_price=Decimal(60000),
                     state="approved", created_at=now, expires_at=now + timedelta(minutes=5))
        s.add(p)
        s.flush()
        o = eng.execution.create_order_row(s, p, type_=type_,
                                           price=Decimal(price) if price else None)
        assert o.id is not None
        return o.id


def _bal(eng: Engine, asset: str) -> tuple[Decimal, Decimal]:
    with eng.sessions() as s:
        b = s.exec(select(Balance).where(Balance.asset == asset)).one()
        return b.free, b.locked


async def test_market_walks_the_book_and_cancels_the_rest(engine_factory) -> None:
    eng: Engine = await engine_factory()
    eng.quotes["BTC/USDT"] = Quote(Decimal(60000), asks=(
        (Decimal(60000), Decimal("0.004")), (Decimal(60100), Decimal("0.004"))))
    o = await eng.execution.submit(_order(eng, amount="0.01"))
    assert o.state == S.CANCELED and o.filled == Decimal("0.008")
    assert o.average_price == Decimal(60050)
    assert o.fee == Decimal("0.4804")  # taker 0.1% of 480.4
    assert _bal(eng, "USDT") == (Decimal(10000) - Decimal("480.4") - Decimal("0.4804"), 0)


async def test_bps_slippage_without_book(engine_factory) -> None:
    eng: Engine = await engine_factory(exchange={"slippage_bps": 10})
    eng.quotes["BTC/USDT"] = Quote(Decimal(60000))
    o = await eng.execution.submit(_order(eng))
    assert o.state == S.FILLED and o.average_price == Decimal(60060)


async def test_limit_locks_then_fills_on_cross_with_maker_fee(engine_factory) -> None:
    eng: Engine = await engine_factory(exchange={"maker_fee": "0.0005"})
    eng.quotes["BTC/USDT"] = Quote(Decimal(60000), high=Decimal(60100), low=Decimal(59900))
    oid = _order(eng, type_="limit", price="59000", amount="0.01")
    o = await eng.execution.submit(oid)
    assert o.state == S.OPEN
    locked = Decimal("590") * Decimal("1.0005")
    assert _bal(eng, "USDT") == (Decimal(10000) - locked, locked)
    assert await eng.execution.poll_open() == 0  # not crossed
    eng.quotes["BTC/USDT"] = Quote(Decimal(59500), high=Decimal(59600), low=Decimal(58950))
    assert await eng.execution.poll_open() == 1
    with eng.sessions() as s:
        o2 = s.get(Order, oid)
        assert o2 is not None and o2.state == S.FILLED and o2.fee == Decimal("0.295")
    assert _bal(eng, "USDT") == (Decimal(10000) - Decimal(590) - Decimal("0.295"), 0)
    assert _bal(eng, "BTC") == (Decimal("0.01"), 0)


async def test_cancel_releases_locked_funds(engine_factory) -> None:
    eng: Engine = await engine_factory()
    eng.quotes["BTC/USDT"] = Quote(Decimal(60000))
    oid = _order(eng, type_="limit", price="50000")
    await eng.execution.submit(oid)
    o = await eng.execution.cancel(oid, "user")
    assert o.state == S.CANCELED
    assert _bal(eng, "USDT") == (Decimal(10000), 0)


async def test_booking_twice_books_once_and_partial_then_fill(engine_factory) -> None:
    eng: Engine = await engine_factory()
    eng.quotes["BTC/USDT"] = Quote(Decimal(60000))
    oid = _order(eng, amount="0.02")
    now = eng.clock.now()
    f1 = BrokerFill("t1", Decimal("0.01"), Decimal(60000), Decimal("0.6"), "USDT", now)
    part = BrokerOrder("x", "ex1", "open", Decimal("0.01"), Decimal(60000), (f1,))
    assert eng.execution.book(oid, part).state == S.PARTIALLY_FILLED
    assert eng.execution.book(oid, part).state == S.PARTIALLY_FILLED  # same report again
    f2 = BrokerFill("t2", Decimal("0.01"), Decimal(60200), Decimal("0.602"), "USDT", now)
    done = BrokerOrder("x", "ex1", "closed", Decimal("0.02"), Decimal(60100), (f1, f2))
    o = eng.execution.book(oid, done)
    assert o.state == S.FILLED and o.filled == Decimal("0.02")
    assert o.average_price == Decimal(60100) and o.exchange_order_id == "ex1"
    with eng.sessions() as s:
        assert s.exec(select(func.count()).select_from(Fill)).one() == 2
    [t] = eng.open_trades()
    assert t.amount == Decimal("0.02") and t.open_price == Decimal(60100)


async def test_a_stale_cumulative_report_is_not_booked_over_a_newer_one(engine_factory) -> None:
    """REST and the user stream both report "filled so far"; a REST answer read before the
    stream booked a partial must not book its overlapping delta (nor its older status)."""
    eng: Engine = await engine_factory()
    eng.quotes["BTC/USDT"] = Quote(Decimal(60000))
    oid = _order(eng, type_="limit", amount="0.02", price="60000")
    now = eng.clock.now()
    z, half, whole = Decimal(0), Decimal("0.01"), Decimal("0.02")
    streamed = BrokerFill("ex1:0->0.01", half, Decimal(60000), Decimal("0.6"), "USDT", now, z)
    eng.execution.book(oid, BrokerOrder("x", "ex1", "open", half, Decimal(60000), (streamed,)))
    # the REST poll read booked=0 before the stream's booking, and saw the order canceled
    # after a fill of 0.02: its delta 0->0.02 overlaps the streamed 0->0.01
    stale = BrokerFill("ex1:0->0.02", whole, Decimal(60000), Decimal("1.2"), "USDT", now, z)
    o = eng.execution.book(oid, BrokerOrder("x", "ex1", "canceled", whole, Decimal(60000),
                                            (stale,)))
    assert o.state == S.PARTIALLY_FILLED and o.filled == half
    fresh = BrokerFill("ex1:0.01->0.02", half, Decimal(60000), Decimal("0.6"), "USDT", now, half)
    o = eng.execution.book(oid, BrokerOrder("x", "ex1", "closed", whole, Decimal(60000),
                                            (fresh,)))
    assert o.state == S.FILLED and o.filled == whole
    with eng.sessions() as s:
        assert s.exec(select(func.count()).select_from(Fill)).one() == 2


async def test_insufficient_funds_fails_order_and_proposal(engine_factory) -> None:
    eng: Engine = await engine_factory()
    eng.quotes["BTC/USDT"] = Quote(Decimal(60000))
    oid = _order(eng, amount="1")  # 60000 > 10000
    o = await eng.execution.submit(oid)
    assert o.state == S.FAILED and "not enough USDT" in (o.error or "")
    with eng.sessions() as s:
        p = s.get(Proposal, o.proposal_id)
        assert p is not None and p.state == "failed"
