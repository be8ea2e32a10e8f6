"""Position math shared by the paper futures broker, the backtester and live alerts."""

from __future__ import annotations

from decimal import Decimal


def initial_margin(notional: Decimal, leverage: Decimal) -> Decimal:
    """The isolated margin a position of this notional locks: notional / leverage."""
    if leverage < 1:
        raise ValueError(f"leverage {leverage} must be >= 1")
    return abs(notional) / leverage


def position_amount(margin: Decimal, leverage: Decimal, price: Decimal) -> Decimal:
    """Quantity bought (or sold short) with `margin` at `leverage`: margin * lev / price."""
    if price <= 0:
        raise ValueError("price must be positive")
    return margin * leverage / price


def unrealized_pnl(side: int, size: Decimal, entry_price: Decimal, price: Decimal) -> Decimal:
    """side * size * (price - entry): shorts gain when the price falls."""
    return side * abs(size) * (price - entry_price)


def liquidation_distance(side: int, mark_price: Decimal, liq_price: Decimal) -> Decimal:
    """How far the mark may still move against the position, as a fraction of the mark
    (0.05 = 5 %); <= 0 means the liquidation price is reached."""
    if mark_price <= 0:
        raise ValueError("mark price must be positive")
    gap = mark_price - liq_price if side == 1 else liq_price - mark_price
    return gap / mark_price
