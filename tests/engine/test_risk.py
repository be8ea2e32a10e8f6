"""Pre-trade checks, sizing and circuit breakers (defaults are the seed's)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from engine.errors import ApprovalError
from engine.execution.broker import MarketInfo
from engine.execution.paper import Quote
from engine.risk.checks import (
    BreakerMonitor,
    Intent,
    RiskContext,
    kelly_fraction,
    pre_trade,
    size_position,
)
from engine.service.engine import Engine
from engine.storage.config import RiskSettings
from engine.storage.models import Bot, BotState, OutboxMessage, Proposal, RiskEvent

LIM = RiskSettings()
BTC = MarketInfo("BTC/USDT", "BTC", "USDT", min_amount=Decimal("0.0001"),
                 min_cost=Decimal("10"), amount_step=Decimal("0.0001"))


def ctx(**kw: object) -> RiskContext:
    base: dict[str, object] = dict(equity=Decimal(10000), free_quote=Decimal(10000),
                                   exposure={}, open_trades=0, trades_today=0, market=BTC)
    base.update(kw)
    return RiskContext(**base)  # type: ignore[arg-type]


def buy(amount: str, price: str = "50000", symbol: str = "BTC/USDT") -> Intent:
    return Intent(symbol, "buy", "enter", Decimal(amount), Decimal(price))


def test_defaults_are_the_seeds() -> None:
    assert (LIM.daily_loss_pct, LIM.daily_loss_pause_minutes) == (5.0, 60)
    assert (LIM.drawdown_pause_pct, LIM.drawdown_pause_hours, LIM.drawdown_stop_pct) == (
        10.0, 24, 20.0)
    assert (LIM.api_errors_per_minute, LIM.api_error_pause_minutes) == (10, 5)
    assert (LIM.price_spike_pct, LIM.price_spike_window_seconds) == (10.0, 60)


@pytest.mark.parametrize(("intent", "c", "lim", "expect"), [
    (buy("0.01"), ctx(), LIM, None),
    (buy("0.05"), ctx(), LIM, "position 2500.00 is 25.0% of equity > max 20.0%"),
    (buy("0.01"), ctx(exposure={"BTC": Decimal(3600)}), LIM, "BTC exposure would be 41.0%"),
    (buy("0.01"), ctx(exposure={"ETH": Decimal(3900), "SOL": Decimal(3800)}), LIM,
     "total exposure would be 82.0%"),
    (buy("0.01"), ctx(open_trades=5), LIM, "5 open trades >= max 5"),
    (buy("0.01"), ctx(trades_today=50), LIM, "50 trades today >= max 50"),
    (buy("0.00005"), ctx(), LIM, "below the exchange minimum 0.0001"),
    (buy("0.0001", "50000"), ctx(market=MarketInfo("BTC/USDT", "BTC", "USDT",
                                                    min_cost=Decimal(10))), LIM,
     "order value 5.00 below the exchange minimum notional 10"),
    (buy("0.01"), ctx(free_quote=Decimal(100)), LIM, "needs 500.00 but only 100.00 is free"),
    (buy("0.01"), ctx(), RiskSettings(blacklist=["BTC"]), "BTC/USDT is blacklisted"),
    (buy("0.01"), ctx(), RiskSettings(whitelist=["ETH/USDT"]), "not on the whitelist"),
    (buy("0.01"), ctx(trading_state="reducing"), LIM, "new entries paused"),
    (buy("0.01"), ctx(exchange_paused=True), LIM, "exchange paused"),
])
def test_pre_trade_reasons(intent: Intent, c: RiskContext, lim: RiskSettings,
                           expect: str | None) -> None:
    reason = pre_trade(intent, c, lim)
    if expect is None:
        assert reason is None
    else:
        assert reason is not None and expect in reason


def test_exits_pass_when_entries_are_paused() -> None:
    exit_ = Intent("BTC/USDT", "sell", "exit", Decimal("0.5"), Decimal(50000))
    assert pre_trade(exit_, ctx(trading_state="reducing", open_trades=9), LIM) is None
    assert pre_trade(exit_, ctx(trading_state="halted"), LIM) is not None


def test_sizing() -> None:
    eq = Decimal(10000)
    assert size_position(eq, Decimal(100), LIM) == Decimal("500.00")
    kelly = RiskSettings(sizing="half_kelly", kelly_min_trades=4)
    ratios = [0.10, 0.10, 0.10, -0.05]  # W=.75, R=2 -> f*=.625, half=.3125 -> capped 20%
    assert kelly_fraction(ratios) == pytest.approx(0.625)
    assert size_position(eq, Decimal(100), kelly, closed_pnl_ratios=ratios) == Decimal("2000.00")
    assert size_position(eq, Decimal(100), kelly, closed_pnl_ratios=ratios[:3]) == Decimal("500.00")
    small = [0.02, -0.02, 0.02, -0.02, 0.03]  # W=.6, R=(.07/3)/.02=7/6 -> f*=.2571
    assert size_position(eq, Decimal(100), kelly, closed_pnl_ratios=small) == Decimal("1285.71")
    atr = RiskSettings(sizing="atr", atr_risk_pct=1.0, atr_multiplier=2.0)
    # stop 2*ATR = 10% of price: risking 1% -> 10% of equity
    assert size_position(eq, Decimal(100), atr, atr=5.0) == Decimal("1000.00")


def test_monitor_rules(clock) -> None:
    m = BreakerMonitor(LIM)
    now = clock.now()
    assert m.evaluate(now, Decimal(10000), set()) == []
    trips = m.evaluate(now, Decimal(9400), set())
    assert [t.rule for t in trips] == ["daily_loss"] and trips[0].until == now + timedelta(hours=1)
    m2 = BreakerMonitor(LIM)
    m2.evaluate(now, Decimal(10000), set())
    m2.day_start = Decimal(8000)  # isolate the drawdown rules
    assert [t.rule for t in m2.evaluate(now, Decimal(8900), set())] == ["drawdown_pause"]
    assert [t.rule for t in m2.evaluate(now, Decimal(7900), {"drawdown_pause"})] == [
        "drawdown_stop"]
    for i in range(11):
        m.api_error(now - timedelta(seconds=i))
    assert "api_errors" in [t.rule for t in m.evaluate(now, Decimal(10000), {"daily_loss"})]
    m.price("BTC/USDT", now, 100.0)
    m.price("BTC/USDT", now + timedelta(seconds=30), 111.0)
    spike = m.evaluate(now + timedelta(seconds=30), Decimal(10000), {"daily_loss"})
    assert [(t.rule, t.scope) for t in spike] == [("price_spike", "BTC/USDT")]
    m.price("ETH/USDT", now, 100.0)
    m.price("ETH/USDT", now + timedelta(seconds=90), 115.0)  # outside the 60 s window
    assert m.evaluate(now + timedelta(seconds=90), Decimal(10000), {"daily_loss"}) == []


async def _open_position(eng: Engine, price: str = "60000", amount: str = "0.03") -> None:
    eng.quotes["BTC/USDT"] = Quote(Decimal(price))
    now = eng.clock.now()
    with eng.sessions.begin() as s:
        p = Proposal(bot_id=eng.bots.get("b1").id, symbol="BTC/USDT", side="buy",
                     intent="enter", amount=Decimal(amount), ref_price=Decimal(price),
                     notional=Decimal(amount) * Decimal(price), created_at=now,
                     expires_at=now + timedelta(minutes=5))
        s.add(p)
        s.flush()
        pid = p.id
    assert pid is not None
    await eng.approve(pid, "test")


async def test_daily_loss_trip_blocks_entries_until_resume(engine_factory, clock) -> None:
    eng: Engine = await engine_factory()
    await _open_position(eng, amount="0.03")  # 1800 of BTC
    await eng.risk_monitor()
    eng.quotes["BTC/USDT"] = Quote(Decimal("36000"))  # -40% on 1800 = -720 = -7.2%
    [ev] = await eng.risk_monitor()
    assert (ev.rule, ev.action) == ("daily_loss", "pause_entries")
    assert ev.until == clock.now() + timedelta(minutes=60)
    status = eng.risk_status()
    assert status.trading_state == "reducing" and status.breakers[0].rule == "daily_loss"
    with eng.sessions() as s:
        msg = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "breaker_tripped")).one()
        assert msg.payload["risk_event_id"] == ev.id
    with pytest.raises(ApprovalError, match="paused by a circuit breaker"):
        await _open_position(eng, price="36000", amount="0.01")
    assert await eng.risk_monitor() == []  # no second trip while active
    cleared = await eng.resume("telegram:admin")
    assert [c.rule for c in cleared] == ["daily_loss"]
    assert eng.risk_status().trading_state == "active"
    await _open_position(eng, price="36000", amount="0.01")  # allowed again
    assert await eng.risk_monitor() == []  # baseline restarted at the clear


async def test_drawdown_stop_closes_all_and_stops_bots(engine_factory) -> None:
    eng: Engine = await engine_factory(risk={"max_position_pct": 100,
                                             "max_asset_exposure_pct": 100})
    await _open_position(eng, amount="0.1")  # 6000 of BTC
    await eng.risk_monitor()
    eng.quotes["BTC/USDT"] = Quote(Decimal("30000"))  # -3000 = -30% drawdown
    rules = {e.rule for e in await eng.risk_monitor()}
    assert "drawdown_stop" in rules
    assert eng.open_trades() == []
    with eng.sessions() as s:
        assert {b.state for b in s.exec(select(Bot)).all()} == {BotState.STOPPED}
        ev = s.exec(select(RiskEvent).where(RiskEvent.rule == "drawdown_stop")).one()
        assert ev.until is None and ev.action == "stop_bot"
    assert eng.risk_status().trading_state == "halted"
