"""Where a live rule cannot match the backtest by nature, each case is named here (the
live = backtest tests set exactly these aside; see tests/engine/parity.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from engine.backtest._paths import shared_data
from engine.backtest.runner import run_backtest
from engine.data.candles import load_candles
from engine.storage.models import Proposal, ProposalState, Trade
from engine.strategy import get_strategy
from tests.engine.parity import parity_settings, replay_live

TESTDATA = shared_data() / "ohlcv" / "freqtrade_testdata"
PAIRS = ["ETH/BTC"]
needs_data = pytest.mark.skipif(not TESTDATA.is_dir(), reason="shared data not found")


FLIP_FLOP = """
from engine.indicators import ema
from engine.strategy import Strategy, crossed_above, crossed_below


class FlipFlop(Strategy):
    can_short = True
    stoploss = -0.5

    def populate_indicators(self, frame, metadata):
        frame["f"], frame["s"] = ema(frame["close"], 6), ema(frame["close"], 18)
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame["enter_short"] = crossed_below(frame["f"], frame["s"])
        return frame

    def populate_exit_trend(self, frame, metadata):
        frame["exit_short"] = crossed_above(frame["f"], frame["s"])
        return frame
"""


def _week() -> tuple[int, int]:
    c = load_candles(TESTDATA, PAIRS, "5m")["ETH/BTC"]
    start = int(c.open_time[0])
    return start, start + 7 * 86_400_000


@needs_data
async def test_manual_approvals_that_nobody_decides_expire(tmp_path: Path) -> None:
    """Approval expiry: the backtester has no one to ask; live, a proposal that nobody
    approves expires and the trade never happens."""
    s, e = _week()
    settings = parity_settings(f"sqlite:///{tmp_path / 'm.db'}", TESTDATA, PAIRS,
                               "ema_rsi_cross", "BTC", "0.05")
    settings = settings.model_copy(update={"approvals": settings.approvals.model_copy(
        update={"mode": "manual", "expiry_seconds": 60})})
    eng = await replay_live(settings, PAIRS, start_ms=s, end_ms=e)
    candles = {p: c.between(s, e) for p, c in load_candles(TESTDATA, PAIRS, "5m").items()}
    bt = run_backtest(candles, "ema_rsi_cross", stake=0.05, wallet=1e6, compute_metrics=False)
    with eng.sessions() as db:
        states = {p.state for p in db.exec(select(Proposal)).all()}
        trades = db.exec(select(Trade)).all()
    eng.sessions.engine.dispose()
    assert len(bt.trades) > 5
    assert trades == [] and states == {ProposalState.EXPIRED}


@needs_data
async def test_short_signals_are_backtested_but_not_traded_on_spot(tmp_path: Path) -> None:
    """Spot only: a strategy's shorts appear in its backtest; the live engine records
    nothing for them (shorts and leverage come with the orders issue)."""
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "flip_flop.py").write_text(FLIP_FLOP)
    flip = get_strategy("FlipFlop", folder)
    s, e = _week()
    candles = {p: c.between(s, e) for p, c in load_candles(TESTDATA, PAIRS, "5m").items()}
    bt = run_backtest(candles, flip, stake=0.05, wallet=1e6, compute_metrics=False)
    assert bt.trades.is_short.sum() > 5
    settings = parity_settings(f"sqlite:///{tmp_path / 's.db'}", TESTDATA, PAIRS,
                               "FlipFlop", "BTC", "0.05")
    settings = settings.model_copy(update={"engine": settings.engine.model_copy(
        update={"strategy_path": folder})})
    eng = await replay_live(settings, PAIRS, start_ms=s, end_ms=e)
    with eng.sessions() as db:
        assert db.exec(select(Trade).where(col(Trade.side) == "short")).all() == []
        assert db.exec(select(Trade)).all() == []
    eng.sessions.engine.dispose()
