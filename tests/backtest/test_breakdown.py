"""The report's tables: per pair / exit reason / entry tag, fees and buy-and-hold."""

from __future__ import annotations

import numpy as np

from engine.backtest import run_backtest
from engine.data.candles import Candles


def test_breakdown_adds_up(testdata: dict[str, Candles]) -> None:
    res = run_backtest(testdata, "ema_rsi_cross", stake=0.05, fee=0.001, stoploss=-0.02,
                       wallet=1.0)
    b = res.breakdown
    tr = res.trades
    total = float(tr.profit_abs.sum())
    for key in ("per_pair", "per_exit_reason", "per_entry_tag"):
        rows = b[key]
        assert sum(r["trades"] for r in rows) == len(tr)
        assert abs(sum(r["profit_total_abs"] for r in rows) - total) < 1e-6
    reasons = {r["key"]: r["trades"] for r in b["per_exit_reason"]}
    assert reasons == res.metrics["exit_reasons"]
    assert {r["key"] for r in b["per_pair"]} == set(res.pairs)
    # fees: 0.1 % of every order's value, entry and exit
    fees = float((tr.amount * tr.open_rate * 0.001 + tr.amount * tr.close_rate * 0.001).sum())
    assert abs(b["fees"]["total"] - fees) < 1e-7
    assert abs(b["fees"]["profit_before_fees"] - (total + fees)) < 1e-7
    assert total < 0 and abs(b["fees"]["share_of_loss"] - fees / -total) < 1e-3
    # buy and hold over the same candles is Freqtrade's market change
    assert abs(b["buy_and_hold"]["profit_total_pct"] / 100 - res.metrics["market_change"]) < 1e-6
    assert res.to_json()["breakdown"] == b


def test_breakdown_entry_tags_of_order_strategies(testdata: dict[str, Candles]) -> None:
    res = run_backtest(testdata, "ema_rsi_dca", stake=0.05, wallet=1.0, max_open_trades=10)
    tags = [r["key"] for r in res.breakdown["per_entry_tag"]]
    assert tags == ["ema_cross_up"]
    fees = sum(o["amount"] * o["price"] * 0.001 for o in res.orders)
    assert abs(res.breakdown["fees"]["total"] - fees) < 1e-8  # rounded to 8 places
    assert res.trades.fees is not None and np.all(res.trades.fees > 0)
