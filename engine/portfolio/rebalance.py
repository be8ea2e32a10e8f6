"""Portfolio rebalancing: the legs that bring a basket back to its target weights.

Rebalancing is a decision about the whole basket at once (one pair's buy is paid by
another's sell), which Freqtrade's per-pair strategy interface cannot express. So it is
a plain function of the holdings, the cash, the prices and the targets: the portfolio
backtest (`engine.backtest.rebalance`) calls it on each rebalancing candle, and a live
rebalancing bot would call it on the wallet to make ONE proposal listing every leg.

Rules (what a trader expects from Shrimpy/3Commas-style rebalancing):
- weights: 1/N over the pairs, or given target weights (normalised to sum to 1, or to
  less than 1 with the rest kept in the quote currency);
- ``drift`` is the largest absolute gap between a pair's weight and its target;
- sells first, then buys paid from the cash the sells freed, fees counted on both (a
  buy of notional x costs x x (1 + fee), a sell of x brings x x (1 - fee)); when the cash
  cannot pay every buy, the buys are scaled down together;
- a leg whose notional is below ``min_trade`` (quote) is skipped (exchanges refuse dust,
  and tiny legs are mostly fees).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Leg:
    """One order of a rebalance: ``amount`` of base at ``price``."""

    symbol: str
    side: str  # "buy" | "sell"
    amount: float
    price: float

    @property
    def notional(self) -> float:
        return self.amount * self.price


def target_weights(symbols: Sequence[str],
                   weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """1/N over `symbols`, or `weights` checked: every symbol named, none negative, a
    sum in (0, 1] (a sum above 1 is normalised to 1)."""
    if not symbols:
        raise ValueError("rebalancing needs at least one pair")
    if not weights:
        return {s: 1.0 / len(symbols) for s in symbols}
    unknown = sorted(set(weights) - set(symbols))
    if unknown:
        raise ValueError(f"weights name pairs outside the basket: {', '.join(unknown)}")
    w = {s: float(weights.get(s, 0.0)) for s in symbols}
    if any(v < 0 or v != v for v in w.values()):
        raise ValueError("target weights cannot be negative")
    total = sum(w.values())
    if total <= 0:
        raise ValueError("target weights sum to zero")
    return {s: v / total for s, v in w.items()} if total > 1.0 else w


def weights_of(holdings: Mapping[str, float], cash: float,
               prices: Mapping[str, float]) -> dict[str, float]:
    """Each pair's share of the equity (cash included in the equity)."""
    values = {s: holdings.get(s, 0.0) * prices[s] for s in prices}
    equity = cash + sum(values.values())
    return {s: (v / equity if equity > 0 else 0.0) for s, v in values.items()}


def drift(holdings: Mapping[str, float], cash: float, prices: Mapping[str, float],
          targets: Mapping[str, float]) -> float:
    """The largest absolute gap between a weight and its target."""
    w = weights_of(holdings, cash, prices)
    return max(abs(w[s] - targets[s]) for s in targets)


def plan_rebalance(holdings: Mapping[str, float], cash: float,
                   prices: Mapping[str, float], targets: Mapping[str, float], *,
                   fee: float = 0.001, min_trade: float = 10.0) -> list[Leg]:
    """The legs (sells first) that move the basket to `targets` at `prices`."""
    equity = cash + sum(holdings.get(s, 0.0) * prices[s] for s in targets)
    gaps = {s: targets[s] * equity - holdings.get(s, 0.0) * prices[s] for s in targets}
    sells = [Leg(s, "sell", min(-g / prices[s], holdings.get(s, 0.0)), prices[s])
             for s, g in gaps.items() if g < 0 and -g >= min_trade]
    freed = cash + sum(leg.notional * (1 - fee) for leg in sells)
    wanted = {s: g for s, g in gaps.items() if g > 0 and g >= min_trade}
    cost = sum(wanted.values()) * (1 + fee)
    scale = min(1.0, freed / cost) if cost > 0 else 0.0
    buys = [Leg(s, "buy", g * scale / prices[s], prices[s]) for s, g in wanted.items()
            if g * scale >= min_trade]
    return [*sells, *buys]


def apply_legs(holdings: dict[str, float], cash: float, legs: Sequence[Leg],
               fee: float) -> tuple[float, float]:
    """Book `legs` into `holdings` (in place); returns (cash after, fees paid)."""
    fees = 0.0
    for leg in legs:
        f = leg.notional * fee
        fees += f
        if leg.side == "sell":
            holdings[leg.symbol] = max(0.0, holdings.get(leg.symbol, 0.0) - leg.amount)
            cash += leg.notional - f
        else:
            holdings[leg.symbol] = holdings.get(leg.symbol, 0.0) + leg.amount
            cash -= leg.notional + f
    return cash, fees
