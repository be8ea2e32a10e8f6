"""Trades and orders of a backtest as rows: the reference files' ``*.orders.csv`` columns.

The order-level backtest (`engine.backtest.orders`) keeps every order; the market-order
kernel's trades have exactly two (the entry at the open rate, the exit at the close
rate), rebuilt here so ``--orders-out`` works for every strategy.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.backtest.trades import Trades
from engine.strategy.trade import Trade

if TYPE_CHECKING:
    from engine.backtest.runner import BacktestResult

ORDER_COLUMNS = ("pair", "trade_open_time", "seq", "side", "is_entry", "tag", "amount",
                 "price", "cost", "filled_time")


def _iso(ms: int) -> str:
    return str(np.datetime64(int(ms) // 1000, "s")) + "Z"


def trades_from_objects(closed: list[Trade], pairs: list[str]) -> Trades:
    """`Trades` columns from closed `Trade` objects (Freqtrade's exported fields:
    averaged open rate, the amount and stake before the final exit, profit_abs of the last
    exit) plus ``realized_profit``, the profit of all the trade's exits."""
    index = {s: i for i, s in enumerate(pairs)}
    n = len(closed)

    def col(f: Any, dtype: Any = np.float64) -> Any:
        return np.array([f(t) for t in closed], dtype=dtype) if n else np.zeros(0, dtype)

    return Trades(
        pair=col(lambda t: t.pair, object).astype(str),
        pair_index=col(lambda t: index[t.pair], np.int64),
        open_ms=col(lambda t: t.open_ms, np.int64),
        close_ms=col(lambda t: t.close_ms or 0, np.int64),
        open_rate=col(lambda t: t.open_rate),
        close_rate=col(lambda t: t.close_rate),
        profit_ratio=col(lambda t: t.close_profit),
        profit_abs=col(lambda t: t.close_profit_abs),
        amount=col(lambda t: t.amount),
        stake_amount=col(lambda t: t.stake_amount),
        exit_reason=col(lambda t: t.exit_reason, object).astype(str),
        is_short=np.zeros(n, dtype=np.bool_),
        is_open=np.zeros(n, dtype=np.bool_),
        enter_tag=col(lambda t: t.enter_tag or "", object).astype(str),
        fees=col(lambda t: sum(o.amount * o.price * o.fee for o in t.orders if o.filled)),
        realized_profit=col(lambda t: t.realized_profit),
    )


def order_rows(closed: list[Trade]) -> list[dict[str, Any]]:
    """Every filled order of every trade, in the trade's order sequence."""
    rows: list[dict[str, Any]] = []
    for t in closed:
        seq = 0
        for o in t.orders:
            if not o.filled or o.filled_ms is None:
                continue
            rows.append({
                "pair": t.pair, "trade_open_time": _iso(t.open_ms), "seq": seq,
                "side": o.side, "is_entry": o.is_entry, "tag": o.tag, "amount": o.amount,
                "price": o.price, "cost": o.cost, "filled_time": _iso(o.filled_ms),
            })
            seq += 1
    return rows


def kernel_order_rows(trades: Trades, fee: float, entry_tag: str = "") -> list[dict[str, Any]]:
    """The two orders of each market-order trade of the kernel."""
    rows: list[dict[str, Any]] = []
    for r in trades.rows():
        amount = float(r["stake_amount"]) / float(r["open_rate"]) if r["open_rate"] else 0.0
        amount = float(r["amount"]) if amount == 0.0 else amount
        for seq, (side, is_entry, tag, price, when) in enumerate((
            ("buy", True, entry_tag, r["open_rate"], r["open_time"]),
            ("sell", False, r["exit_reason"], r["close_rate"], r["close_time"]),
        )):
            rows.append({
                "pair": r["pair"], "trade_open_time": r["open_time"], "seq": seq,
                "side": side, "is_entry": is_entry, "tag": tag, "amount": amount,
                "price": price, "cost": amount * price * (1 + fee), "filled_time": when,
            })
    return rows


def result_orders(res: BacktestResult) -> list[dict[str, Any]]:
    """The run's orders: kept ones, else rebuilt from the kernel's trades."""
    if res.orders:
        return res.orders
    return kernel_order_rows(res.trades, float(res.config.get("fee", 0.0) or 0.0))


def write_orders_csv(res: BacktestResult, path: Path) -> int:
    """Write every filled order (reference ``*.orders.csv`` columns); returns the count."""
    rows = result_orders(res)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=ORDER_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return len(rows)
