"""Shorts with leverage on the paper futures broker, through the execution engine:
open, funding, close; liquidation; the liquidation-distance alert; max_leverage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlmodel import select

from engine.clock import ManualClock
from engine.execution.engine import ExecutionEngine
from engine.execution.paper import Quote
from engine.execution.paper_futures import PaperFuturesBroker
from engine.margin.funding import FundingRates
from engine.risk.checks import Intent, RiskContext, pre_trade
from engine.storage.config import RiskSettings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from engine.storage.models import Balance, Order, OrderState, OutboxMessage, Trade

T0 = datetime(2025, 10, 1, 6, 0, tzinfo=UTC)
SYM = "BTC/USDT:USDT"


class Rig:
    def __init__(self, tmp: Path) -> None:
        url = f"sqlite:///{tmp / 'f.db'}"
        upgrade(url)
        self.sessions = SessionFactory(make_engine(url))
        self.clock = ManualClock(T0)
        self.quotes: dict[str, Quote] = {}
        self.broker = PaperFuturesBroker(self.sessions, self.quotes.get, self.clock,
                                         taker_fee=D("0.0005"), slippage_bps=0,
                                         funding=FundingRates(0.0001))
        self.broker.fund("USDT", D(10_000))
        self.ex = ExecutionEngine(self.sessions, self.broker, self.clock)
        self.n = 0

    def price(self, p: str) -> None:
        self.quotes[SYM] = Quote(D(p))

    async def order(self, side: str, amount: str, trade_id: int | None = None) -> Order:
        self.n += 1
        now = self.clock.now()
        with self.sessions.begin() as s:
            o = Order(client_order_id=f"t-{self.n}", symbol=SYM, side=side, type="market",
                      amount=D(amount), trade_id=trade_id, state=OrderState.PENDING_CREATE,
                      created_at=now, updated_at=now)
            s.add(o)
            s.flush()
            oid = o.id
        assert oid is not None
        return await self.ex.submit(oid)

    def wallet(self) -> tuple[D, D]:
        with self.sessions() as s:
            b = s.exec(select(Balance).where(Balance.account == "paper-futures")).one()
            return b.free, b.locked

    def trade(self) -> Trade:
        with self.sessions() as s:
            return s.exec(select(Trade)).one()

    def alerts(self, kind: str) -> list[OutboxMessage]:
        with self.sessions() as s:
            return list(s.exec(select(OutboxMessage).where(OutboxMessage.kind == kind)).all())


async def test_short_with_leverage_opens_pays_funding_and_closes(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    r.broker.set_leverage(SYM, D(3))
    r.broker.set_margin_mode(SYM, "isolated")
    r.price("100")
    o = await r.order("sell", "30")  # no position: a sell opens a short
    assert o.state == OrderState.FILLED
    t = r.trade()
    assert (t.side, t.trading_mode, t.margin_mode, t.leverage) == ("short", "futures",
                                                                   "isolated", D(3))
    assert t.amount == D(30) and t.stake == D(1000) and t.fees == D("1.5")
    # Binance isolated: (WB + cum + size*EP) / (size*MMR + size)
    assert t.liquidation_price == (D(4000) / D("30.12")).quantize(D("0.00000001"))
    assert r.wallet() == (D("8998.5"), D(1000))

    r.clock.set(T0 + timedelta(hours=2, minutes=1))  # 08:00 has passed
    assert len(r.broker.settle_funding(r.clock.now())) == 1
    assert r.broker.settle_funding(r.clock.now()) == []  # the ledger: charged once
    t = r.trade()
    assert t.funding_fees == D("0.3")  # a short RECEIVES a positive rate: 30*100*0.0001
    assert r.wallet() == (D("8998.5"), D("1000.3"))
    assert len(r.alerts("funding")) == 1

    r.price("90")
    o = await r.order("buy", "30", trade_id=t.id)
    assert o.state == OrderState.FILLED
    t = r.trade()
    assert not t.is_open and t.close_price == D(90)
    # price +300, funding +0.3, fees 1.5 + 1.35
    assert t.realized_pnl == D("297.45")
    assert t.pnl_ratio == pytest.approx(297.45 / 1000)
    assert r.wallet() == (D("10297.45"), D(0))


async def test_long_pays_funding(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    r.broker.set_leverage(SYM, D(2))
    r.price("100")
    await r.order("buy", "10")
    r.clock.set(T0 + timedelta(hours=17))  # 08:00 and 16:00
    assert len(r.broker.settle_funding(r.clock.now())) == 2
    assert r.trade().funding_fees == D("-0.2")


async def test_short_is_liquidated_at_its_price(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    r.broker.set_leverage(SYM, D(10))
    r.price("100")
    await r.order("sell", "100")  # 10,000 notional, 1,000 margin
    lp = r.trade().liquidation_price
    assert lp is not None and D(109) < lp < D(110)
    notes = r.broker.watch(SYM, D(105), low=D(101), high=D(111))
    assert notes and "liquidated" in notes[0]
    t = r.trade()
    assert not t.is_open and t.exit_reason == "liquidation" and t.close_price == lp
    free, locked = r.wallet()
    assert locked == 0
    # what is left of the margin: 1,000 - 100*(LP-100) - fees (taker on both sides)
    left = D(1000) - D(100) * (lp - 100) - D(5) - (D(100) * lp * D("0.0005")).quantize(
        D("0.00000001"))
    assert free == D(9000) + left
    assert len(r.alerts("liquidation")) == 1


async def test_liquidation_distance_alert(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    r.broker.set_leverage(SYM, D(3))
    r.price("100")
    await r.order("buy", "30")
    lp = r.trade().liquidation_price  # long 3x: (1000 - 3000) / (30*0.004 - 30)
    assert lp is not None and D(66) < lp < D(67)
    assert r.broker.watch(SYM, D(80)) == []  # 16 % away: quiet
    notes = r.broker.watch(SYM, D(70))  # ~4.4 % away, threshold 5 %
    assert len(notes) == 1 and "from liquidation" in notes[0]
    assert r.broker.watch(SYM, D(69)) == []  # one alert per position and LP
    (msg,) = r.alerts("liquidation_near")
    assert msg.payload["trade_id"] == r.trade().id
    assert r.trade().is_open


async def test_refusals(tmp_path: Path) -> None:
    from engine.errors import OrderRejected

    r = Rig(tmp_path)
    with pytest.raises(OrderRejected):
        r.broker.set_leverage(SYM, D(200))
    with pytest.raises(OrderRejected):
        r.broker.set_margin_mode(SYM, "cross")
    r.price("100")
    await r.order("sell", "1")
    o = await r.order("buy", "2", trade_id=r.trade().id)  # would flip the position
    assert o.state == OrderState.FAILED and "close it first" in (o.error or "")
    o = await r.order("sell", "1000")  # 100,000 notional at 1x: no funds
    assert o.state == OrderState.FAILED and "margin" in (o.error or "")


def test_max_leverage_refuses_with_the_reason() -> None:
    ctx = RiskContext(equity=D(10_000), free_quote=D(10_000), exposure={}, open_trades=0,
                      trades_today=0, market=None)
    lim = RiskSettings(max_position_pct=100, max_asset_exposure_pct=1000,
                       max_total_exposure_pct=1000)
    short5 = Intent(SYM, "sell", "enter", D(10), D(100), leverage=D(5), futures=True)
    assert pre_trade(short5, ctx, lim) == "leverage 5x > max_leverage 3x"
    short3 = Intent(SYM, "sell", "enter", D(10), D(100), leverage=D(3), futures=True)
    assert pre_trade(short3, ctx, lim) is None
    assert pre_trade(short5, ctx, RiskSettings(max_leverage=5, max_position_pct=100)) is None
    # margin, not notional, must be free on futures
    poor = RiskContext(equity=D(10_000), free_quote=D(300), exposure={}, open_trades=0,
                       trades_today=0, market=None)
    assert "margin" in (pre_trade(short3, poor, lim) or "")
    # closing a short buys, but frees margin: no funds needed
    close = Intent(SYM, "buy", "exit", D(10), D(100), futures=True)
    assert pre_trade(close, poor, lim) is None
