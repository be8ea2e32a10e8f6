"""`custom_stoploss` (Freqtrade's semantics) in the order-level backtest and the live
engine, which share `engine.strategy.exits.trade_exit`:

- a break-even stop through `stoploss_from_open` exits where the rule says, at the
  stop price (asked at the candle's high, checked against the same candle's low:
  Freqtrade's backtest rule);
- the helpers give Freqtrade's documented values;
- the stop only moves up for a long, except on the calls made right after a fill
  (``after_fill``), where the strategy may widen it;
- a replay through the live engine makes the backtest's trades and orders.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from engine.backtest.runner import run_backtest
from engine.data.candles import load_candles
from engine.strategy import registry, stoploss_from_absolute, stoploss_from_open
from engine.strategy.builtins import EmaRsiCross
from engine.strategy.exits import trade_exit
from engine.strategy.interface import Frame, Strategy
from engine.strategy.trade import Order, Trade
from tests.backtest.helpers import STEP, T0, Scripted, candles
from tests.engine.parity import (
    assert_same_orders,
    assert_same_trades,
    backtest_orders,
    backtest_rows,
    live_orders,
    parity_settings,
    replay_live,
)
from tests.engine.test_live_parity import TESTDATA, needs_data

# ---------------------------------------------------------------- (a) break-even


class BreakEven(Scripted):
    """Fixed stop 10 % below; once the profit reached 2 %, the stop sits at the open
    rate (break-even) through `stoploss_from_open`."""

    name = "break_even_test"
    use_custom_stoploss = True
    use_exit_signal = False
    calls: list[tuple[float, float, bool]]

    def custom_stoploss(self, pair: str, trade: Any, current_time: Any, current_rate: float,
                        current_profit: float, after_fill: bool, **kwargs: Any
                        ) -> float | None:
        self.calls.append((current_rate, current_profit, after_fill))
        if current_profit >= 0.02:
            return stoploss_from_open(0.0, current_profit, is_short=trade.is_short)
        return None


_SERIES = ([100.0, 100.0, 100.5, 101.0, 102.5, 101.0, 100.0],  # open
           [100.5, 100.8, 101.0, 103.0, 102.75, 101.5, 100.5],  # high
           [99.5, 99.75, 100.25, 100.75, 100.5, 99.0, 99.5],  # low
           [100.0, 100.5, 101.0, 102.5, 101.0, 100.25, 100.0])  # close


def test_break_even_exit_at_the_expected_candle_and_rate() -> None:
    # candle: 0 signal, 1 entry at 100, 2 high +1 %, 3 high +3 % (stop -> 100),
    # 4 low 100.50 stays above, 5 low 99 crosses the stop: exit at 100 on candle 5
    o, h, lo, c = _SERIES
    strat = BreakEven({"X/USDT": {"enter_long": [0]}})
    strat.calls = []
    assert strat.uses_orders()  # the order path: the numba kernel cannot call Python
    bt = run_backtest({"X/USDT": candles("X/USDT", o, h, lo, c)}, strat, stake=100.0,
                      fee=0.0, compute_metrics=False)
    assert len(bt.trades) == 1
    t = bt.trades
    assert int(t.open_ms[0]) == T0 + STEP and float(t.open_rate[0]) == 100.0
    assert int(t.close_ms[0]) == T0 + 5 * STEP
    assert float(t.close_rate[0]) == pytest.approx(100.0, abs=1e-9)
    assert str(t.exit_reason[0]) == "trailing_stop_loss"  # Freqtrade's name for a moved stop
    # first right after the entry filled (at its rate), then on each candle with the
    # candle's high and the profit there (fee 0: high / 100 - 1); not on the exit
    # candle, whose low is already under the stop (Freqtrade's ``dir_correct``)
    assert [(r, round(p, 8), f) for r, p, f in strat.calls] == [
        (100.0, 0.0, True), (100.8, 0.008, False), (101.0, 0.01, False),
        (103.0, 0.03, False), (102.75, 0.0275, False)]


def test_without_the_move_the_fixed_stop_holds() -> None:
    """The same candles, the hook answering None: no stop exit (the fixed stop is at
    90); the trade is still open at the end of the data."""
    strat = BreakEven({"X/USDT": {"enter_long": [0]}})
    strat.calls = []
    strat.custom_stoploss = lambda *a, **k: None  # type: ignore[method-assign]
    bt = run_backtest({"X/USDT": candles("X/USDT", *_SERIES)}, strat, stake=100.0, fee=0.0,
                      compute_metrics=False)
    assert len(bt.trades) == 1
    assert str(bt.trades.exit_reason[0]) not in ("stop_loss", "trailing_stop_loss")
    assert int(bt.trades.close_ms[0]) == T0 + 6 * STEP


# ---------------------------------------------------------------- (b) the helpers


def test_helpers_match_freqtrade_documented_examples() -> None:
    """https://www.freqtrade.io/en/stable/strategy-callbacks/#stoploss-relative-to-open-price
    : open 100, current 121 (profit 0.21); a stop 7 % above the open is
    ``stoploss_from_open(0.07, 0.21)`` = 0.1157024793, i.e. 11.57 % below 121 = 107;
    at 10x leverage the same call puts it 0.7 % above the open.
    https://www.freqtrade.io/en/stable/strategy-callbacks/#stoploss-calculation-absolute-price
    : ``stoploss_from_absolute`` of that stop price 107 at 121 gives the same ratio."""
    r = stoploss_from_open(0.07, 0.21)
    assert r == pytest.approx(0.1157024793, abs=1e-10)
    assert 121 * (1 - r) == pytest.approx(107.0)
    assert stoploss_from_absolute(107.0, 121.0) == pytest.approx(r)
    r10 = stoploss_from_open(0.07, 2.1, leverage=10.0)  # price 121 at 10x: profit 210 %
    assert 121 * (1 - r10 / 10.0) == pytest.approx(100.7)
    # a wanted stop above the current price: 0 (the stop fires at once), never negative
    assert stoploss_from_open(0.10, 0.05) == 0.0
    assert stoploss_from_absolute(125.0, 121.0) == 0.0
    # a position that is gone: 1
    assert stoploss_from_open(0.0, -1.0) == 1.0
    assert stoploss_from_absolute(1.0, 0.0) == 1.0
    # shorts mirror: open 100, current 90 (profit 0.10); stop at the open = 11.1 % above
    s = stoploss_from_open(0.0, 0.10, is_short=True)
    assert 90 * (1 + s) == pytest.approx(100.0)
    assert stoploss_from_absolute(100.0, 90.0, is_short=True) == pytest.approx(s)


# ---------------------------------------------------------------- (d) only up


def _trade() -> Trade:
    tr = Trade(pair="X/USDT", open_ms=T0, fee=0.0, enter_tag="", tick=2, open_rate=100.0)
    tr.adjust_stop_loss(100.0, 0.10, initial=True)
    _fill(tr, 1.0, 100.0, T0)
    return tr


def _fill(tr: Trade, amount: float, rate: float, ms: int) -> None:
    order = Order("buy", True, "", amount, rate, ms, "market", 0.0)
    tr.orders.append(order)
    tr.fill(order, ms)


class Answers(Strategy):
    """Answers a script of ratios, one per call (no ``after_fill`` parameter: Freqtrade
    makes no after-fill calls to such a strategy)."""

    name = "answers_test"
    stoploss = -0.10
    use_custom_stoploss = True

    def __init__(self, answers: list[float | None]) -> None:
        self.answers = list(answers)

    def custom_stoploss(  # type: ignore[override]
            self, pair: str, trade: Any, current_time: Any, current_rate: float,
            current_profit: float, **kwargs: Any) -> float | None:
        assert not kwargs["after_fill"]
        return self.answers.pop(0)


class AfterFill(Strategy):
    """Widens the stop to 30 % below the fill on each after-fill call, 1 % below the
    candle's high otherwise."""

    name = "after_fill_test"
    stoploss = -0.10
    use_custom_stoploss = True

    def __init__(self) -> None:
        self.fills: list[float] = []

    def custom_stoploss(self, pair: str, trade: Any, current_time: Any, current_rate: float,
                        current_profit: float, after_fill: bool, **kwargs: Any
                        ) -> float | None:
        if after_fill:
            self.fills.append(current_rate)
            return -0.30
        return -0.01


def _candle(tr: Trade, s: Strategy, i: int, o: float, h: float, lw: float, c: float
            ) -> tuple[str, float] | None:
    return trade_exit(s, tr, T0 + i * STEP, o, h, lw, c, 0.0, 5)


def test_stop_only_moves_up_for_a_long() -> None:
    tr, s = _trade(), Answers([-0.01, -0.20, -0.05, None, math.nan, 0.0, -0.01])
    seen = [tr.stop_loss]
    for i in range(1, 8):  # highs 104 .. 110, lows 1 below: above every stop
        h = 103.0 + i
        assert _candle(tr, s, i, h - 0.5, h, h - 1.0, h - 0.5) is None
        seen.append(tr.stop_loss)
    assert seen[0] == 90.0
    assert seen[1] == pytest.approx(104.0 * 0.99)  # 1 % below the high
    assert seen[2:7] == [seen[1]] * 5  # wider answers, None, NaN and 0 keep the stop
    assert seen[7] == pytest.approx(110.0 * 0.99)  # a higher one moves it
    assert tr.is_stop_loss_trailing


def test_after_fill_may_widen_the_stop() -> None:
    tr, s = _trade(), AfterFill()
    assert _candle(tr, s, 1, 101.5, 102.0, 101.0, 101.5) is None
    # first the after-fill call at the fill's rate: 30 % below 100 (down from 90), then
    # the candle's call: 1 % below 102 (up again)
    assert s.fills == [100.0]
    assert tr.stop_loss == pytest.approx(102.0 * 0.99, abs=0.01)
    # a second entry fills at 101.5: the stop is set anew from the fill (30 % below,
    # down), then the candle moves it up to 1 % below its high 102.5
    _fill(tr, 1.0, 101.5, T0 + 2 * STEP)
    assert _candle(tr, s, 3, 102.0, 102.5, 101.6, 102.0) is None
    assert s.fills == [100.0, 101.5]
    assert tr.stop_loss == pytest.approx(102.5 * 0.99, abs=0.01)
    # no new fill: no after-fill call, and the stop does not come down
    before = tr.stop_loss
    assert _candle(tr, s, 4, 102.0, 102.2, 102.0, 102.1) is None
    assert s.fills == [100.0, 101.5] and tr.stop_loss == before
    # a fill under the stop (Freqtrade's ``dir_correct``): no after-fill call; the
    # stop, above the next candle's high, fires at its open
    _fill(tr, 1.0, 95.0, T0 + 5 * STEP)
    assert _candle(tr, s, 6, 96.0, 96.5, 95.6, 96.0) == ("trailing_stop_loss", 96.0)
    assert s.fills == [100.0, 101.5]


def test_after_fill_widening_is_seen_before_the_candle() -> None:
    """Only the after-fill call: a widened stop (70) lets a candle dipping to 80 pass,
    where the fixed 90 stop would have fired."""
    tr = _trade()

    class Wide(AfterFill):
        def custom_stoploss(self, pair: str, trade: Any, current_time: Any,
                            current_rate: float, current_profit: float, after_fill: bool,
                            **kwargs: Any) -> float | None:
            return -0.30 if after_fill else None

    assert _candle(tr, Wide(), 1, 100.0, 100.0, 80.0, 85.0) is None
    assert tr.stop_loss == 70.0


# ---------------------------------------------------------------- (c) live = backtest


class EmaRsiBreakEven(EmaRsiCross):
    """ema_rsi_cross with a custom stop: 3 % below the open after each fill, then 0.5 %
    above the open once the profit passed 1 %."""

    name = "ema_rsi_break_even_test"
    use_custom_stoploss = True

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        frame = super().populate_entry_trend(frame, metadata)
        frame["enter_tag"] = "ema_cross_up"  # as the order-level built-ins tag entries
        return frame

    def custom_stoploss(self, pair: str, trade: Any, current_time: Any, current_rate: float,
                        current_profit: float, after_fill: bool, **kwargs: Any
                        ) -> float | None:
        if after_fill:
            return stoploss_from_open(-0.03, current_profit)
        if current_profit > 0.01:
            return stoploss_from_open(0.005, current_profit)
        return None


@needs_data
@pytest.mark.slow
async def test_live_replay_equals_backtest(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = ["ETH/BTC", "LTC/BTC"]
    base = load_candles(TESTDATA, pairs, "5m")
    s_ms = int(base["ETH/BTC"].open_time[0])
    e_ms = s_ms + 20 * 86_400_000
    cs = {p: c.between(s_ms, e_ms) for p, c in base.items()}
    name = EmaRsiBreakEven.name
    # registered for this test only: a registration at import would list it in every
    # later test of the same worker (list-strategies)
    monkeypatch.setitem(registry._EXTRA, name, EmaRsiBreakEven)
    bt = run_backtest(cs, name, stake=0.05, fee=0.001, wallet=1_000_000.0,
                      max_open_trades=-1, compute_metrics=False)
    reasons = [str(r) for r in bt.trades.exit_reason]
    assert "trailing_stop_loss" in reasons  # the break-even stop did fire
    assert "stop_loss" in reasons  # and the after-fill -3 % stop
    settings = parity_settings(f"sqlite:///{tmp_path / 'live.db'}", TESTDATA, pairs, name,
                               "BTC", "0.05")
    eng = await replay_live(settings, pairs, start_ms=s_ms, end_ms=e_ms)
    rows, lines = live_orders(eng)
    eng.sessions.engine.dispose()
    last = {p: int(c.open_time[-1]) for p, c in cs.items()}
    assert_same_trades(rows, backtest_rows(bt), last)
    assert_same_orders(lines, backtest_orders(bt), last)


# ---------------------------------------------------------------- a restart keeps it

STOP_PROBE = '''
from engine.strategy import Strategy


class StopProbe(Strategy):
    stoploss = -0.5
    use_custom_stoploss = True

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = frame["close"] == 101.0
        return frame

    def custom_stoploss(self, pair, trade, current_time, current_rate, current_profit,
                        after_fill, **kwargs):
        if after_fill:
            return -0.30
        return -0.02 if current_profit > 0.005 else None
'''

# signal on the close 101, entry at 100; the after-fill stop is 70, the candle's high
# 100.6 moves it to 98.588; the next candle dips to 99 (above), the last to 98 (through)
STOP_ROWS = [(100, 101, 100, 101), (100, 100.6, 99.8, 100.2), (100, 100, 99, 99.5),
             (99, 99, 98, 98.5), (98.5, 98.5, 98.5, 98.5)]


async def test_a_restart_keeps_the_moved_stop(tmp_path: Path, clock: Any) -> None:
    """After a restart the trade is rebuilt from the database with its stored stop;
    the fills it had are not told to `custom_stoploss` again (an after-fill answer may
    lower the stop: here it would set it back to 70 and miss the exit)."""
    from engine.clock import ManualClock
    from engine.storage.migrate import upgrade
    from tests.engine import test_live_orders as lo

    got = []
    for cut in (None, 3):
        url = f"sqlite:///{tmp_path / f'r{cut}.db'}"
        upgrade(url)
        c = ManualClock(clock.now())
        old = lo.PROBE
        lo.PROBE = STOP_PROBE
        try:
            eng = await lo._engine(tmp_path, url, c, "StopProbe")
            if cut is not None:
                await lo._feed(eng, c, STOP_ROWS[:cut], then=STOP_ROWS[cut][0])
                await eng.close()
                eng.sessions.engine.dispose()
                eng = await lo._engine(tmp_path, url, c, "StopProbe")
                await lo._feed(eng, c, STOP_ROWS[cut:])
            else:
                await lo._feed(eng, c, STOP_ROWS)
        finally:
            lo.PROBE = old
        [t] = lo._trades(eng)
        got.append((t.exit_reason, t.close_price, t.open_price))
        await eng.close()
        eng.sessions.engine.dispose()
    assert got[0][0] == "trailing_stop_loss"
    assert float(got[0][1] or 0) == pytest.approx(100.6 * 0.98)
    assert got[0] == got[1]
