"""Futures inputs of the backtest kernel and the futures columns of its trades.

`run_backtest(trading_mode="futures")` calls the strategy's ``leverage`` callback once per
entry signal (at the candle the entry would fill on, with its open as ``current_rate``),
lays the funding rates on the candle grid (a funding time is a candle open time that is a
multiple of 8 h UTC) and turns the kernel's leverage, liquidation and funding columns into
trade columns. Spot runs never come here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from engine.margin.funding import FUNDING_INTERVAL_MS, FundingRates
from engine.margin.tiers import BINANCE_BTCUSDT, Tier, tier_arrays
from engine.strategy.interface import Strategy, StrategyError, call_strategy, exit_tag_at

if TYPE_CHECKING:
    from engine.backtest.runner import Grid
    from engine.backtest.trades import Trades

F64 = npt.NDArray[np.float64]


def check_leverage(leverage: float, max_leverage: float) -> None:
    """One line a user can act on for a leverage the risk limit refuses."""
    if not 1.0 <= max_leverage <= 125.0:
        raise ValueError(f"max leverage {max_leverage:g}: must be in [1, 125]")
    if not leverage >= 1.0:
        raise ValueError(f"leverage {leverage:g}: must be >= 1")
    if leverage > max_leverage:
        raise ValueError(f"leverage {leverage:g} is above the risk limit max_leverage "
                         f"{max_leverage:g}: lower --leverage or raise --max-leverage")


def leverage_matrix(strat: Strategy, grid: Grid, el: npt.NDArray[np.bool_],
                    es: npt.NDArray[np.bool_], enter_tags: Sequence[Any], leverage: float,
                    max_leverage: float, tiers: Sequence[Tier]) -> tuple[F64, int]:
    """(times, pairs) leverage of an entry filling on each candle (NaN where refused or
    no signal) and how many entries were refused for leverage above the limit."""
    n_t, n_p = grid.valid.shape
    lev = np.full((n_t, n_p), np.nan)
    cap = min(float(max_leverage), float(max(t.max_leverage for t in tiers)))
    custom = type(strat).leverage is not Strategy.leverage
    refused = 0
    for p, pair in enumerate(grid.pairs):
        rows = np.flatnonzero((el[:-1, p] | es[:-1, p]) & grid.valid[1:, p]) + 1
        if not custom:
            lev[rows, p] = leverage
            continue
        for t in rows:
            side = "long" if el[t - 1, p] else "short"
            tag = enter_tags[p]
            etag = exit_tag_at(tag, int(t - 1 - grid.offset[p])) if tag is not None else ""
            when = datetime.fromtimestamp((grid.t0_ms + int(t) * grid.step_ms) / 1000, UTC)
            v = call_strategy(strat, "leverage", pair=pair, current_time=when,
                              current_rate=float(grid.open[t, p]), proposed_leverage=leverage,
                              max_leverage=cap,
                              entry_tag=None if etag in ("", "exit_signal") else etag, side=side)
            try:
                f = float(v)
            except (TypeError, ValueError) as e:
                raise StrategyError(f"{strat.name}.leverage returned {v!r}, not a number") from e
            if not math.isfinite(f) or f < 1.0 or f > cap:
                refused += 1
                continue
            lev[t, p] = f
    return lev, refused


def funding_on_grid(grid: Grid, rates: FundingRates) -> F64:
    """Funding rate at each candle open time that is a funding time; NaN elsewhere."""
    times = grid.t0_ms + np.arange(grid.n_times, dtype=np.int64) * grid.step_ms
    out = np.full(grid.n_times, np.nan)
    for i in np.flatnonzero(times % FUNDING_INTERVAL_MS == 0):
        out[i] = rates.rate_at(int(times[i]))
    return out


def bracket_arrays(tiers: Sequence[Tier] | None) -> tuple[F64, ...]:
    return tier_arrays(tiers or BINANCE_BTCUSDT)


def add_futures_columns(trades: Trades, frec: F64) -> None:
    """Leverage, liquidation price and funding on the trades; profit includes funding
    and the ratio is over the margin put up (Freqtrade's leveraged profit ratio)."""
    from engine.backtest.core import F_FEE_OPEN, F_FUNDING, F_LEV, F_LIQ

    funding = np.round(frec[:, F_FUNDING], 8)
    trades.leverage = frec[:, F_LEV].copy()
    trades.liquidation_price = frec[:, F_LIQ].copy()
    trades.funding_fees = funding
    trades.profit_abs = np.round(trades.profit_abs + funding, 8)
    sign = np.where(trades.is_short, -1.0, 1.0)
    ov = trades.amount * trades.open_rate * (1.0 + sign * frec[:, F_FEE_OPEN])
    margin = ov / trades.leverage
    with np.errstate(divide="ignore", invalid="ignore"):
        trades.profit_ratio = np.where(margin != 0, trades.profit_abs / margin, 0.0)
