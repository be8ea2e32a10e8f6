"""Backtester: Freqtrade-compatible strategies, a numba event loop, metrics, reports.

Public API (imported lazily so `sentitrade --help` stays fast)::

    from engine.backtest import run_backtest, BacktestResult
    result = run_backtest(candles, "ema_rsi_cross", stake=1000, fee=0.001,
                          stoploss=-0.10, max_open_trades=-1, wallet=100_000)
    result.trades.rows()      # reference CSV columns
    result.metrics            # see engine.backtest.metrics
    result.timings            # seconds per phase

    from engine.backtest.report import write_report, render_report_png
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.backtest.runner import BacktestResult, Trades, run_backtest

__all__ = ["BacktestResult", "Trades", "run_backtest"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from engine.backtest import runner

        return getattr(runner, name)
    raise AttributeError(name)
