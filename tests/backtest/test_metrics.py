"""Metric definitions on small hand-checked trade lists."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.backtest import metrics as M
from engine.backtest import run_backtest
from tests.backtest.helpers import Scripted, candles


def test_drawdown_on_cumulative_profit() -> None:
    pa = np.array([10.0, -5.0, -10.0, 20.0, -3.0])
    close = np.arange(5, dtype=np.int64) * 1000
    dd = M.drawdown(pa, close, wallet=100.0)
    assert dd["abs"] == pytest.approx(15.0)
    assert dd["account"] == pytest.approx(15.0 / 110.0)
    assert (dd["high_ms"], dd["low_ms"]) == (0, 2000)


def test_expectancy_and_ratio() -> None:
    pa = np.array([3.0, -1.0, -1.0, 2.0])
    exp, ratio = M.expectancy(pa)
    assert exp == pytest.approx(0.5 * 2.5 - 0.5 * 1.0)
    assert ratio == pytest.approx((1 + 2.5) * 0.5 - 1)


def test_sharpe_sortino_sqn_definitions() -> None:
    r = np.array([0.01, -0.02, 0.03, -0.01])
    assert M.sharpe_trades(r, 10) == pytest.approx(r.sum() / 10 / np.std(r) * math.sqrt(365))
    neg = r[r < 0]
    assert M.sortino_trades(r, 10) == pytest.approx(r.sum() / 10 / np.std(neg) * math.sqrt(365))
    assert M.sqn(r) == round(2 * r.mean() / np.std(r, ddof=1), 4)
    assert M.sharpe_trades(np.array([0.01, 0.01]), 5) == -100.0


def test_cagr_and_streaks() -> None:
    assert M.cagr(100, 121, 730) == pytest.approx(0.1)
    assert M.cagr(100, -1, 365) == 0.0
    assert M.streaks(np.array([1.0, 2, -1, -1, -1, 3, 0, -1])) == (2, 3)


def test_metrics_of_a_run_are_consistent() -> None:
    c = {"A/B": candles("A/B", [10, 10, 11, 11, 9, 9, 10, 10] * 40)}
    s = Scripted(
        {"A/B": {"enter_long": list(range(0, 320, 8)), "exit_long": list(range(2, 320, 8))}}
    )
    r = run_backtest(c, s, stake=100.0, fee=0.001, wallet=1000.0)
    m = r.metrics
    assert m["total_trades"] == len(r.trades) == m["wins"] + m["losses"] + m["draws"]
    assert m["profit_total_abs"] == pytest.approx(r.trades.profit_abs.sum())
    assert m["final_balance"] == pytest.approx(1000 + m["profit_total_abs"])
    assert 0 <= m["max_drawdown_account"] <= 1
    assert m["trade_count_long"] == m["total_trades"]
    assert set(m["exit_reasons"]) <= {"exit_signal", "force_exit", "stop_loss"}
    for key in (
        "sharpe_daily",
        "sortino_daily",
        "calmar_daily",
        "best_day",
        "worst_day",
        "max_consecutive_wins",
        "max_consecutive_losses",
        "trades_per_day",
        "drawdown_duration",
        "best_pair",
        "worst_pair",
        "market_change",
    ):
        assert key in m
