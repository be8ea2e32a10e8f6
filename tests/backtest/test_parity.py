"""Trade-for-trade parity with Freqtrade's own backtester (reference lists produced by
Freqtrade 2026.9 on the same candles; see ../shared/data/reference/README.md)."""

from __future__ import annotations

import csv
import json
from typing import Any

import pytest

from engine.backtest import run_backtest
from engine.data.candles import Candles
from tests.backtest.conftest import REF, need

FLOATS = ("open_rate", "close_rate", "profit_ratio", "profit_abs", "amount", "stake_amount")
SUMMARY_KEYS = (
    "total_trades",
    "profit_total",
    "profit_total_abs",
    "max_drawdown_account",
    "max_drawdown_abs",
    "max_relative_drawdown",
    "wins",
    "losses",
    "draws",
    "winrate",
    "profit_factor",
    "expectancy",
    "expectancy_ratio",
    "sharpe",
    "sortino",
    "calmar",
    "sqn",
    "cagr",
    "market_change",
    "starting_balance",
    "final_balance",
    "trade_count_long",
)


def compare(
    name: str, candles: dict[str, Candles], stoploss: float, stake: float, wallet: float
) -> None:
    ref = list(csv.DictReader(need(REF / f"{name}.csv").open()))
    summary = json.loads((REF / f"{name}.summary.json").read_text())
    res = run_backtest(
        candles,
        "ema_rsi_cross",
        stake=stake,
        fee=0.001,
        stoploss=stoploss,
        max_open_trades=-1,
        wallet=wallet,
    )
    ours = res.trades.rows()
    assert len(ours) == len(ref) == summary["total_trades"]

    def key(r: dict[str, Any]) -> tuple[str, str]:
        return (r["open_time"], r["pair"])

    theirs = {key(r): r for r in ref}
    mine = {key(r): r for r in ours}
    assert set(theirs) == set(mine)
    mismatches = []
    for k, a in theirs.items():
        b = mine[k]
        bad = [f for f in ("close_time", "exit_reason") if a[f] != str(b[f])]
        bad += [f for f in FLOATS if abs(float(a[f]) - b[f]) > 1e-9]
        bad += ["is_open"] if (a["is_open"] == "True") != b["is_open"] else []
        if bad:
            mismatches.append((k, {f: (a[f], b[f]) for f in bad}))
    assert not mismatches, f"{len(mismatches)} trades differ, first: {mismatches[:3]}"
    m = res.metrics
    off = {k: (summary[k], m[k]) for k in SUMMARY_KEYS if abs(summary[k] - m[k]) > 1e-6}
    assert not off, off
    assert m["holding_avg"] == summary["holding_avg"]
    assert m["backtest_start"] == summary["backtest_start"]
    assert m["backtest_end"] == summary["backtest_end"]
    reasons = {k: v for k, v in summary["exit_reasons"].items() if k != "TOTAL"}
    assert m["exit_reasons"] == reasons


def test_parity_testdata_sl10(testdata: dict[str, Candles]) -> None:
    compare("freqtrade_ema_rsi_testdata5m_sl10", testdata, -0.10, 0.05, 1.0)


def test_parity_testdata_sl2(testdata: dict[str, Candles]) -> None:
    """The -2 % stop fires 123 times: exercises stop price rounding and fill rules."""
    compare("freqtrade_ema_rsi_testdata5m_sl2", testdata, -0.02, 0.05, 1.0)


@pytest.mark.slow
def test_parity_binance_599k(binance: dict[str, Candles]) -> None:
    compare("freqtrade_ema_rsi_binance5m_sl10", binance, -0.10, 1000.0, 100_000.0)
