"""Order types on the paper broker: each type and time in force, partial fills, the
unfilled timeout, exchange rules, stop-loss on exchange, and the funds they lock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from sqlmodel import select

from engine.execution.broker import MarketInfo
from engine.execution.ordertypes import capabilities, check_trigger, describe, validate
from engine.execution.paper import Quote
from engine.execution.stoploss import place_stoploss, wants_stoploss_on_exchange
from engine.execution.timeouts import cancel_unfilled, timeouts_from_strategy
from engine.service.engine import Engine
from engine.storage.models import Balance, Order, OrderState, Proposal, Trade

S = OrderState
D = Decimal
BOOK = ((D(60000), D("0.004")), (D(60100), D("0.004")), (D(60300), D(1)))


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


def _bal(eng: Engine, asset: str) -> tuple[Decimal, Decimal]:
    with eng.sessions() as s:
        b = s.exec(select(Balance).where(Balance.asset == asset)).one()
        return b.free, b.locked


def _get(eng: Engine, oid: int) -> Order:
    with eng.sessions() as s:
        o = s.get(Order, oid)
        assert o is not None
        return o


async def _long(eng: Engine, amount: str = "0.01") -> Trade:
    """Buy at 60000 (no fee noise in the BTC leg) and return the open trade."""
    eng.quotes["BTC/USDT"] = Quote(D(60000))
    o = await eng.execution.submit(_order(eng, amount=amount))
    assert o.state == S.FILLED
    [t] = eng.open_trades()
    return t


@pytest.fixture
async def eng(engine_factory: Any) -> Engine:
    e: Engine = await engine_factory()
    return e


# ---------------------------------------------------------------- time in force
async def test_ioc_fills_what_is_there_and_cancels_the_rest(eng: Engine) -> None:
    eng.quotes["BTC/USDT"] = Quote(D(60000), asks=BOOK)
    o = await eng.execution.submit(_order(eng, type_="limit", price="60100",
                                          time_in_force="IOC"))
    assert o.state == S.CANCELED and o.filled == D("0.008")
    assert o.average_price == D(60050) and o.fee == D("0.4804")
    assert _bal(eng, "USDT") == (D(10000) - D("480.4") - D("0.4804"), 0)
    assert _bal(eng, "BTC") == (D("0.008"), 0)
    [t] = eng.open_trades()
    assert t.amount == D("0.008")


async def test_ioc_below_the_book_fills_nothing(eng: Engine) -> None:
    eng.quotes["BTC/USDT"] = Quote(D(60000), asks=BOOK)
    o = await eng.execution.submit(_order(eng, type_="limit", price="59000",
                                          time_in_force="IOC"))
    assert o.state == S.CANCELED and o.filled == 0
    assert _bal(eng, "USDT") == (D(10000), 0)


async def test_fok_is_all_or_nothing(eng: Engine) -> None:
    eng.quotes["BTC/USDT"] = Quote(D(60000), asks=BOOK)
    o = await eng.execution.submit(_order(eng, type_="limit", price="60100",
                                          time_in_force="FOK"))
    assert o.state == S.CANCELED and o.filled == 0 and not eng.open_trades()
    assert _bal(eng, "USDT") == (D(10000), 0)
    o2 = await eng.execution.submit(_order(eng, type_="limit", price="60100", amount="0.008",
                                           time_in_force="FOK"))
    assert o2.state == S.FILLED and o2.filled == D("0.008")


async def test_post_only_refuses_to_take_and_rests_as_maker(eng: Engine) -> None:
    eng.quotes["BTC/USDT"] = Quote(D(60000), asks=BOOK)
    o = await eng.execution.submit(_order(eng, type_="limit", price="60000", post_only=True))
    assert o.state == S.FAILED and "would take" in (o.error or "")
    o2 = await eng.execution.submit(_order(eng, type_="limit", price="59000", post_only=True))
    assert o2.state == S.OPEN
    assert _bal(eng, "USDT")[1] == D(590) * D("1.001")


def test_invalid_combinations_say_what_to_fix() -> None:
    assert "limit price" in (validate("stop_limit", price=None, trigger_price=D(1),
                                      trailing_pct=None, time_in_force="GTC",
                                      post_only=False) or "")
    assert "post-only" in (validate("limit", price=D(1), trigger_price=None, trailing_pct=None,
                                    time_in_force="IOC", post_only=True) or "")
    assert "callback" in (validate("trailing_stop", price=None, trigger_price=None,
                                   trailing_pct=D(0), time_in_force="GTC",
                                   post_only=False) or "")


# ---------------------------------------------------------------- conditional types
async def test_stop_market_sell_locks_coins_and_fires_on_the_low(eng: Engine) -> None:
    t = await _long(eng)
    oid = _order(eng, side="sell", type_="stop_market", trigger_price=D(59000), trade_id=t.id)
    o = await eng.execution.submit(oid)
    assert o.state == S.OPEN and _bal(eng, "BTC") == (0, D("0.01"))
    eng.quotes["BTC/USDT"] = Quote(D(59800), high=D(60200), low=D(59500))
    assert await eng.execution.poll_open() == 0
    eng.quotes["BTC/USDT"] = Quote(D(59100), high=D(59700), low=D(58800))
    assert await eng.execution.poll_open() == 1
    o = _get(eng, oid)
    assert o.state == S.FILLED and o.average_price == D(59000) and o.triggered_at is not None
    assert _bal(eng, "BTC") == (0, 0) and not eng.open_trades()


async def test_stop_that_would_trigger_now_is_refused(eng: Engine) -> None:
    await _long(eng)
    o = await eng.execution.submit(_order(eng, side="sell", type_="stop_market",
                                          trigger_price=D(60500)))
    assert o.state == S.FAILED and "trigger immediately" in (o.error or "")
    assert _bal(eng, "BTC") == (D("0.01"), 0)


async def test_stop_limit_becomes_a_limit_once_triggered(eng: Engine) -> None:
    t = await _long(eng)
    oid = _order(eng, side="sell", type_="stop_limit", price="58900", trigger_price=D(59000),
                 trade_id=t.id)
    await eng.execution.submit(oid)
    eng.quotes["BTC/USDT"] = Quote(D(58800), high=D(58850), low=D(58700))  # gapped past
    await eng.execution.poll_open()
    o = _get(eng, oid)
    assert o.state == S.OPEN and o.triggered_at is not None and o.filled == 0
    eng.quotes["BTC/USDT"] = Quote(D(58900), high=D(58950), low=D(58800))
    await eng.execution.poll_open()
    o = _get(eng, oid)
    assert o.state == S.FILLED and o.average_price == D(58900)


async def test_take_profit_market_and_limit(eng: Engine) -> None:
    t = await _long(eng, "0.02")
    tp = _order(eng, side="sell", type_="take_profit", amount="0.01", trigger_price=D(61000),
                trade_id=t.id)
    tpl = _order(eng, side="sell", type_="take_profit_limit", amount="0.01", price="61500",
                 trigger_price=D(61400), trade_id=t.id)
    assert (await eng.execution.submit(tp)).state == S.OPEN
    assert (await eng.execution.submit(tpl)).state == S.OPEN
    assert _bal(eng, "BTC") == (0, D("0.02"))
    eng.quotes["BTC/USDT"] = Quote(D(61100), high=D(61200), low=D(60900))
    await eng.execution.poll_open()
    assert _get(eng, tp).state == S.FILLED and _get(eng, tp).average_price == D(61000)
    assert _get(eng, tpl).state == S.OPEN and _get(eng, tpl).triggered_at is None
    eng.quotes["BTC/USDT"] = Quote(D(61600), high=D(61700), low=D(61100))
    await eng.execution.poll_open()
    assert _get(eng, tpl).state == S.FILLED and _get(eng, tpl).average_price == D(61500)
    assert not eng.open_trades() and _bal(eng, "BTC") == (0, 0)


async def test_trailing_stop_follows_the_best_price(eng: Engine) -> None:
    t = await _long(eng)
    oid = _order(eng, side="sell", type_="trailing_stop", trailing_pct=D(2), trade_id=t.id)
    o = await eng.execution.submit(oid)
    assert o.state == S.OPEN and o.trail_ref == D(60000)
    eng.quotes["BTC/USDT"] = Quote(D(61500), high=D(62000), low=D(61000))
    await eng.execution.poll_open()
    o = _get(eng, oid)
    assert o.state == S.OPEN and o.trail_ref == D(62000)  # level now 60760
    eng.quotes["BTC/USDT"] = Quote(D(60800), high=D(61500), low=D(60700))
    await eng.execution.poll_open()
    o = _get(eng, oid)
    assert o.state == S.FILLED and o.average_price == D(60760)


async def test_buy_stop_locks_quote_and_cancel_releases_it(eng: Engine) -> None:
    eng.quotes["BTC/USDT"] = Quote(D(60000))
    oid = _order(eng, type_="stop_market", trigger_price=D(61000))
    o = await eng.execution.submit(oid)
    assert o.state == S.OPEN and o.reserved == D(610) * D("1.001")
    assert _bal(eng, "USDT") == (D(10000) - o.reserved, o.reserved)
    await eng.execution.cancel(oid, "user")
    assert _bal(eng, "USDT") == (D(10000), 0)


def test_trigger_rules_for_each_direction() -> None:
    kw: dict[str, Any] = {"trailing_pct": None, "ref": None}
    assert check_trigger("stop_market", "sell", trigger_price=D(99), last=D(100), low=D(98),
                         **kw).fired
    assert not check_trigger("stop_market", "buy", trigger_price=D(101), last=D(100),
                             high=D(100.5), **kw).fired
    assert check_trigger("take_profit", "buy", trigger_price=D(99), last=D(100), low=D(99),
                         **kw).fired
    chk = check_trigger("trailing_stop", "buy", trigger_price=None, trailing_pct=D(1),
                        ref=D(100), last=D(96), high=D(97), low=D(95))
    assert chk.ref == D(95) and chk.fired  # 95 * 1.01 = 95.95 <= high 97


# ---------------------------------------------------------------- timeout, rules, stops
async def test_unfilled_timeout_cancels_old_orders_and_keeps_partials(eng: Engine) -> None:
    from engine.execution.broker import BrokerFill, BrokerOrder

    eng.quotes["BTC/USDT"] = Quote(D(60000))
    old = _order(eng, type_="limit", price="59000")
    await eng.execution.submit(old)
    f = BrokerFill("p1", D("0.004"), D(59000), D("0.236"), "USDT", eng.clock.now())
    eng.execution.book(old, BrokerOrder("x", "paper-x", "open", D("0.004"), D(59000), (f,)))
    assert _get(eng, old).state == S.PARTIALLY_FILLED
    eng.clock.advance(minutes=11)  # type: ignore[attr-defined]
    young = _order(eng, type_="limit", price="58000")
    await eng.execution.submit(young)
    tos = timeouts_from_strategy({"entry": 10, "exit": 10, "unit": "minutes"})
    done = await cancel_unfilled(eng.execution, tos)
    assert [o.id for o in done] == [old]
    o = _get(eng, old)
    assert o.state == S.CANCELED and o.filled == D("0.004")
    [t] = eng.open_trades()
    assert t.amount == D("0.004")
    young_lock = _get(eng, young).reserved
    assert young_lock is not None
    assert _bal(eng, "USDT") == (D(10000) - D(236) - D("0.236") - young_lock, young_lock)
    assert _get(eng, young).state == S.OPEN
    with pytest.raises(ValueError, match="unit"):
        timeouts_from_strategy({"entry": 1, "unit": "days"})


async def test_exchange_rules_round_and_refuse_before_sending(eng: Engine) -> None:
    eng.broker.markets["BTC/USDT"] = MarketInfo(  # type: ignore[attr-defined]
        "BTC/USDT", "BTC", "USDT", min_amount=D("0.001"), min_cost=D(10),
        amount_step=D("0.001"), price_step=D("0.1"))
    eng.quotes["BTC/USDT"] = Quote(D(60000))
    o = await eng.execution.submit(_order(eng, type_="limit", price="59000.06",
                                          amount="0.0123456"))
    assert o.state == S.OPEN and o.amount == D("0.012") and o.price == D("59000.1")
    small = await eng.execution.submit(_order(eng, amount="0.0004"))
    assert small.state == S.FAILED and "below the minimum amount 0.001" in (small.error or "")
    cheap = await eng.execution.submit(_order(eng, type_="limit", price="5000", amount="0.001"))
    assert cheap.state == S.FAILED and "minimum order value 10 USDT" in (cheap.error or "")


async def test_reduce_only_refuses_a_buy_and_caps_a_sell(eng: Engine) -> None:
    t = await _long(eng)
    buy = await eng.execution.submit(_order(eng, reduce_only=True))
    assert buy.state == S.FAILED and "reduce-only" in (buy.error or "")
    sell = await eng.execution.submit(_order(eng, side="sell", amount="0.05", trade_id=t.id,
                                             reduce_only=True))
    assert sell.state == S.FILLED and sell.amount == D("0.01")


async def test_stoploss_on_exchange_placed_replaced_and_canceled_by_exit(eng: Engine) -> None:
    assert wants_stoploss_on_exchange({"stoploss_on_exchange": True})
    t = await _long(eng)
    assert t.id is not None
    first = await place_stoploss(eng.execution, t.id, D(57000))
    assert first is not None and first.state == S.OPEN and first.type == "stop_market"
    assert await place_stoploss(eng.execution, t.id, D(57000)) == first  # idempotent
    second = await place_stoploss(eng.execution, t.id, D(58000))
    assert second is not None and second.id != first.id
    assert first.id is not None and _get(eng, first.id).state == S.CANCELED
    assert _bal(eng, "BTC") == (0, D("0.01"))
    [closed] = await eng.force_exit(t.id, "test")
    assert not closed.is_open
    assert second.id is not None and _get(eng, second.id).state == S.CANCELED
    assert _bal(eng, "BTC") == (0, 0)


async def test_stoploss_fill_closes_the_trade_with_its_reason(eng: Engine) -> None:
    t = await _long(eng)
    assert t.id is not None
    await place_stoploss(eng.execution, t.id, D(59000), limit_ratio=D("0.99"))
    eng.quotes["BTC/USDT"] = Quote(D(58000), high=D(59500), low=D(58000))
    await eng.execution.poll_open()
    with eng.sessions() as s:
        t2 = s.get(Trade, t.id)
        assert t2 is not None and not t2.is_open
        assert t2.exit_reason == "stoploss_on_exchange" and t2.close_price == D(58410)


async def test_capability_table_prints_native_and_emulated() -> None:
    assert "trailing stop: native on paper" in describe(None)
    ex = ccxt_async.binance()
    try:
        text = describe(ex)
        assert "stop-limit: native on binance" in text
        assert "trailing stop: emulated on binance" in text
        assert capabilities(ex).time_in_force == {"GTC": True, "IOC": True, "FOK": True,
                                                  "PO": True}
        forced = capabilities(ex, overrides={"stop_market": "emulated"})
        assert not forced.native("stop_market")
    finally:
        await ex.close()


async def test_tick_places_the_stop_for_a_strategy_that_asks(eng: Engine) -> None:
    strategy = eng.strategies.loaded["b1"].strategy
    strategy.order_types = {**strategy.order_types, "stoploss_on_exchange": True}  # type: ignore[misc]
    t = await _long(eng)
    with eng.sessions.begin() as s:
        row = s.get(Trade, t.id)
        assert row is not None
        row.stop_price = D(57000)
    eng.execution.version += 1  # the engine's cached view: a trade was written
    await eng.tick()
    with eng.sessions() as s:
        [stop] = s.exec(select(Order).where(Order.type == "stop_market")).all()
    assert stop.state == S.OPEN and stop.trigger_price == D(57000) and stop.reduce_only
    await eng.tick()  # idempotent: the same stop stays
    with eng.sessions() as s:
        assert len(s.exec(select(Order).where(Order.type == "stop_market")).all()) == 1
