"""Trade-for-trade and order-for-order parity with Freqtrade on the two order-level
reference strategies (limit entries with a time-out, ROI, trailing stop; DCA and a
partial exit). Lists from Freqtrade 2026.9; see ../shared/data/reference/README.md."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from engine.backtest import run_backtest
from engine.backtest.orderlog import ORDER_COLUMNS, write_orders_csv
from engine.data.candles import Candles
from tests.backtest.conftest import REF, need

FLOATS = ("open_rate", "close_rate", "profit_ratio", "profit_abs", "amount", "stake_amount")
ORDER_FLOATS = ("amount", "price", "cost")


def _run(name: str, strategy: str, testdata: dict[str, Candles]) -> tuple[Any, list, list]:
    trades = list(csv.DictReader(need(REF / f"{name}.csv").open()))
    orders = list(csv.DictReader(need(REF / f"{name}.orders.csv").open()))
    res = run_backtest(testdata, strategy, stake=0.05, fee=0.001, max_open_trades=10,
                       wallet=1.0)
    return res, trades, orders


def _compare_trades(ref: list[dict[str, str]], ours: list[dict[str, Any]]) -> None:
    assert len(ours) == len(ref)
    theirs = {(r["open_time"], r["pair"]): r for r in ref}
    mine = {(r["open_time"], r["pair"]): r for r in ours}
    assert set(theirs) == set(mine)
    bad = []
    for k, a in theirs.items():
        b = mine[k]
        diff = [f for f in ("close_time", "exit_reason") if a[f] != str(b[f])]
        diff += [f for f in FLOATS if abs(float(a[f]) - b[f]) > 1e-9]
        diff += ["is_open"] if (a["is_open"] == "True") != b["is_open"] else []
        if diff:
            bad.append((k, {f: (a[f], b[f]) for f in diff}))
    assert not bad, f"{len(bad)} trades differ, first: {bad[:3]}"


def _compare_orders(ref: list[dict[str, str]], ours: list[dict[str, Any]]) -> None:
    assert len(ours) == len(ref)

    def key(r: dict[str, Any]) -> tuple[str, str, int]:
        return (r["pair"], r["trade_open_time"], int(r["seq"]))

    theirs = {key(r): r for r in ref}
    mine = {key(r): r for r in ours}
    assert set(theirs) == set(mine)
    bad = []
    for k, a in theirs.items():
        b = mine[k]
        diff = [f for f in ("side", "tag", "filled_time") if a[f] != str(b[f])]
        diff += ["is_entry"] if (a["is_entry"] == "True") != b["is_entry"] else []
        diff += [f for f in ORDER_FLOATS if abs(float(a[f]) - b[f]) > 1e-9]
        if diff:
            bad.append((k, {f: (a[f], b[f]) for f in diff}))
    assert not bad, f"{len(bad)} orders differ, first: {bad[:3]}"


def _summary(name: str, res: Any) -> None:
    """Freqtrade's summary from the metrics on Freqtrade's profit_abs (the run's own
    metrics use the realised profit including partial exits; see engine.backtest.metrics)."""
    from engine.backtest.metrics import compute_metrics
    from tests.backtest.test_parity import SUMMARY_KEYS

    s = json.loads((REF / f"{name}.summary.json").read_text())
    m = compute_metrics(res, basis="freqtrade")
    off = {k: (s[k], m[k]) for k in SUMMARY_KEYS if abs(s[k] - m[k]) > 1e-6}
    assert not off, off
    assert m["holding_avg"] == s["holding_avg"]
    reasons = {k: v for k, v in s["exit_reasons"].items() if k != "TOTAL"}
    assert m["exit_reasons"] == reasons
    assert m["total_trades"] == s["total_trades"]
    assert abs(m["profit_total_abs"] - s["profit_total_abs"]) < 1e-8
    assert abs(res.metrics["profit_total_abs_freqtrade"] - s["profit_total_abs"]) < 1e-8
    assert res.metrics["timedout_entry_orders"] == s["timedout_entry_orders"]
    assert res.metrics["timedout_exit_orders"] == s["timedout_exit_orders"]


def test_parity_emarsitrail(testdata: dict[str, Candles], tmp_path: Path) -> None:
    """1,012 trades / 2,024 orders: limit entries at 0.998 x open (351 time out after
    10 minutes), limit exits, ROI rates on the price step, trailing stop."""
    name = "freqtrade_emarsitrail_testdata5m"
    res, trades, orders = _run(name, "ema_rsi_trail", testdata)
    _compare_trades(trades, res.trades.rows())
    _compare_orders(orders, res.orders)
    _summary(name, res)
    # --orders-out writes the same rows in the reference's columns
    out = tmp_path / "orders.csv"
    assert write_orders_csv(res, out) == len(orders)
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == ORDER_COLUMNS
    _compare_orders(orders, [{**r, "is_entry": r["is_entry"] == "True",
                              **{f: float(r[f]) for f in ORDER_FLOATS}} for r in rows])


def test_parity_emarsidca(testdata: dict[str, Candles]) -> None:
    """1,363 trades / 2,947 orders: safety orders and one partial exit per trade through
    adjust_trade_position; averaged open rate and realised profit."""
    name = "freqtrade_emarsidca_testdata5m"
    res, trades, orders = _run(name, "ema_rsi_dca", testdata)
    _compare_trades(trades, res.trades.rows())
    _compare_orders(orders, res.orders)
    _summary(name, res)
    tags = [o["tag"] for o in res.orders]
    assert tags.count("take_half") == 137 and tags.count("safety") == 84


@pytest.mark.parametrize("strategy", ["ema_rsi_trail", "ema_rsi_dca"])
def test_order_strategies_use_the_order_backtest(strategy: str) -> None:
    from engine.strategy.registry import get_strategy

    assert get_strategy(strategy).uses_orders()
    assert not get_strategy("ema_rsi_cross").uses_orders()
