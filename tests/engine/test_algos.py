"""TWAP/VWAP executors on a manual clock: the schedule, VWAP weights, the limit price,
stops on a breaker or a paused bot, cancel, and a restart that resumes (or expires)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from sqlmodel import col, select

from engine.clock import ManualClock
from engine.execution.algos import (
    DAY_MS,
    AlgoSpec,
    blocked_by_limit,
    cumulative_target,
    due_count,
    slice_times,
    slippage_bps,
    volume_profile,
)
from engine.execution.paper import Quote
from engine.service.engine import Engine
from engine.storage.models import AlgoOrder, Order, OutboxMessage, RiskEvent
from tests.engine.conftest import T0

Build = Callable[..., Awaitable[Engine]]
BTC = "BTC/USDT"


def spec(kind: str = "twap", side: str = "buy", amount: str = "0.03", minutes: int = 60,
         slices: int = 12, limit: str | None = None,
         weights: tuple[float, ...] | None = None) -> AlgoSpec:
    return AlgoSpec(kind, BTC, side, Decimal(amount), timedelta(minutes=minutes), slices,
                    Decimal(limit) if limit else None, weights)


def slices_of(eng: Engine, algo_id: int) -> list[Order]:
    with eng.sessions() as s:
        return list(s.exec(select(Order).where(Order.algo_id == algo_id)
                           .order_by(col(Order.id))).all())


def alerts(eng: Engine, kind: str = "algo") -> list[str]:
    with eng.sessions() as s:
        return [str(m.payload["text"]) for m in s.exec(
            select(OutboxMessage).where(OutboxMessage.kind == kind)
            .order_by(col(OutboxMessage.id))).all()]


async def run_until_done(eng: Engine, clock: ManualClock, algo_id: int,
                         price: Callable[[int], Decimal] | None = None,
                         step_s: int = 60, limit: int = 500) -> AlgoOrder:
    for i in range(limit):
        a = eng.get_algo(algo_id)
        if a.state != "running":
            return a
        clock.advance(seconds=step_s)
        if price is not None:
            eng.quotes[BTC] = Quote(price(i))
        await eng.tick()
    raise AssertionError("algo did not finish")


# ---------------------------------------------------------------- pure parts
def test_slice_schedule_is_even_and_starts_now() -> None:
    ts = slice_times(T0, timedelta(minutes=60), 12)
    assert ts[0] == T0 and ts[1] - ts[0] == timedelta(minutes=5)
    assert ts[-1] == T0 + timedelta(minutes=55)
    assert due_count(T0, timedelta(minutes=60), 12, T0) == 1
    assert due_count(T0, timedelta(minutes=60), 12, T0 + timedelta(minutes=14)) == 3
    assert due_count(T0, timedelta(minutes=60), 12, T0 + timedelta(hours=5)) == 12


def test_cumulative_target_reaches_the_total() -> None:
    w = [0.1, 0.2, 0.3, 0.4]
    total = Decimal("1")
    assert cumulative_target(total, w, 0) == 0
    assert cumulative_target(total, w, 2) == Decimal("0.3")
    assert cumulative_target(total, w, 4) == total


def test_vwap_profile_follows_volume_by_time_of_day() -> None:
    # five days of 1h candles; the 14:00-16:00 UTC hours trade 3x the others
    day0 = int(datetime(2025, 9, 1, tzinfo=UTC).timestamp() * 1000)
    hour = 3_600_000
    close = [day0 + h * hour for h in range(1, 5 * 24 + 1)]
    vol = [30.0 if (c - hour) % DAY_MS // hour in (14, 15) else 10.0 for c in close]
    start = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
    w = volume_profile(start, timedelta(hours=6), 6, close, vol, hour)  # 12:00 .. 18:00
    assert w is not None
    assert w == pytest.approx([0.1, 0.1, 0.3, 0.3, 0.1, 0.1])
    # 5m slices inside one hour candle share its volume: flat
    w2 = volume_profile(start, timedelta(minutes=30), 6, close, vol, hour)
    assert w2 == pytest.approx([1 / 6] * 6)
    assert volume_profile(start, timedelta(hours=1), 4, [], [], hour) is None


def test_limit_and_slippage_signs() -> None:
    assert blocked_by_limit("buy", Decimal(101), Decimal(100))
    assert not blocked_by_limit("buy", Decimal(99), Decimal(100))
    assert blocked_by_limit("sell", Decimal(99), Decimal(100))
    assert not blocked_by_limit("sell", Decimal(99), None)
    assert slippage_bps("buy", Decimal("100.1"), Decimal(100)) == pytest.approx(10.0)
    assert slippage_bps("sell", Decimal("100.1"), Decimal(100)) == pytest.approx(-10.0)
    assert slippage_bps("buy", None, Decimal(100)) is None


def test_spec_validation_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="slices"):
        spec(slices=0).validate()
    with pytest.raises(ValueError, match="weights"):
        spec(kind="vwap", slices=3, weights=(1.0, 2.0)).validate()
    with pytest.raises(ValueError, match="duration"):
        spec(minutes=0).validate()


# ---------------------------------------------------------------- on the engine
async def test_twap_runs_its_schedule_and_reports_slippage(engine_factory: Build,
                                                           clock: ManualClock) -> None:
    eng = await engine_factory()
    eng.quotes[BTC] = Quote(Decimal("60000"))
    a = await eng.start_algo(spec(), "test")
    assert a.slices_sent == 1 and len(slices_of(eng, a.id or 0)) == 1  # the first at once
    # no slice before its time
    clock.advance(minutes=4)
    await eng.tick()
    assert len(slices_of(eng, a.id or 0)) == 1
    done = await run_until_done(eng, clock, a.id or 0,
                                price=lambda i: Decimal(60000 + 10 * i))
    orders = slices_of(eng, a.id or 0)
    assert done.state == "done" and len(orders) == 12 == done.slices_sent
    assert {o.amount for o in orders} == {Decimal("0.0025")}
    assert all(o.state == "filled" for o in orders)
    assert done.filled == Decimal("0.03")
    assert len({o.trade_id for o in orders}) == 1  # one position grown slice by slice
    gaps = [(b.created_at - x.created_at) for x, b in pairwise(orders)]
    assert all(g == timedelta(minutes=5) for g in gaps)
    assert done.average_price is not None and done.average_price > done.arrival_price
    report = alerts(eng)[-1]
    bps = slippage_bps("buy", done.average_price, done.arrival_price)
    assert bps is not None and bps > 0
    assert f"slippage {bps:+.1f} bps" in report and "0.03/0.03" in report
    assert "in 12 of 12 slices" in report


async def test_vwap_sends_by_its_weights(engine_factory: Build, clock: ManualClock) -> None:
    eng = await engine_factory()
    eng.quotes[BTC] = Quote(Decimal("60000"))
    a = await eng.start_algo(spec("vwap", amount="0.02", minutes=40, slices=4,
                                  weights=(1, 3, 3, 1)), "test")
    done = await run_until_done(eng, clock, a.id or 0)
    assert [o.amount for o in slices_of(eng, a.id or 0)] == [
        Decimal("0.0025"), Decimal("0.0075"), Decimal("0.0075"), Decimal("0.0025")]
    assert done.filled == Decimal("0.02")


async def test_limit_holds_slices_back_and_catches_up(engine_factory: Build,
                                                      clock: ManualClock) -> None:
    eng = await engine_factory()
    eng.quotes[BTC] = Quote(Decimal("60000"))
    a = await eng.start_algo(spec(minutes=40, slices=4, amount="0.02", limit="60050"), "t")
    clock.advance(minutes=10)
    eng.quotes[BTC] = Quote(Decimal("60100"))  # above the limit: slice 2 held back
    await eng.tick()
    assert len(slices_of(eng, a.id or 0)) == 1
    assert any("above the limit" in t for t in alerts(eng))
    clock.advance(minutes=10)
    eng.quotes[BTC] = Quote(Decimal("60000"))
    await eng.tick()
    orders = slices_of(eng, a.id or 0)
    assert [o.amount for o in orders] == [Decimal("0.005"), Decimal("0.01")]  # caught up
    assert all(o.average_price is not None and o.average_price <= Decimal("60050")
               for o in orders)
    clock.advance(minutes=10)
    eng.quotes[BTC] = Quote(Decimal("61000"))  # the last slice can't go: left unfilled
    await eng.tick()
    done = eng.get_algo(a.id or 0)
    assert done.state == "done" and done.filled == Decimal("0.015") and done.skipped == 2
    assert "0.015/0.02" in alerts(eng)[-1]


async def test_breaker_stops_the_algo(engine_factory: Build, clock: ManualClock) -> None:
    eng = await engine_factory()
    eng.quotes[BTC] = Quote(Decimal("60000"))
    a = await eng.start_algo(spec(), "test")
    with eng.sessions.begin() as s:
        s.add(RiskEvent(rule="daily_loss", action="pause_entries", measured=6, threshold=5,
                        until=clock.now() + timedelta(hours=1), created_at=clock.now()))
    clock.advance(minutes=5)
    await eng.tick()
    done = eng.get_algo(a.id or 0)
    assert done.state == "stopped" and "circuit breaker" in (done.note or "")
    assert len(slices_of(eng, a.id or 0)) == 1
    assert "stopped (new entries paused by a circuit breaker)" in alerts(eng)[-1]


async def test_paused_bot_stops_its_algo(engine_factory: Build, clock: ManualClock) -> None:
    eng = await engine_factory()
    await eng.start_bot("b1", "test")
    eng.quotes[BTC] = Quote(Decimal("60000"))
    a = await eng.start_algo(spec(), "test")  # b1 trades BTC and runs: its algo
    assert a.bot_id is not None
    await eng.pause_bot("b1", "test")
    clock.advance(minutes=5)
    await eng.tick()
    assert eng.get_algo(a.id or 0).note == "bot b1 is paused"


async def test_cancel_and_risk_refusal(engine_factory: Build, clock: ManualClock) -> None:
    eng = await engine_factory()
    eng.quotes[BTC] = Quote(Decimal("60000"))
    a = await eng.start_algo(spec(), "test")
    c = await eng.cancel_algo(a.id or 0, "telegram:1")
    assert c.state == "canceled" and "canceled by telegram:1" in alerts(eng)[-1]
    clock.advance(minutes=30)
    await eng.tick()
    assert len(slices_of(eng, a.id or 0)) == 1
    with pytest.raises(Exception, match="already canceled"):
        await eng.cancel_algo(a.id or 0, "x")
    with pytest.raises(Exception, match="refused by risk: position"):
        await eng.start_algo(spec(amount="1"), "test")  # 60,000 > 20 % of 10,000


async def test_sell_algo_exits_the_position(engine_factory: Build, clock: ManualClock) -> None:
    eng = await engine_factory()
    eng.quotes[BTC] = Quote(Decimal("60000"))
    with pytest.raises(Exception, match="no open BTC/USDT position"):
        await eng.start_algo(spec(side="sell"), "test")
    buy = await eng.start_algo(spec(amount="0.02", minutes=20, slices=2), "test")
    await run_until_done(eng, clock, buy.id or 0)
    sell = await eng.start_algo(spec(side="sell", amount="0.02", minutes=20, slices=4), "t")
    done = await run_until_done(eng, clock, sell.id or 0)
    assert done.filled == Decimal("0.02") and not eng.open_trades()


async def test_restart_resumes_then_expires(engine_factory: Build, clock: ManualClock) -> None:
    eng = await engine_factory()
    eng.quotes[BTC] = Quote(Decimal("60000"))
    a = await eng.start_algo(spec(), "test")
    clock.advance(minutes=10)
    await eng.tick()  # two schedule points passed since the last step: one order for both
    assert [o.amount for o in slices_of(eng, a.id or 0)] == [Decimal("0.0025"),
                                                              Decimal("0.005")]
    await eng.close()
    # a restart 12 minutes later: the algo goes on, the missed slices in one order
    clock.advance(minutes=12)
    eng2 = await engine_factory()
    eng2.quotes[BTC] = Quote(Decimal("60000"))
    assert any("resumed after a restart" in t for t in alerts(eng2))
    await eng2.tick()
    orders = slices_of(eng2, a.id or 0)
    assert len(orders) == 3 and orders[-1].amount == Decimal("0.005")
    done = await run_until_done(eng2, clock, a.id or 0)
    assert done.state == "done" and done.filled == Decimal("0.03")
    # another algo, and a restart after its end: closed with its report, nothing sent
    b = await eng2.start_algo(spec(minutes=10, slices=2, amount="0.01"), "test")
    await eng2.close()
    clock.advance(hours=2)
    eng3 = await engine_factory()
    assert eng3.get_algo(b.id or 0).state == "expired"
    assert len(slices_of(eng3, b.id or 0)) == 1
    assert "expired (the service was down past its end)" in alerts(eng3)[-1]


async def test_sell_algo_stops_when_its_trade_closes(engine_factory: Build,
                                                     clock: ManualClock) -> None:
    eng = await engine_factory()
    eng.quotes[BTC] = Quote(Decimal("60000"))
    buy = await eng.start_algo(spec(amount="0.02", minutes=10, slices=1), "test")
    await run_until_done(eng, clock, buy.id or 0)
    sell = await eng.start_algo(spec(side="sell", amount="0.02", minutes=40, slices=4), "t")
    await eng.force_exit(None, "test")  # the position goes another way
    done = await run_until_done(eng, clock, sell.id or 0)
    assert done.state == "stopped" and "was closed by something else" in (done.note or "")
    assert len(slices_of(eng, sell.id or 0)) == 1
