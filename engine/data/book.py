"""Order-book arithmetic on a streamed book (`engine.data.stream.BookTop`).

`walk` is what a market order would get against the levels shown: it takes the asks
(a buy) or the bids (a sell) best first until `amount` is filled, and returns the
average price, the amount filled and the worst level touched. A paper broker fills a
market order at that price instead of the last trade plus a fixed slippage when a book
is streamed; a strategy reads the spread and depth with `spread_bps` / `depth_within`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.data.stream import BookTop


@dataclass(frozen=True, slots=True)
class BookFill:
    average: Decimal
    filled: Decimal
    worst: Decimal
    complete: bool  # False: the levels shown hold less than the amount


def walk(book: BookTop, side: str, amount: Decimal) -> BookFill | None:
    """The fill of a market `side` order of `amount` base against `book`; None when
    that side of the book is empty. Decimal throughout: this prices real money."""
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be buy or sell, not {side!r}")
    if amount <= 0:
        raise ValueError("amount must be positive")
    levels = book.asks if side == "buy" else book.bids
    if not levels:
        return None
    left, cost = amount, Decimal(0)
    worst = Decimal(repr(levels[0][0]))
    for price, size in levels:
        if left <= 0:
            break
        p, q = Decimal(repr(price)), Decimal(repr(size))
        take = min(left, q)
        if take <= 0:
            continue
        cost += take * p
        left -= take
        worst = p
    filled = amount - left
    if filled <= 0:
        return None
    return BookFill(cost / filled, filled, worst, left <= 0)


def spread_bps(book: BookTop) -> float | None:
    """(best ask - best bid) / mid in basis points; None without both sides."""
    if not book.bids or not book.asks:
        return None
    bid, ask = book.bids[0][0], book.asks[0][0]
    mid = (bid + ask) / 2
    return (ask - bid) / mid * 10_000 if mid > 0 else None


def depth_within(book: BookTop, side: str, pct: float) -> float:
    """Base amount resting on `side` ("bids" or "asks") within `pct` % of the best
    price on that side."""
    levels = book.bids if side == "bids" else book.asks
    if not levels:
        return 0.0
    best = levels[0][0]
    lim = best * (1 - pct / 100) if side == "bids" else best * (1 + pct / 100)
    return sum(q for p, q in levels if (p >= lim if side == "bids" else p <= lim))
