"""Binance USDⓈ-M liquidation price, isolated margin, one-way mode.

Binance's formula (https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93)
for one position, with TMM1 = UPNL1 = 0 in isolated mode and WB the isolated wallet
balance (the margin put up for this position):

    LP = (WB + cum - side * size * EP) / (size * MMR - side * size)

side = 1 long, -1 short; size the absolute quantity; EP the entry price; MMR and cum of
the bracket. The bracket is chosen by the notional AT THE LIQUIDATION PRICE: when that
differs from the entry's bracket, the FAQ says to recompute with the other bracket's MMR
and cum, which `liquidation_price` does. A result <= 0 means "no liquidation" (Binance
shows "--"): a 1x long can never be liquidated.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from numba import njit

from engine.margin.tiers import Tier, tier_for


def liquidation_price(side: int, size: Decimal, entry_price: Decimal, wallet_balance: Decimal,
                      mmr: Decimal, cum: Decimal) -> Decimal | None:
    """The formula for one bracket; None when the position cannot be liquidated."""
    if side not in (1, -1):
        raise ValueError("side is 1 (long) or -1 (short)")
    if size <= 0 or entry_price <= 0:
        raise ValueError("size and entry price must be positive")
    den = size * mmr - side * size
    lp = (wallet_balance + cum - side * size * entry_price) / den
    return lp if lp > 0 else None


def isolated_liquidation_price(side: int, size: Decimal, entry_price: Decimal,
                               margin: Decimal, tiers: Sequence[Tier]) -> Decimal | None:
    """LP with the bracket of the notional at LP (the FAQ's recompute rule)."""
    tier = tier_for(tiers, size * entry_price)
    seen: set[Decimal] = set()
    lp: Decimal | None = None
    while tier.floor not in seen:
        seen.add(tier.floor)
        lp = liquidation_price(side, size, entry_price, margin, tier.mmr, tier.cum)
        if lp is None:
            return None
        at_lp = tier_for(tiers, size * lp)
        if at_lp == tier:
            return lp
        tier = at_lp
    return lp


@njit(cache=True, nogil=True)
def liquidation_price_f(side: int, size: float, entry_price: float, margin: float,
                        floors, mmr, cum) -> float:
    """Float twin of `isolated_liquidation_price` for the backtest kernel (0.0: none)."""
    n = floors.shape[0]
    k = 0
    notional = size * entry_price
    for i in range(n):
        if floors[i] <= notional:
            k = i
    lp = 0.0
    for _ in range(n):
        lp = (margin + cum[k] - side * size * entry_price) / (size * mmr[k] - side * size)
        if lp <= 0.0:
            return 0.0
        j = 0
        for i in range(n):
            if floors[i] <= size * lp:
                j = i
        if j == k:
            return lp
        k = j
    return lp
