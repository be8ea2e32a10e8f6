"""The portfolio backtest of `rebalance`: one basket over all the pairs, rebalanced to
its target weights periodically, on drift, or both (`engine.portfolio.rebalance`).

Why not the per-pair backtester: each pair's trade there is decided alone, while a
rebalance sells one pair to buy another in the same instant. Here the whole wallet is
the basket: on the first candle where every pair trades, the cash buys the targets at
the open; afterwards, at each candle's open (the decision uses only that price):

- ``every`` (e.g. ``1d``): rebalance on the candles whose open time is a multiple of the
  period (UTC: ``1d`` at 00:00);
- ``threshold`` (e.g. 0.05): rebalance when a weight is that far from its target;
- both: check the drift only at the periods.

Legs skip dust below ``min_trade``; fees are paid on every leg. Equity is marked at each
candle's close; buy-and-hold is the same first purchase never rebalanced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.data.candles import Candles, timeframe_ms
from engine.errors import DataError
from engine.portfolio.rebalance import Leg, apply_legs, drift, plan_rebalance, target_weights

F64 = npt.NDArray[np.float64]


@dataclass(slots=True)
class RebalanceResult:
    """Equity curves, weights over time, every leg and the summary numbers."""

    pairs: list[str]
    times: npt.NDArray[np.int64]  # candle open times (ms) of the common timeline
    equity: F64  # at each candle's close
    hold: F64  # buy-and-hold of the first purchase
    weights: F64  # (times, pairs) at each close
    targets: dict[str, float]
    legs: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


def _max_drawdown(eq: F64) -> float:
    peak = np.maximum.accumulate(eq)
    return float(np.max(1.0 - eq / peak)) if eq.size else 0.0


def run_rebalance(candles: Mapping[str, Candles], *, weights: Mapping[str, float] | None = None,
                  wallet: float = 10_000.0, fee: float = 0.001, min_trade: float = 10.0,
                  every: str | None = "1d", threshold: float | None = None) -> RebalanceResult:
    """Backtest the basket (see the module docstring). Raises `DataError` for unusable
    candles and `ValueError` for bad settings, each with a message a user can act on."""
    if not wallet > 0:
        raise ValueError("wallet must be positive")
    if not 0.0 <= fee < 0.1:
        raise ValueError(f"fee {fee:g}: must be a fraction in [0, 0.1)")
    if min_trade < 0:
        raise ValueError("min_trade cannot be negative")
    if every is None and threshold is None:
        raise ValueError("rebalance needs a period (every), a drift threshold, or both")
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold {threshold}: a weight gap in (0, 1), e.g. 0.05")
    pairs = list(candles)
    targets = target_weights(pairs, weights)
    tfs = {c.timeframe for c in candles.values()}
    if len(tfs) != 1:
        raise DataError(f"pairs have different timeframes: {sorted(tfs)}")
    step = timeframe_ms(tfs.pop())
    period = timeframe_ms(every) if every else 0
    if period and period % step:
        raise ValueError(f"period {every} is not a multiple of the candles' timeframe")
    # the common timeline: candles where every pair traded
    common = set(candles[pairs[0]].open_time.tolist())
    for p in pairs[1:]:
        common &= set(candles[p].open_time.tolist())
    times = np.array(sorted(common), dtype=np.int64)
    if times.size < 2:
        raise DataError("the pairs share fewer than two candles: nothing to rebalance")
    op, cl = (np.empty((times.size, len(pairs))) for _ in range(2))
    for j, p in enumerate(pairs):
        c = candles[p]
        idx = np.searchsorted(c.open_time, times)
        op[:, j], cl[:, j] = c.open[idx], c.close[idx]

    hold_h: dict[str, float] = {}
    cash, fees = float(wallet), 0.0
    hold_cash = cash
    h: dict[str, float] = {}
    legs: list[dict[str, Any]] = []
    rebalances = 0
    hv = np.zeros((times.size, len(pairs)))
    cash_t = np.zeros(times.size)
    for t in range(times.size):
        prices = {p: float(op[t, j]) for j, p in enumerate(pairs)}
        due = t == 0
        if not due:
            at_period = bool(period) and int(times[t]) % period == 0
            if period and not at_period:
                due = False
            elif threshold is not None:
                due = drift(h, cash, prices, targets) >= threshold
            else:
                due = at_period
        if due:
            plan: list[Leg] = plan_rebalance(h, cash, prices, targets, fee=fee,
                                             min_trade=min_trade)
            if plan:
                cash, paid = apply_legs(h, cash, plan, fee)
                fees += paid
                rebalances += 1
                legs.extend({"time": int(times[t]), "pair": leg.symbol, "side": leg.side,
                             "amount": leg.amount, "price": leg.price,
                             "notional": leg.notional} for leg in plan)
            if t == 0:
                hold_h = dict(h)
                hold_cash = cash
        hv[t] = [h.get(p, 0.0) for p in pairs]
        cash_t[t] = cash
    values = hv * cl
    equity = cash_t + values.sum(axis=1)
    hold = hold_cash + (cl * np.array([hold_h.get(p, 0.0) for p in pairs])).sum(axis=1)
    w = values / equity[:, None]
    turnover = sum(x["notional"] for x in legs if x["time"] > int(times[0])) / float(
        np.mean(equity))
    days = (int(times[-1]) - int(times[0]) + step) / 86_400_000
    m = {
        "start": int(times[0]), "end": int(times[-1]) + step, "days": days,
        "final_equity": float(equity[-1]),
        "profit_total_abs": float(equity[-1] - wallet),
        "profit_total": float(equity[-1] / wallet - 1),
        "max_drawdown": _max_drawdown(equity),
        "rebalances": rebalances, "legs": len(legs), "fees": fees,
        "turnover": turnover,
        "buy_and_hold_profit": float(hold[-1] / wallet - 1),
        "buy_and_hold_max_drawdown": _max_drawdown(hold),
    }
    cfg = {"weights": targets, "wallet": wallet, "fee": fee, "min_trade": min_trade,
           "every": every, "threshold": threshold}
    return RebalanceResult(pairs, times, equity, hold, w, targets, legs, m, cfg)
