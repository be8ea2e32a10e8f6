"""Live = backtest, order by order, for strategies that trade with orders: a replay
through the live engine (paper broker, `auto` approvals, the backtester's fee and
stake) makes exactly the order-level backtest's trades AND orders (time, rate, amount,
tag, exit reason) for the two Freqtrade-checked built-ins:

- ``ema_rsi_trail``: limit entries at 0.998 x the next open through
  `custom_entry_price`, cancelled by `unfilledtimeout` after 10 minutes, limit exits,
  a ROI table and a trailing stop (only once the offset is reached);
- ``ema_rsi_dca``: market orders and `adjust_trade_position` (safety orders and one
  partial exit per trade), stops and ROI relative to the averaged open rate.

The rules that differ by nature are named in `tests/engine/parity.py`. CI runs two
pairs; PARITY_ALL_PAIRS=1 runs all ten.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.backtest.runner import run_backtest
from engine.data.candles import load_candles
from tests.engine.parity import (
    assert_same_orders,
    assert_same_trades,
    backtest_orders,
    backtest_rows,
    live_orders,
    parity_settings,
    replay_live,
    set_aside_exit_before_fill,
)
from tests.engine.test_live_parity import PAIRS_QUICK, TESTDATA, needs_data


def _last_open(candles: dict) -> dict[str, int]:
    return {p: int(c.open_time[-1]) for p, c in candles.items()}


async def _both(tmp_path: Path, strategy: str, pairs: list[str]) -> tuple:
    candles = load_candles(TESTDATA, pairs, "5m")
    bt = run_backtest(candles, strategy, stake=0.05, fee=0.001, wallet=1_000_000.0,
                      max_open_trades=-1, compute_metrics=False)
    settings = parity_settings(f"sqlite:///{tmp_path / 'live.db'}", TESTDATA, pairs,
                               strategy, "BTC", "0.05")
    eng = await replay_live(settings, pairs)
    rows, lines = live_orders(eng)
    flow = eng.strategies.flow
    eng.sessions.engine.dispose()
    return candles, bt, rows, lines, flow


@needs_data
@pytest.mark.slow
async def test_ema_rsi_trail_limit_orders_and_timeouts(tmp_path: Path) -> None:
    candles, bt, rows, lines, flow = await _both(tmp_path, "ema_rsi_trail", PAIRS_QUICK)
    assert len(bt.trades) > 50 * len(PAIRS_QUICK)
    reasons = {str(r) for r in bt.trades.exit_reason}
    assert {"roi", "ema_cross_down"} <= reasons
    assert flow.timed_out["entry"] > 10  # limit entries do time out, live too
    rows, lines, b_rows, b_lines, aside = set_aside_exit_before_fill(
        rows, lines, backtest_rows(bt), backtest_orders(bt))
    assert aside <= len(bt.trades) // 100  # a rare rule, named in parity.py
    assert_same_trades(rows, b_rows, _last_open(candles))
    assert_same_orders(lines, b_lines, _last_open(candles))


@needs_data
@pytest.mark.slow
async def test_ema_rsi_dca_position_adjustment(tmp_path: Path) -> None:
    candles, bt, rows, lines, _ = await _both(tmp_path, "ema_rsi_dca", PAIRS_QUICK)
    tags = [x.tag for x in backtest_orders(bt)]
    assert "safety" in tags and "take_half" in tags  # both kinds of adjustment happen
    assert_same_trades(rows, backtest_rows(bt), _last_open(candles))
    assert_same_orders(lines, backtest_orders(bt), _last_open(candles))
