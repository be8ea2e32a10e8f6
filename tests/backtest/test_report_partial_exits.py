"""The report's profit includes partial exits: Freqtrade's exported profit_abs keeps only
the last exit's profit of a trade that sold part of its position earlier (kept for
parity), the report, its tables, drawdown and JSON use the profit of every exit."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from engine.backtest import run_backtest
from engine.backtest.breakdown import print_breakdown
from engine.backtest.metrics import compute_metrics
from engine.backtest.report import render_report_png, write_trades_csv
from engine.backtest.trades import EXPORT_COLUMNS, TRADE_COLUMNS
from engine.data.candles import Candles
from tests.backtest.helpers import Scripted, candles

FEE = 0.001


class SellsPart(Scripted):
    """Sells 30 % of the stake once the trade is 5 % up, then exits on the signal."""

    position_adjustment_enable = True
    stoploss = -0.5

    def adjust_trade_position(self, trade: Any, current_time: Any, current_rate: float,
                              current_profit: float, *args: Any, **kwargs: Any) -> Any:
        if trade.nr_of_successful_exits == 0 and current_profit > 0.05:
            return -(trade.stake_amount * 0.3), "part"
        return None


def _one_partial_exit() -> Any:
    # entry at 13 (stake 100: 100/13 units); the partial exit at 15.6 sells 30/13 units
    # (30 % of the stake at the open rate); the exit signal sells the other 70/13 at 14.3.
    # Float amounts leave a remainder, so Freqtrade's close_profit_abs is the last exit's.
    c = candles("X/USDT", [13.0, 13.0, 15.6, 14.3, 14.3])
    strat = SellsPart({"X/USDT": {"enter_long": [0], "exit_long": [3]}})
    return run_backtest({"X/USDT": c}, strat, stake=100.0, fee=FEE, wallet=10_000.0)


def test_one_partial_exit_realised_profit_by_hand(tmp_path: Path) -> None:
    res = _one_partial_exit()
    assert [(o["tag"], o["price"]) for o in res.orders] == [
        ("", 13.0), ("part", 15.6), ("exit_signal", 14.3)]
    # each exit: its close value less the averaged open value of what it sells, fees in
    part = 36.0 * (1 - FEE) - 30.0 * (1 + FEE)  # (30/13) x 15.6 = 36, (30/13) x 13 = 30
    last = 77.0 * (1 - FEE) - 70.0 * (1 + FEE)  # (70/13) x 14.3 = 77, (70/13) x 13 = 70
    assert part == pytest.approx(5.934) and last == pytest.approx(6.853)
    tr = res.trades
    assert tr.profit_abs[0] == pytest.approx(last, abs=1e-8)  # Freqtrade's figure
    assert tr.realised()[0] == pytest.approx(part + last, abs=1e-8)
    assert tr.profit_ratio[0] == pytest.approx((part + last) / (100 * (1 + FEE)), abs=1e-8)

    m = res.metrics
    assert m["profit_total_abs"] == pytest.approx(part + last, abs=1e-8)
    assert m["final_balance"] == pytest.approx(10_000 + part + last, abs=1e-8)
    assert m["profit_total_abs_freqtrade"] == pytest.approx(last, abs=1e-8)
    assert m["partial_exit_trades"] == 1 and m["profit_basis"] == "realised"
    ft = compute_metrics(res, basis="freqtrade")
    assert ft["profit_total_abs"] == pytest.approx(last, abs=1e-8)
    assert res.breakdown["per_pair"][0]["profit_total_abs"] == pytest.approx(part + last)

    # the screen says so in one line
    buf = io.StringIO()
    print_breakdown(res.breakdown, Console(file=buf, width=300))
    lines = [ln for ln in buf.getvalue().splitlines() if "partial exits" in ln]
    assert lines == ["1 trades had partial exits: Freqtrade's profit_abs counts only their "
                     "last exit (total +6.853); realised including partial exits: +12.787"]

    # --trades-out: the reference's columns unchanged, realized_profit trailing
    rows = list(csv.reader(write_trades_csv(res, tmp_path / "t.csv").open()))
    assert tuple(rows[0]) == EXPORT_COLUMNS and tuple(rows[0][:-1]) == TRADE_COLUMNS
    assert float(rows[1][TRADE_COLUMNS.index("profit_abs")]) == pytest.approx(last, abs=1e-8)
    assert float(rows[1][-1]) == pytest.approx(part + last, abs=1e-8)
    assert res.to_json()["trades"][0]["realized_profit"] == pytest.approx(part + last)
    assert render_report_png(res, dpi=30)[:4] == b"\x89PNG"


def test_no_partial_exit_means_no_line_and_equal_figures() -> None:
    c = candles("X/USDT", [13.0, 13.0, 14.3, 14.3, 14.3])
    res = run_backtest({"X/USDT": c}, Scripted({"X/USDT": {"enter_long": [0], "exit_long": [2]}}),
                       stake=100.0, fee=FEE, wallet=10_000.0)
    assert np.array_equal(res.trades.realised(), res.trades.profit_abs)
    assert res.metrics["partial_exit_trades"] == 0 and res.breakdown["partial_exits"] is None


def _cash_flow(orders: list[dict[str, Any]], fee: float) -> float:
    """Sells less buys of every filled order, fees included."""
    total = 0.0
    for o in orders:
        v = float(o["amount"]) * float(o["price"])
        total += -v * (1 + fee) if o["is_entry"] else v * (1 - fee)
    return total


def test_grid_report_total_is_the_cash_flow_of_its_orders(binance: dict[str, Candles]) -> None:
    """A month of the five 2025 pairs: every grid level is a partial exit, so Freqtrade's
    profit_abs total is far off; the report's total is what the orders paid and got."""
    start = min(int(c.open_time[0]) for c in binance.values())
    data = {p: c.between(start, start + 30 * 86_400_000) for p, c in binance.items()}
    res = run_backtest(data, "grid", stake=1000.0, fee=FEE, wallet=10_000.0,
                       max_open_trades=5)
    assert res.metrics["partial_exit_trades"] > 0
    flow = _cash_flow(res.orders, FEE)
    total = res.metrics["profit_total_abs"]
    assert abs(total - flow) <= 1e-9 * max(1.0, abs(flow))
    assert abs(res.metrics["profit_total_abs_freqtrade"] - flow) > 1e-6 * max(1.0, abs(flow))
    # the drawdown and the tables use the same figure
    assert sum(r["profit_total_abs"] for r in res.breakdown["per_pair"]) == pytest.approx(
        total, abs=1e-6)


def test_the_wallet_that_sizes_stakes_books_the_partial_exits() -> None:
    """A stake of 1 % of the wallet: the trade after the one with a partial exit is sized
    on the wallet plus BOTH exits' profit (Freqtrade's wallet would book the last only)."""
    c = candles("X/USDT", [13.0, 13.0, 15.6, 14.3, 14.3, 14.3, 14.3])
    strat = SellsPart({"X/USDT": {"enter_long": [0, 4], "exit_long": [3, 5]}})
    res = run_backtest({"X/USDT": c}, strat, stake="1%", fee=FEE, wallet=10_000.0)
    assert len(res.trades) == 2
    first = res.trades.realised()[0]
    assert first == pytest.approx(12.787, abs=1e-8)
    assert res.trades.stake_amount[1] == pytest.approx(0.01 * (10_000.0 + first), rel=1e-12)
