"""Futures mode through the Engine's candle path (paper futures broker): a strategy's
short signal becomes a sell proposal with the leverage its callback chose, the fill
opens a short, funding is charged at 16:00, the exit signal buys it back; above
max_leverage the proposal is refused with the reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from engine.data.candles import Bar
from engine.service.engine import Engine
from engine.storage.models import OutboxMessage, Signal, Trade

STRATEGY = '''
from typing import Any
import numpy as np
from engine.strategy.interface import Frame, Strategy


class FlipShort(Strategy):
    name = "flip_short"
    timeframe = "5m"
    stoploss = -0.5
    can_short = True
    lev = LEV

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        c = np.asarray(frame["close"])
        frame["enter_short"] = c < 100.0
        frame["exit_short"] = c > 105.0
        return frame

    def leverage(self, pair, current_time, current_rate, proposed_leverage, max_leverage,
                 entry_tag, side, **kwargs) -> float:
        return self.lev
'''


async def _run(engine_factory, clock, tmp: Path, lev: float) -> Engine:
    (tmp / "flip_short.py").write_text(STRATEGY.replace("LEV", repr(lev)))
    eng: Engine = await engine_factory(
        exchange={"trading_mode": "futures", "funding_rate": 0.0001, "taker_fee": "0.0005"},
        engine={"strategy_path": str(tmp)},
        risk={"max_position_pct": 50.0},
        bots=[{"name": "b1", "symbols": ["BTC/USDT:USDT"], "strategy": "flip_short",
               "approval_mode": "auto"}])
    start = clock.now().replace(hour=15, minute=40)  # the 16:00 funding time inside
    closes = [101.0, 99.0, 98.0, 97.0, 96.0, 106.0, 106.0]
    for i, c in enumerate(closes):
        ts = start + timedelta(minutes=5 * (i + 1))
        clock.set(ts)
        nxt = closes[i + 1] if i + 1 < len(closes) else c
        await eng.on_bar(Bar("BTC/USDT:USDT", "5m", ts, c, c, c, c, 1.0, next_open=nxt))
    return eng


async def test_short_signal_opens_pays_funding_and_exits(engine_factory, clock,
                                                         tmp_path: Path) -> None:
    eng = await _run(engine_factory, clock, tmp_path, 2.0)
    with eng.sessions() as s:
        (t,) = s.exec(select(Trade)).all()
        kinds = [m.kind for m in s.exec(select(OutboxMessage)).all()]
    assert (t.side, t.trading_mode, t.leverage, t.margin_mode) == ("short", "futures", 2,
                                                                   "isolated")
    assert not t.is_open and t.close_price is not None and t.close_price > t.open_price
    assert t.funding_fees is not None and t.funding_fees > 0  # a short receives at 16:00
    assert "funding" in kinds
    assert t.liquidation_price is not None and t.liquidation_price > t.open_price


async def test_leverage_above_max_is_refused_with_the_reason(engine_factory, clock,
                                                             tmp_path: Path) -> None:
    eng = await _run(engine_factory, clock, tmp_path, 5.0)
    with eng.sessions() as s:
        assert s.exec(select(Trade)).all() == []
        blocked = [sg.inputs.get("blocked") for sg in s.exec(select(Signal)).all()]
    assert "leverage 5x > max_leverage 3x" in blocked
